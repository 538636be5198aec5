"""Scheduled refresh publishes its events; the catalog's consumer invalidates on them."""

import asyncio
import time
import uuid
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy
from redis.asyncio import Redis
from sqlalchemy import text
from sqlmodel import Session
from starlette.applications import Starlette

from catalog.cache import Entry
from catalog.community import CommunityMirror, community_key
from catalog.config import CatalogSettings
from catalog.handlers import subscription
from catalog.locale import Locale
from catalog.preferences import ADULT_USERS_KEY, Viewers, viewer_preferences
from catalog.refresh import LEASE_KEY, REFRESH_LEASE_S, TrendingRefresher
from catalog.service import Catalog
from services.catalog.tests.support import movie_key, trending_key
from shared.bus import EventBus
from shared.db import make_engine
from shared.events import UserPreferencesChanged
from shared.outbox import OutboxRelay, add_event
from shared.redis import make_sync_redis
from testsupport.calls import keys_of_script_calls
from testsupport.transactions import rows_of, second_waits_for_first

MakeCatalog = Callable[..., Catalog]


async def allows_adult(redis: Redis, user_id: uuid.UUID) -> bool:
    return (await viewer_preferences(redis, user_id)).allows_adult


@pytest.fixture
def engine(catalog_settings: CatalogSettings):  # type: ignore[no-untyped-def]
    engine = make_engine(catalog_settings.database_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM outbox_event"))
        connection.execute(text("DELETE FROM trending_snapshot"))
    yield engine
    engine.dispose()


def _viewers(settings: CatalogSettings | None) -> Viewers:
    return Viewers(make_sync_redis(settings.redis_url if settings else "redis://127.0.0.1:1/0"))


def _viewer_handlers(redis: Redis, engine, viewers: Viewers) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """The catalog's handlers, for events about viewers (no catalog needed)."""
    return subscription(
        catalog=None,  # type: ignore[arg-type]
        engine=engine,
        mirror=CommunityMirror(redis, engine),
        viewers=viewers,
    ).handlers


def _outbox_types(engine) -> list[str]:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return [
            row[0] for row in connection.execute(text("SELECT type FROM outbox_event ORDER BY id"))
        ]


async def test_refresh_announces_trending_and_new_titles(
    make_catalog: MakeCatalog,
    sandbox_app: Starlette,
    redis: Redis,
    engine,
    catalog_settings: CatalogSettings,
) -> None:  # type: ignore[no-untyped-def]
    catalog = make_catalog(httpx.ASGITransport(app=sandbox_app))
    refresher = TrendingRefresher(
        catalog=catalog, redis=redis, engine=engine, settings=catalog_settings
    )
    first = await refresher.refresh_once(trigger="request")
    assert [e.event_type for e in first] == ["catalog.trending.refreshed"] * 2
    assert all(e.new_movie_ids == [] for e in first)  # nothing to compare with yet
    await redis.flushdb()  # the last snapshot is the database's: a cache flush loses nothing
    # The sandbox's clock moves on: trending changes, and the refresh says what is new.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox_app), base_url="http://s"
    ) as admin:
        day = (await admin.get("/__admin/clock")).json()["day"]
        await admin.post("/__admin/clock", json={"day": day + 20})
        second = await refresher.refresh_once(trigger="request")
        await admin.post("/__admin/clock", json={"day": day})
    refreshed = [e for e in second if e.event_type == "catalog.trending.refreshed"]
    day_event = next(e for e in refreshed if e.window == "day")
    assert day_event.new_movie_ids and set(day_event.new_movie_ids) <= set(day_event.movie_ids)
    # what notifications shows travels with the event: it need not ask the catalog back
    assert [m.id for m in day_event.new_movies] == day_event.new_movie_ids
    assert all(m.title for m in day_event.new_movies)
    assert any(e.event_type == "catalog.movie.updated" for e in second)
    assert _outbox_types(engine).count("catalog.trending.refreshed") == 4


