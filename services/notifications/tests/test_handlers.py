"""The notifications service's handlers on the real PostgreSQL, with the catalog stood in for:
titles named in each subscriber's language."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from redis.asyncio import Redis
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from notifications import service
from notifications.config import NotificationsSettings
from notifications.handlers import _with_titles_in, subscription
from notifications.models import Subscriber
from shared.catalog_models import MovieBatch, MovieBrief, MovieSummary
from shared.errors import DependencyUnavailable
from shared.events import CatalogTrendingRefreshed, UserPreferences, wrap

ENGLISH = {50: "Star Wars", 127: "The Godfather", 100: "Fargo"}
TRANSLATED = {
    "fr": {50: "La Guerre des étoiles", 127: "Le Parrain"},
    "de": {50: "Krieg der Sterne", 127: "Der Pate"},
}


class Catalog:
    """Answers /internal/movies as the catalog would, in the asked language; a language in
    `down` is a catalog that cannot answer."""

    def __init__(self, down: tuple[str, ...] = (), slow: tuple[str, ...] = ()) -> None:
        self.down = down
        self.slow = slow
        self.asked: list[tuple[tuple[int, ...], str | None, str | None]] = []

    async def movies(
        self, movie_ids: list[int], *, viewer: str | None = None, language: str | None = None
    ) -> MovieBatch:
        self.asked.append((tuple(movie_ids), viewer, language))
        if language in self.down:
            raise DependencyUnavailable("The movie catalog")
        if language in self.slow:
            await asyncio.sleep(30)
        names = TRANSLATED.get(language or "", {})
        return MovieBatch(
            results=[_summary(i, names.get(i, ENGLISH[i])) for i in movie_ids],
            missing=[],
            unavailable=[],
            adult_ids=[],
        )


def _summary(movie_id: int, title: str) -> MovieSummary:
    return MovieSummary(
        id=movie_id,
        title=title,
        overview="",
        release_date=None,
        genre_ids=[18],
        vote_average=8.0,
        vote_count=10,
        popularity=1.0,
        poster_url=None,
    )


def _subscriber(engine: Engine, language: str | None) -> uuid.UUID:
    user_id = uuid.uuid4()
    with Session(engine) as session:
        service.subscribe(session, user_id=user_id, at=datetime.now(UTC) - timedelta(seconds=5))
        service.update_preferences(
            session,
            user_id=user_id,
            preferences=UserPreferences(language=language),
            at=datetime.now(UTC),
        )
        session.commit()
    return user_id


async def _refresh(
    engine: Engine, settings: NotificationsSettings, catalog: Catalog
) -> dict[uuid.UUID, str]:
    """A trending refresh with three new titles, handled; each user's notification body."""
    event = CatalogTrendingRefreshed(
        window=settings.trending_window,
        movie_ids=[50, 127, 100],
        new_movie_ids=[50, 127, 100],
        new_movies=[MovieBrief(id=i, title=ENGLISH[i], genre_ids=[18]) for i in ENGLISH],
        refreshed_at=datetime.now(UTC),
    )
    redis = Redis.from_url("redis://127.0.0.1:1/0")  # live delivery only: its loss is allowed
    handlers = subscription(
        engine=engine,
        redis=redis,
        catalog=catalog,  # type: ignore[arg-type]
        settings=settings,
    ).handlers
    try:
        await handlers[event.event_type](event, wrap(event, producer="catalog"))
    finally:
        await redis.aclose()
    with Session(engine) as session:
        bodies = {}
        for user in _users(session):
            rows, _ = service.page(session, user_id=user, unread_only=False, page=1, limit=5)
            bodies[user] = rows[0].body
        return bodies


def _users(session: Session) -> list[uuid.UUID]:
    return list(session.scalars(select(col(Subscriber.user_id))))


async def test_trending_titles_are_named_in_each_subscribers_language(
    notifications_engine: Engine, notifications_settings: NotificationsSettings
) -> None:
    french = _subscriber(notifications_engine, "fr")
    german = _subscriber(notifications_engine, "de")
    english = _subscriber(notifications_engine, None)
    italian = _subscriber(
        notifications_engine, "it"
    )  # no translation known: the titles as they are
    catalog = Catalog()
    bodies = await _refresh(notifications_engine, notifications_settings, catalog)
    assert (
        bodies[french] == "La Guerre des étoiles, Le Parrain and 1 more entered trending this week"
    )
    assert bodies[german] == "Krieg der Sterne, Der Pate and 1 more entered trending this week"
    assert bodies[english] == "Star Wars, The Godfather and 1 more entered trending this week"
    assert bodies[italian] == bodies[english]
    # One call per language in use, none for users with no language (the event's titles)
    assert sorted(language for _, _, language in catalog.asked) == ["de", "fr", "it"]


async def test_a_language_the_catalog_cannot_answer_for_keeps_the_events_titles(
    notifications_engine: Engine, notifications_settings: NotificationsSettings
) -> None:
    french = _subscriber(notifications_engine, "fr")
    german = _subscriber(notifications_engine, "de")
    bodies = await _refresh(notifications_engine, notifications_settings, Catalog(down=("de",)))
    assert bodies[french].startswith("La Guerre des étoiles, Le Parrain")
    assert bodies[german].startswith("Star Wars, The Godfather")  # on time, untranslated


async def test_a_late_subscriber_catches_up_in_a_language_the_refresh_was_named_in(
    notifications_engine: Engine, notifications_settings: NotificationsSettings
) -> None:
    _subscriber(notifications_engine, "fr")
    await _refresh(notifications_engine, notifications_settings, Catalog())
    late = uuid.uuid4()
    with Session(notifications_engine) as session:
        service.update_preferences(
            session, user_id=late, preferences=UserPreferences(language="fr"), at=datetime.now(UTC)
        )
        service.subscribe(session, user_id=late, at=datetime.now(UTC) - timedelta(minutes=1))
        caught_up = service.catch_up(session, user_id=late, keep=200)
        session.commit()
    assert [d.user_id for d in caught_up] == [late]
    assert orjson.loads(caught_up[0].payload)["body"].startswith("La Guerre des étoiles")


async def test_a_language_the_catalog_is_slow_to_name_does_not_hold_the_notification() -> None:
    movies = [{"id": 50, "title": "Star Wars", "genre_ids": [18]}]
    started = time.monotonic()
    named = await _with_titles_in(Catalog(slow=("de",)), movies, ["de", "fr"], wait_s=0.3)
    assert time.monotonic() - started < 2
    assert named[0]["titles"] == {"fr": "La Guerre des étoiles"}  # German: the event's title


async def test_notifications_redis_did_not_take_are_stored_and_said(
    notifications_engine: Engine,
    notifications_settings: NotificationsSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis unreachable (as `_refresh` sets it): each notification is stored all the same,
    and the log says open streams get them at their next look at the database."""
    users = [_subscriber(notifications_engine, None) for _ in range(2)]
    bodies = await _refresh(notifications_engine, notifications_settings, Catalog())
    assert set(users) <= set(bodies)
    said = [r.getMessage() for r in caplog.records if "not published live" in r.getMessage()]
    assert said and said[0].startswith("2 notifications stored but not published live")
