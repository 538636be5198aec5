"""Release alerts on the catalog's side: what is announced (releases.py) and the scheduled
check of watched titles (release_check.py) against the sandbox, its leases and its events."""

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import orjson
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session
from starlette.applications import Starlette

from catalog import release_check
from catalog.config import CatalogSettings
from catalog.release_check import ReleaseChecker
from catalog.releases import CalendarEntry, RegionFacts, advance, calendar_entries
from catalog.service import Catalog
from shared.db import make_engine

MakeCatalog = Callable[..., Catalog]
TODAY = date(2026, 12, 6)
NETFLIX = (8, ("Netflix", "/n.png"))
PRIME = (9, ("Prime", None))


def _facts(
    theatrical: date | None = None, digital: date | None = None, streaming: tuple = ()
) -> RegionFacts:  # type: ignore[type-arg]
    return RegionFacts(theatrical=theatrical, digital=digital, streaming=dict(streaming))


def test_a_release_date_reached_is_announced_once() -> None:
    opening = TODAY + timedelta(days=3)
    state, first = advance({}, {"US": _facts(opening)}, today=TODAY)
    assert first == []  # not out yet
    state, reached = advance(state, {"US": _facts(opening)}, today=opening)
    assert [(a.region, a.kind, a.available_on) for a in reached] == [("US", "theatrical", opening)]
    _, again = advance(state, {"US": _facts(opening)}, today=opening)
    assert again == []


def test_what_the_first_look_finds_out_already_is_not_announced() -> None:
    long_ago = TODAY - timedelta(days=400)
    state, found = advance({}, {"US": _facts(long_ago, long_ago)}, today=TODAY)
    assert found == [] and state["US"]["announced"] == ["digital", "theatrical"]


def test_a_service_is_announced_when_it_arrives_after_the_first_look() -> None:
    state, first = advance({}, {"US": _facts(streaming=(NETFLIX,))}, today=TODAY)
    assert first == [] and state["US"]["streaming"]["8"]["since"] is None  # there already
    disney = (337, ("Disney Plus", None))
    state, arrived = advance(
        state,
        {"US": _facts(streaming=(NETFLIX, disney)), "FR": _facts(streaming=(disney,))},
        today=TODAY,
    )
    # FR is looked at for the first time: what is there is not news
    assert [(a.region, a.kind, a.provider_id) for a in arrived] == [("US", "streaming", 337)]
    assert state["US"]["streaming"]["337"]["since"] == TODAY.isoformat()
    state, gone = advance(state, {"US": _facts()}, today=TODAY)
    assert gone == [] and state["US"]["streaming"] == {} and "FR" not in state


def test_calendar_entries_are_the_dates_in_the_span_and_the_users_services() -> None:
    state, _ = advance(
        {"US": {"theatrical": None, "digital": None, "streaming": {}, "announced": []}},
        {"US": _facts(TODAY, TODAY + timedelta(days=60), streaming=(NETFLIX, PRIME))},
        today=TODAY,
    )
    entries = calendar_entries(
        7,
        state["US"],
        providers=(8,),
        start=TODAY,
        end=TODAY + timedelta(days=30),
        logo_url=lambda path: f"https://img{path}" if path else None,
    )
    assert [(e.kind, e.on, e.provider) for e in entries] == [
        ("theatrical", TODAY, None),
        ("streaming", TODAY, {"id": 8, "name": "Netflix", "logo_url": "https://img/n.png"}),
    ]


# --- the scheduled check, against the sandbox ----------------------------------------------
@pytest.fixture
def engine(catalog_settings: CatalogSettings) -> Iterator[Engine]:
    engine = make_engine(catalog_settings.database_url)
    with engine.begin() as connection:
        for table in ("outbox_event", "release_watch", "release_check"):
            connection.execute(text(f"DELETE FROM {table}"))
    yield engine
    engine.dispose()


@pytest.fixture
def world(sandbox_app: Starlette) -> Iterator[object]:
    world = sandbox_app.state.world
    yield world
    world.releases.clear()


def _checker(make_catalog: MakeCatalog, sandbox_app: Starlette, engine: Engine) -> ReleaseChecker:
    catalog = make_catalog(httpx.ASGITransport(app=sandbox_app))
    return ReleaseChecker(tmdb=catalog.tmdb, engine=engine, settings=catalog.settings)


def _watch(engine: Engine, movie_id: int, *, at: datetime | None = None) -> uuid.UUID:
    user_id = uuid.uuid4()
    with Session(engine) as session:
        release_check.watch(
            session,
            user_id=user_id,
            movie_id=movie_id,
            list_="watchlist",
            at=at or datetime.now(UTC),
        )
        session.commit()
    return user_id


def _due_now(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE release_check SET next_check_at = now()"))


def _announced(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT content FROM outbox_event WHERE type = 'catalog.release.available'"
                " ORDER BY id"
            )
        )
        return [orjson.loads(bytes(row[0]))["data"] for row in rows]


def _upcoming(world: object, region: str = "US") -> int:
    found, _, _ = world.upcoming(region)  # type: ignore[attr-defined]
    return int(found[-1])