async def test_only_one_replica_holds_the_refresh_lease(
    make_catalog: MakeCatalog,
    sandbox_app: Starlette,
    redis: Redis,
    engine,
    catalog_settings: CatalogSettings,
) -> None:  # type: ignore[no-untyped-def]
    refreshers = [
        TrendingRefresher(
            catalog=make_catalog(httpx.ASGITransport(app=sandbox_app)),
            redis=redis,
            engine=engine,
            settings=catalog_settings,
        )
        for _ in range(3)
    ]
    taken = await asyncio.gather(*(r._take_lease() for r in refreshers))
    assert sorted(taken) == [False, False, True]


async def test_consumer_drops_old_trending_pages_on_the_refresh_event(
    make_catalog: MakeCatalog,
    sandbox_app: Starlette,
    redis: Redis,
    engine,
    catalog_settings: CatalogSettings,
    infra,
) -> None:  # type: ignore[no-untyped-def]
    catalog = make_catalog(httpx.ASGITransport(app=sandbox_app))
    await catalog.trending("week", 2)
    assert await redis.get(trending_key("week", 2)) is not None
    viewers = _viewers(catalog_settings)
    viewers.rebuild(engine, force=True)
    bus = EventBus(
        amqp_url=infra.amqp_url,
        namespace=f"test-catalog-{uuid.uuid4().hex[:8]}",
        producer="catalog",
        queue_expires_ms=60_000,
    )
    bus.subscribe(
        subscription(
            catalog=catalog,
            engine=engine,
            mirror=CommunityMirror(redis, engine),
            viewers=viewers,
        )
    )
    bus.start()
    await bus.wait_ready(15)
    relay = OutboxRelay(engine=engine, bus=bus, poll_interval_s=0.1)
    relay.start()
    try:
        refresher = TrendingRefresher(
            catalog=catalog, redis=redis, engine=engine, settings=catalog_settings
        )
        await refresher.refresh_once(trigger="request")
        deadline = time.monotonic() + 10
        while await redis.get(trending_key("week", 2)) is not None:
            assert time.monotonic() < deadline, "page 2 was not invalidated"
            await asyncio.sleep(0.05)
        assert await redis.get(trending_key("week", 1)) is not None  # the fresh page 1 stays

        # Preferences travel as events too: the adult filter follows them.
        user_id = uuid.uuid4()
        with Session(engine) as session:
            add_event(
                session,
                UserPreferencesChanged(user_id=user_id, preferences={"include_adult": True}),
                producer="auth",
            )
            session.commit()
        while not await allows_adult(redis, user_id):
            assert time.monotonic() < deadline + 5, "preference not applied"
            await asyncio.sleep(0.05)
    finally:
        await relay.stop()
        await bus.close()


async def test_movie_updated_drops_details(
    make_catalog: MakeCatalog, scripted, redis: Redis
) -> None:  # type: ignore[no-untyped-def]
    from shared.events import CatalogMovieUpdated, wrap

    catalog = make_catalog(scripted.transport())
    await redis.set(movie_key(77), Entry(b"{}", time.time() + 100).encode())
    french = Locale("fr", "FR")
    await catalog._note(french)  # as serving an answer in French does
    french_keys = [
        catalog.keys.movie(77, french),
        catalog.keys.similar(77, 1, "fr"),
        catalog.keys.similar(77, 6, "fr"),  # a page past the first five
        catalog.keys.recommendations(77, 500, "fr"),
    ]
    for key in french_keys:
        await redis.set(key, Entry(b"{}", time.time() + 100).encode())
    handlers = subscription(
        catalog=catalog,
        engine=engine,
        mirror=CommunityMirror(redis, engine),
        viewers=Viewers(make_sync_redis("redis://127.0.0.1:1/0")),
    ).handlers
    event = CatalogMovieUpdated(movie_id=77, updated_at=__import__("datetime").datetime.now())
    await handlers["catalog.movie.updated"](event, wrap(event, producer="catalog"))
    assert await redis.get(movie_key(77)) is None
    assert [await redis.get(key) for key in french_keys] == [None] * len(french_keys)


