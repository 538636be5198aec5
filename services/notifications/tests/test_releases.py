"""Release alerts: the watchlist copy and the fan-out of `catalog.release.available`, through
the handlers on the real PostgreSQL (webhook deliveries included)."""

import uuid
from datetime import UTC, date, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import Engine, text
from sqlmodel import Session

from notifications import service
from notifications.config import NotificationsSettings
from notifications.handlers import subscription
from services.notifications.tests.test_handlers import Catalog
from shared.events import (
    CatalogReleaseAvailable,
    IntegrationEvent,
    NotifyChoices,
    UserPreferences,
    WatchlistAdded,
    WatchlistRemoved,
    wrap,
)

STAR_WARS = 50
NOW = datetime.now(UTC)


async def _handle(
    engine: Engine, settings: NotificationsSettings, *events: IntegrationEvent
) -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0")  # live delivery only: its loss is allowed
    handlers = subscription(
        engine=engine,
        redis=redis,
        catalog=Catalog(),
        settings=settings,  # type: ignore[arg-type]
    ).handlers
    try:
        for event in events:
            await handlers[event.event_type](event, wrap(event, producer="test"))
    finally:
        await redis.aclose()


def _waiting(
    engine: Engine,
    *,
    releases: bool = True,
    region: str | None = "US",
    providers: tuple[int, ...] = (8,),
    language: str | None = None,
) -> uuid.UUID:
    user_id = uuid.uuid4()
    with Session(engine) as session:
        service.subscribe(session, user_id=user_id, at=NOW - timedelta(days=30))
        service.update_preferences(
            session,
            user_id=user_id,
            preferences=UserPreferences(
                region=region,
                language=language,
                providers=providers,
                notify=NotifyChoices(releases=releases),
            ),
            at=NOW - timedelta(days=29),
        )
        session.commit()
    return user_id


def _released(kind: str = "theatrical", **fields: object) -> CatalogReleaseAvailable:
    values: dict[str, object] = {
        "movie_id": STAR_WARS,
        "title": "Star Wars",
        "region": "US",
        "kind": kind,
        "available_on": NOW.date(),
        "observed_at": NOW,
    }
    if kind == "streaming":
        values |= {"provider_id": 8, "provider_name": "Netflix"}
    return CatalogReleaseAvailable.model_validate(values | fields)


def _alerts(engine: Engine, user_id: uuid.UUID) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows, _ = service.page(session, user_id=user_id, unread_only=False, page=1, limit=50)
        return [(row.type, row.body) for row in rows if row.type == "release.available"]


def _added(user_id: uuid.UUID, days_ago: float) -> WatchlistAdded:
    return WatchlistAdded(user_id=user_id, movie_id=STAR_WARS, at=NOW - timedelta(days=days_ago))


async def test_a_user_waiting_for_a_title_is_told_once_per_kind(
    notifications_engine: Engine, notifications_settings: NotificationsSettings
) -> None:
    waiting = _waiting(notifications_engine)
    await _handle(
        notifications_engine,
        notifications_settings,
        _added(waiting, 10),
        _released("theatrical"),
        _released("theatrical"),  # another event for the same kind (a second replica's)
        _released("streaming"),
        _released("streaming", provider_id=9, provider_name="Prime"),  # streaming: told already
    )
    assert sorted(_alerts(notifications_engine, waiting)) == [
        ("release.available", "Star Wars is now on Netflix"),
        ("release.available", "Star Wars is out in cinemas"),
    ]


async def test_only_the_users_who_waited_for_it_here_are_told(
    notifications_engine: Engine, notifications_settings: NotificationsSettings
) -> None:
    engine = notifications_engine
    told = _waiting(engine)
    too_late = _waiting(engine)  # added it after it came out
    elsewhere = _waiting(engine, region="FR")
    unwilling = _waiting(engine, releases=False)
    without_service = _waiting(engine, providers=(337,))
    removed = _waiting(engine)
    await _handle(
        engine,
        notifications_settings,
        _added(told, 10),
        _added(too_late, -0.5),
        _added(elsewhere, 10),
        _added(unwilling, 10),
        _added(without_service, 10),
        _added(removed, 10),
        WatchlistRemoved(user_id=removed, movie_id=STAR_WARS, at=NOW - timedelta(days=1)),
        _released("streaming", observed_at=NOW),
        _released("digital", available_on=date.today() - timedelta(days=1)),
    )
    assert [body for _, body in _alerts(engine, told)] in (
        ["Star Wars is out to rent or buy", "Star Wars is now on Netflix"],
        ["Star Wars is now on Netflix", "Star Wars is out to rent or buy"],
    )
    assert _alerts(engine, too_late) == []
    assert _alerts(engine, elsewhere) == []
    assert _alerts(engine, unwilling) == []
    assert [body for _, body in _alerts(engine, without_service)] == [
        "Star Wars is out to rent or buy"
    ]
    assert _alerts(engine, removed) == []


async def test_the_alert_names_the_title_in_the_users_language_and_reaches_webhooks(
    notifications_engine: Engine, notifications_settings: NotificationsSettings
) -> None:
    engine = notifications_engine
    french = _waiting(engine, language="fr")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO webhook (id, user_id, url, events, secret, created_at)"
                " VALUES (gen_random_uuid(), :user_id, 'http://hooks.test/', "
                " ARRAY['release.available', 'notification.created'], 'whsec_x', now())"
            ),
            {"user_id": french},
        )
    await _handle(engine, notifications_settings, _added(french, 3), _released("theatrical"))
    assert _alerts(engine, french) == [
        ("release.available", "La Guerre des étoiles is out in cinemas")
    ]
    with engine.connect() as connection:
        deliveries = connection.execute(
            text("SELECT event, payload FROM webhook_delivery WHERE user_id = :u ORDER BY event"),
            {"u": french},
        ).all()
        connection.execute(text("DELETE FROM webhook WHERE user_id = :u"), {"u": french})
        connection.commit()
    assert [event for event, _ in deliveries] == ["notification.created", "release.available"]
    news = deliveries[1][1]
    assert news["movie_id"] == STAR_WARS and news["kind"] == "theatrical"
    assert news["region"] == "US" and news["provider"] is None