async def test_the_check_announces_a_release_once_and_a_new_service_once(
    make_catalog: MakeCatalog, sandbox_app: Starlette, engine: Engine, world: object
) -> None:
    checker = _checker(make_catalog, sandbox_app, engine)
    movie_id = _upcoming(world)
    _watch(engine, movie_id)
    assert await checker.check_due() == 1
    assert _announced(engine) == []  # the first look: not out yet
    assert await checker.check_due() == 0  # not due again before the interval

    world.releases.available_now(movie_id, "US", "theatrical")  # type: ignore[attr-defined]
    _due_now(engine)
    await checker.check_due()
    [theatrical] = _announced(engine)
    assert theatrical["movie_id"] == movie_id and theatrical["region"] == "US"
    assert theatrical["kind"] == "theatrical"
    assert theatrical["available_on"] == datetime.now(UTC).date().isoformat()

    streaming = {8, 9, 337} - set(world.releases.streaming(world.movies[movie_id], "US"))  # type: ignore[attr-defined]
    provider_id = min(streaming)
    world.releases.available_now(movie_id, "US", "streaming", provider_id)  # type: ignore[attr-defined]
    _due_now(engine)
    await checker.check_due()
    _due_now(engine)
    await checker.check_due()
    assert [(a["kind"], a["provider_id"]) for a in _announced(engine)] == [
        ("theatrical", None),
        ("streaming", provider_id),
    ]
    with engine.connect() as connection:
        updated = connection.execute(
            text("SELECT count(*) FROM outbox_event WHERE type = 'catalog.movie.updated'")
        ).scalar()
    assert updated == 1  # its cached details show the new service once dropped


async def test_two_replicas_never_announce_the_same_release(
    make_catalog: MakeCatalog, sandbox_app: Starlette, engine: Engine, world: object
) -> None:
    movie_ids = world.upcoming("US")[0][-6:]  # type: ignore[attr-defined]
    for movie_id in movie_ids:
        _watch(engine, movie_id)
    first, second = (_checker(make_catalog, sandbox_app, engine) for _ in range(2))
    await asyncio.gather(first.check_due(), second.check_due())
    for movie_id in movie_ids:
        world.releases.available_now(movie_id, "US", "theatrical")  # type: ignore[attr-defined]
    _due_now(engine)
    taken = await asyncio.gather(first.check_due(), second.check_due())
    assert sum(taken) == len(movie_ids)
    assert sorted(a["movie_id"] for a in _announced(engine)) == sorted(movie_ids)


async def test_a_lost_lease_writes_nothing_and_a_released_one_is_taken_at_once(
    make_catalog: MakeCatalog, sandbox_app: Starlette, engine: Engine, world: object
) -> None:
    movie_id = _upcoming(world)
    _watch(engine, movie_id)
    dead, alive = (_checker(make_catalog, sandbox_app, engine) for _ in range(2))
    with Session(engine) as session:
        assert dead._claim(session) == [movie_id]
    assert await alive.check_due() == 0  # held by the other replica
    with engine.begin() as connection:  # its lease runs out; the other takes the title
        connection.execute(text("UPDATE release_check SET lease_until = now() - interval '1 s'"))
    assert await alive.check_due() == 1
    with Session(engine) as session:  # the first replica wakes up: its write is refused
        dead._record(session, movie_id, None)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT checked_at, lease_owner FROM release_check")).one()
    assert row.checked_at is not None and row.lease_owner is None

    _due_now(engine)
    with Session(engine) as session:
        assert dead._claim(session) == [movie_id]
    await dead.release_leases()  # a shutdown frees what it held
    assert await alive.check_due() == 1


async def test_a_title_nobody_watches_any_more_is_dropped(
    make_catalog: MakeCatalog, sandbox_app: Starlette, engine: Engine, world: object
) -> None:
    movie_id = _upcoming(world)
    user_id = _watch(engine, movie_id)
    checker = _checker(make_catalog, sandbox_app, engine)
    await checker.check_due()
    with Session(engine) as session:
        release_check.unwatch(session, user_id=user_id, movie_id=movie_id, list_="watchlist")
        session.commit()
    _due_now(engine)
    await checker.check_due()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM release_check")).scalar() == 0


async def test_the_calendar_has_the_users_region_and_services(
    make_catalog: MakeCatalog, sandbox_app: Starlette, engine: Engine, world: object
) -> None:
    movie_id = _upcoming(world, "GB")
    user_id = _watch(engine, movie_id)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO viewer (user_id, allowed, language, region, providers, changed_at)"
                " VALUES (:user_id, false, 'en', 'GB', '{8}', now())"
            ),
            {"user_id": user_id},
        )
    catalog = make_catalog(httpx.ASGITransport(app=sandbox_app))
    today = datetime.now(UTC).date()

    async def next_weeks() -> list[CalendarEntry]:
        return await release_check.calendar(
            engine=engine,
            tmdb=catalog.tmdb,
            user_id=user_id,
            movie_ids=[movie_id],
            start=today,
            end=today + timedelta(days=40),
            logo_url=lambda path: path,
        )

    before = await next_weeks()  # not looked at yet: asked of TMDb now
    assert [(e.movie_id, e.kind) for e in before] == [(movie_id, "theatrical")]
    checker = _checker(make_catalog, sandbox_app, engine)
    await checker.check_due()
    world.releases.available_now(movie_id, "GB", "streaming", 8)  # type: ignore[attr-defined]
    _due_now(engine)
    await checker.check_due()
    after = await next_weeks()
    assert ("streaming", today, 8) in [
        (e.kind, e.on, e.provider["id"] if e.provider else None) for e in after
    ]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM viewer WHERE user_id = :u"), {"u": user_id})