async def test_an_invalidation_reaches_a_locale_cached_after_redis_lost_the_locales(
    make_catalog: MakeCatalog, sandbox_app: Starlette, redis: Redis, engine
) -> None:  # type: ignore[no-untyped-def]
    from shared.events import CatalogMovieUpdated, wrap

    catalog = make_catalog(httpx.ASGITransport(app=sandbox_app))
    french = Locale("fr", "FR")
    await catalog.movie(50, french)
    await catalog.similar(50, 7, french)
    await redis.flushdb()  # Redis loses everything, the set of cached locales with it
    await catalog.movie(50, french)  # served again within the minute: cached again
    await catalog.similar(50, 7, french)
    french_keys = [catalog.keys.movie(50, french), catalog.keys.similar(50, 7, "fr")]
    assert all([await redis.get(key) for key in french_keys])
    handlers = subscription(
        catalog=catalog,
        engine=engine,
        mirror=CommunityMirror(redis, engine),
        viewers=_viewers(None),
    ).handlers
    event = CatalogMovieUpdated(movie_id=50, updated_at=__import__("datetime").datetime.now())
    await handlers["catalog.movie.updated"](event, wrap(event, producer="catalog"))
    assert [await redis.get(key) for key in french_keys] == [None, None]


async def test_community_rating_follows_rating_events_once(
    redis: Redis, engine, make_catalog: MakeCatalog, scripted
) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from shared.events import RatingRemoved, RatingSet, wrap

    with engine.begin() as connection:
        connection.execute(text("DELETE FROM community_rating"))
        connection.execute(text("DELETE FROM inbox_event"))
    mirror = CommunityMirror(redis, engine)
    catalog = make_catalog(scripted.transport())
    handlers = subscription(
        catalog=catalog, engine=engine, mirror=mirror, viewers=_viewers(None)
    ).handlers
    now = datetime.now(UTC)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    events = [
        RatingSet(user_id=alice, movie_id=9, score=8.0, at=now),
        RatingSet(user_id=bob, movie_id=9, score=6.0, at=now),
        RatingSet(user_id=alice, movie_id=9, score=10.0, previous_score=8.0, at=now),
    ]
    envelopes = [wrap(event, producer="library") for event in events]
    for event, envelope in zip(events, envelopes, strict=True):
        await handlers[event.event_type](event, envelope)
    await handlers[events[0].event_type](events[0], envelopes[0])  # redelivered: no effect
    assert (
        await mirror.resolve(9, await redis.get(community_key(9))) == b'{"average":8.0,"count":2}'
    )
    removed = RatingRemoved(user_id=bob, movie_id=9, score=6.0, at=now)
    await handlers[removed.event_type](removed, wrap(removed, producer="library"))
    assert (
        await mirror.resolve(9, await redis.get(community_key(9))) == b'{"average":10.0,"count":1}'
    )
    await redis.delete(community_key(9))  # Redis lost it: rebuilt from the database
    assert await mirror.resolve(9, None) == b'{"average":10.0,"count":1}'
    assert await mirror.resolve(404, None) == b'{"average":null,"count":0}'


async def test_rating_events_applied_together_move_each_movie_once_in_one_statement(
    redis: Redis, engine, make_catalog: MakeCatalog, scripted
) -> None:  # type: ignore[no-untyped-def]
    """Events handled at the same moment share a transaction: each movie's aggregate moves
    by all of them in one statement at the commit, a repeat in the batch counts once, and the
    mirror gets the movie's newest aggregate. (Ids no title has: the end-to-end tests share
    this Redis and read real titles' community ratings.)"""
    from datetime import UTC, datetime

    from shared.events import RatingRemoved, RatingSet, wrap

    with engine.begin() as connection:
        connection.execute(text("DELETE FROM community_rating"))
        connection.execute(text("DELETE FROM inbox_event"))
    mirror = CommunityMirror(redis, engine)
    handlers = subscription(
        catalog=make_catalog(scripted.transport()),
        engine=engine,
        mirror=mirror,
        viewers=_viewers(None),
    ).handlers
    now = datetime.now(UTC)
    users = [uuid.uuid4() for _ in range(4)]
    events = [
        RatingSet(user_id=users[0], movie_id=90011, score=7.5, at=now),
        RatingSet(user_id=users[1], movie_id=90011, score=8.0, at=now),
        RatingSet(user_id=users[2], movie_id=90012, score=3.0, at=now),
        RatingSet(user_id=users[0], movie_id=90011, score=9.5, previous_score=7.5, at=now),
        RatingRemoved(user_id=users[2], movie_id=90012, score=3.0, at=now),
        RatingSet(user_id=users[3], movie_id=90012, score=6.2, at=now),
    ]
    envelopes = [wrap(event, producer="library") for event in events]
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if "community_rating" in statement:
            statements.append(statement)

    sqlalchemy.event.listen(engine, "before_cursor_execute", seen)
    try:
        await asyncio.gather(
            *(
                handlers[item.event_type](item, envelope)
                for item, envelope in zip(
                    [*events, events[1]], [*envelopes, envelopes[1]], strict=True
                )
            )
        )
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 1  # every movie the batch moved, at its commit
    for movie_id, body in (
        (90011, b'{"average":8.75,"count":2}'),
        (90012, b'{"average":6.2,"count":1}'),
    ):
        assert await mirror.resolve(movie_id, await redis.get(community_key(movie_id))) == body
        await redis.delete(community_key(movie_id))  # and the database holds the same
        assert await mirror.resolve(movie_id, None) == body
    with engine.connect() as connection:
        versions = dict(
            connection.execute(text("SELECT movie_id, version FROM community_rating")).all()
        )
    assert versions == {90011: 3, 90012: 3}  # one step per event applied (the repeat is not)
    await redis.delete(community_key(90011), community_key(90012))


async def test_an_older_mirror_write_never_replaces_a_newer_one(redis: Redis, engine) -> None:  # type: ignore[no-untyped-def]
    mirror = CommunityMirror(redis, engine)
    await mirror.publish(5, 3, b'{"average":7.0,"count":3}')
    await mirror.publish(5, 2, b'{"average":1.0,"count":2}')
    assert (
        await mirror.resolve(5, await redis.get(community_key(5))) == b'{"average":7.0,"count":3}'
    )


async def test_mirror_writes_at_the_same_moment_go_in_one_call_newest_winning(
    redis: Redis, engine
) -> None:  # type: ignore[no-untyped-def]
    mirror = CommunityMirror(redis, engine)
    calls = keys_of_script_calls(mirror, "_set_if_newer")
    await asyncio.gather(
        mirror.publish(6, 4, b'{"average":9.0,"count":4}'),
        mirror.publish(6, 3, b'{"average":2.0,"count":3}'),  # older, after the newer one
        mirror.publish(7, 1, b'{"average":5.0,"count":1}'),
    )
    assert len(calls) == 1
    for movie_id, body in ((6, b'{"average":9.0,"count":4}'), (7, b'{"average":5.0,"count":1}')):
        assert await mirror.resolve(movie_id, await redis.get(community_key(movie_id))) == body


async def test_the_adult_viewers_copy_is_rebuilt_from_the_database(
    redis: Redis, engine, catalog_settings: CatalogSettings
) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from shared.events import wrap

    with engine.begin() as connection:
        connection.execute(text("DELETE FROM viewer"))
    viewers = _viewers(catalog_settings)
    legacy = uuid.uuid4()
    await redis.sadd(ADULT_USERS_KEY, str(legacy))  # from before the table existed
    viewers.rebuild(engine, force=True)
    handlers = _viewer_handlers(redis, engine, viewers)
    now = datetime.now(UTC)
    fan, other = uuid.uuid4(), uuid.uuid4()
    newer = UserPreferencesChanged(
        user_id=fan, preferences={"include_adult": True, "language": "fr", "region": "CA"}
    )
    older = UserPreferencesChanged(user_id=fan, preferences={"include_adult": False})
    newer_envelope = wrap(newer, producer="auth").model_copy(update={"occurred_at": now})
    older_envelope = wrap(older, producer="auth").model_copy(
        update={"occurred_at": now - timedelta(minutes=1)}
    )
    await handlers[newer.event_type](newer, newer_envelope)
    await handlers[older.event_type](older, older_envelope)  # arrives late: changes nothing
    # The services that cached pages from the catalog's answers hear of the one change.
    assert _outbox_types(engine).count("catalog.viewer.changed") == 1
    assert await allows_adult(redis, fan) and await allows_adult(redis, legacy)
    assert not await allows_adult(redis, other)
    assert (await viewer_preferences(redis, fan)).locale == Locale("fr", "CA")
    assert (await viewer_preferences(redis, other)).locale is None

    await redis.flushdb()  # the cache Redis loses everything
    assert not await allows_adult(redis, fan)  # the safe default, never a guess
    assert (await viewer_preferences(redis, fan)).locale is None  # the request's own, meanwhile
    assert viewers.rebuild_if_needed(engine, force=False) == 2
    assert await allows_adult(redis, fan) and await allows_adult(redis, legacy)
    assert (await viewer_preferences(redis, fan)).locale == Locale("fr", "CA")
    assert not await allows_adult(redis, other)


async def test_a_deleted_viewer_stays_deleted_whatever_arrives_late(
    redis: Redis, engine, catalog_settings: CatalogSettings
) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from shared.events import UserDeleted, wrap

    viewers = _viewers(catalog_settings)
    viewers.rebuild(engine, force=True)
    handlers = _viewer_handlers(redis, engine, viewers)
    now = datetime.now(UTC)
    user = uuid.uuid4()
    adult = {"include_adult": True, "language": "fr", "region": "CA"}

    def changed(at: datetime) -> tuple[UserPreferencesChanged, object]:
        event = UserPreferencesChanged(user_id=user, preferences=adult)
        return event, wrap(event, producer="auth").model_copy(update={"occurred_at": at})

    await handlers["user.preferences_changed"](*changed(now - timedelta(seconds=2)))
    assert await allows_adult(redis, user)
    deleted = UserDeleted(user_id=user, deleted_at=now)
    await handlers["user.deleted"](deleted, wrap(deleted, producer="auth"))
    assert not await allows_adult(redis, user)
    # A change from before the deletion delivered late, or one stamped after it: neither
    # brings the viewer back, in the table or in the copy (nor after a rebuild).
    for late in (now - timedelta(seconds=1), now + timedelta(seconds=5)):
        await handlers["user.preferences_changed"](*changed(late))
    assert not await allows_adult(redis, user)
    assert (await viewer_preferences(redis, user)).locale is None
    viewers.rebuild(engine, force=True)
    assert not await allows_adult(redis, user)
    with engine.connect() as connection:
        assert connection.execute(
            text("SELECT allowed, language FROM viewer WHERE user_id = :u"), {"u": user}
        ).one() == (False, None)
    # Nor does a title put on a list before the deletion, delivered late.
    from shared.events import FavoriteAdded, WatchlistAdded

    for listed in (
        WatchlistAdded(user_id=user, movie_id=11, at=now - timedelta(seconds=1)),
        FavoriteAdded(user_id=user, movie_id=12, at=now - timedelta(seconds=1)),
    ):
        await handlers[listed.event_type](listed, wrap(listed, producer="library"))
    with engine.connect() as connection:
        assert (
            connection.execute(
                text("SELECT count(*) FROM release_watch WHERE user_id = :u"), {"u": user}
            ).scalar_one()
            == 0
        )


@pytest.mark.parametrize("deletion_first", [True, False])
def test_a_watch_that_meets_a_deletion_under_way_leaves_nothing_of_the_user(
    engine, catalog_settings: CatalogSettings, deletion_first: bool
) -> None:  # type: ignore[no-untyped-def]
    """A list event handled while the user's deletion is not yet committed (another replica's
    consumer): either the deletion waits for the watch and takes its row, or the watch waits
    for the deletion and sees the tombstone. Without the user's lock the row stayed."""
    from datetime import UTC, datetime

    from catalog import release_check
    from catalog.handlers import _forget
    from shared.events import UserDeleted, wrap

    viewers = _viewers(catalog_settings)
    user = uuid.uuid4()
    now = datetime.now(UTC)
    deleted = UserDeleted(user_id=user, deleted_at=now)

    def delete_user(session: Session) -> None:
        _forget(session, viewers, deleted, wrap(deleted, producer="auth"))

    def watch(session: Session) -> None:
        release_check.watch(session, user_id=user, movie_id=31, list_="watchlist", at=now)

    first, second = (delete_user, watch) if deletion_first else (watch, delete_user)
    second_waits_for_first(engine, first, second)
    assert rows_of(engine, "release_watch", user) == 0


def _refresher(make_catalog: MakeCatalog, sandbox_app: Starlette, redis: Redis, engine, settings):  # type: ignore[no-untyped-def]
    return TrendingRefresher(
        catalog=make_catalog(httpx.ASGITransport(app=sandbox_app)),
        redis=redis,
        engine=engine,
        settings=settings,
    )


def _refreshes(engine) -> int:  # type: ignore[no-untyped-def]
    return _outbox_types(engine).count("catalog.trending.refreshed") // 2


async def test_one_scheduled_refresh_per_interval_across_replicas(
    make_catalog: MakeCatalog, sandbox_app: Starlette, redis: Redis, engine, catalog_settings
) -> None:  # type: ignore[no-untyped-def]
    replicas = [
        _refresher(make_catalog, sandbox_app, redis, engine, catalog_settings) for _ in range(3)
    ]
    await asyncio.gather(*(r.refresh_if_due() for r in replicas))
    assert _refreshes(engine) == 1
    # The lease is held only while refreshing: gone now, and the schedule is the database's.
    assert await redis.get(LEASE_KEY) is None
    waits = await asyncio.gather(*(r.refresh_if_due() for r in replicas))
    assert _refreshes(engine) == 1
    assert all(0 < wait_s <= catalog_settings.refresh_interval_s for wait_s in waits)


async def test_a_shorter_interval_refreshes_at_once_whatever_the_last_process_left(
    make_catalog: MakeCatalog, sandbox_app: Starlette, redis: Redis, engine, catalog_settings
) -> None:  # type: ignore[no-untyped-def]
    """A stack stopped with the default interval leaves nothing that delays the next one."""
    default = _refresher(make_catalog, sandbox_app, redis, engine, catalog_settings)
    default_run = asyncio.create_task(default.run())
    deadline = time.monotonic() + 15
    while _refreshes(engine) < 1:
        assert time.monotonic() < deadline, "the first refresh did not happen"
        await asyncio.sleep(0.05)
    default_run.cancel()
    await asyncio.wait({default_run}, timeout=5)
    await default.release_lease()
    with engine.begin() as connection:  # the last refresh was 10 s ago
        connection.execute(
            text("UPDATE trending_snapshot SET refreshed_at = now() - interval '10 seconds'")
        )
    short = _refresher(
        make_catalog,
        sandbox_app,
        redis,
        engine,
        catalog_settings.model_copy(update={"refresh_interval_s": 5}),
    )
    assert await short.refresh_if_due() <= 5
    assert _refreshes(engine) == 2


async def test_the_lease_is_released_at_shutdown_only_if_it_is_ours(
    make_catalog: MakeCatalog, sandbox_app: Starlette, redis: Redis, engine, catalog_settings
) -> None:  # type: ignore[no-untyped-def]
    ours = _refresher(make_catalog, sandbox_app, redis, engine, catalog_settings)
    theirs = _refresher(make_catalog, sandbox_app, redis, engine, catalog_settings)
    assert await ours._take_lease()
    await theirs.release_lease()
    assert await redis.get(LEASE_KEY) == ours.replica_id.encode()
    ttl_s = await redis.ttl(LEASE_KEY)
    assert 0 < ttl_s <= REFRESH_LEASE_S  # a crashed holder blocks the others this long at most
    await ours.release_lease()
    assert await redis.get(LEASE_KEY) is None


async def test_a_refresh_cancelled_half_way_releases_its_lease(
    make_catalog: MakeCatalog, redis: Redis, engine, catalog_settings
) -> None:  # type: ignore[no-untyped-def]
    started = asyncio.Event()

    async def slow_tmdb(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.sleep(60)
        raise AssertionError("not reached")

    refresher = TrendingRefresher(
        catalog=make_catalog(httpx.MockTransport(slow_tmdb)),
        redis=redis,
        engine=engine,
        settings=catalog_settings,
    )
    run = asyncio.create_task(refresher.run())
    await asyncio.wait_for(started.wait(), 10)
    assert await redis.get(LEASE_KEY) == refresher.replica_id.encode()
    run.cancel()
    done, _ = await asyncio.wait({run}, timeout=5)
    assert done, "the refresher did not stop when cancelled"
    assert run.cancelled()
    assert await redis.get(LEASE_KEY) is None
