"""The favorite.* consumer on the real RabbitMQ and PostgreSQL: nothing lost, nothing twice."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from library.favorites import service as favorites_service
from recommendations import profile
from recommendations.handlers import subscription as make_subscription
from shared.bus import EventBus, Subscription
from shared.bus.dlq import list_dead_letters, replay
from shared.events import EventEnvelope, FavoriteAdded, FavoriteRemoved, IntegrationEvent, wrap
from shared.outbox import OutboxRelay
from shared.pagecache import RECOMMENDATIONS_PAGES, UserPageCache
from shared.redis import make_redis
from testsupport.bus import subscription_of
from testsupport.infra import Infra, TcpProxy

pytestmark = pytest.mark.usefixtures("clean_recommendations_db")


def _favorites(engine: Engine, user_id: uuid.UUID) -> list[int]:
    with Session(engine) as session:
        return profile.favorites(session, user_id=user_id)


def _applied(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM inbox_event")).scalar_one())


async def _until(predicate: Callable[[], bool], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.fixture
async def make_bus(infra: Infra) -> AsyncIterator[Callable[..., EventBus]]:
    namespace = f"test-rec-{uuid.uuid4().hex[:8]}"
    buses: list[EventBus] = []

    def make(amqp_url: str | None = None, **kwargs: object) -> EventBus:
        bus = EventBus(
            amqp_url=amqp_url or infra.amqp_url,
            namespace=namespace,
            producer="tests",
            queue_expires_ms=120_000,
            retry_delay_ms=100,
            max_retries=2,
            **kwargs,
        )  # type: ignore[arg-type]
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.close()


@pytest.fixture
async def cache(recommendations_settings) -> AsyncIterator[UserPageCache]:  # type: ignore[no-untyped-def]
    redis = make_redis(recommendations_settings.redis_url)
    yield UserPageCache(redis, RECOMMENDATIONS_PAGES, ttl_s=60)
    await redis.aclose()


@pytest.fixture
def subscription(cache: UserPageCache) -> Callable[..., Subscription]:
    return lambda *, engine: make_subscription(engine=engine, cache=cache)


async def _handle(
    engine: Engine, event: IntegrationEvent, envelope: EventEnvelope, cache: UserPageCache
) -> None:
    await make_subscription(engine=engine, cache=cache).handlers[envelope.type](event, envelope)


async def test_the_same_event_twice_is_applied_once(
    recommendations_engine: Engine, cache: UserPageCache
) -> None:
    user = uuid.uuid4()
    added = FavoriteAdded(user_id=user, movie_id=1, at=datetime.now(UTC))
    envelope = wrap(added, producer="library")
    await _handle(recommendations_engine, added, envelope, cache)
    await _handle(recommendations_engine, added, envelope, cache)
    assert _favorites(recommendations_engine, user) == [1]
    assert _applied(recommendations_engine) == 1


async def test_events_out_of_order_end_in_the_right_state(
    recommendations_engine: Engine, cache: UserPageCache
) -> None:
    user, now = uuid.uuid4(), datetime.now(UTC)
    added = FavoriteAdded(user_id=user, movie_id=2, at=now)
    removed = FavoriteRemoved(user_id=user, movie_id=2, at=now + timedelta(seconds=1))
    readded = FavoriteAdded(user_id=user, movie_id=2, at=now + timedelta(seconds=2))
    for event in (removed, readded, added):  # delivered out of order
        await _handle(recommendations_engine, event, wrap(event, producer="library"), cache)
    assert _favorites(recommendations_engine, user) == [2]
    late_remove = FavoriteRemoved(user_id=user, movie_id=2, at=now + timedelta(seconds=3))
    await _handle(recommendations_engine, late_remove, wrap(late_remove, producer="library"), cache)
    assert _favorites(recommendations_engine, user) == []


async def test_crash_before_ack_is_redelivered_and_applied_once(
    recommendations_engine: Engine, make_bus: Callable[..., EventBus], subscription
) -> None:
    real = subscription(engine=recommendations_engine)
    crashes = []

    async def crash_after_commit(event: IntegrationEvent, envelope: EventEnvelope) -> None:
        await real.handlers[envelope.type](event, envelope)  # committed...
        if not crashes:
            crashes.append(envelope.event_id)
            raise RuntimeError("process died before the ack")  # ...but never acknowledged

    bus = make_bus()
    bus.subscribe(subscription_of("recommendations", FavoriteAdded, crash_after_commit))
    bus.start()
    await bus.wait_ready(15)
    user = uuid.uuid4()
    event = FavoriteAdded(user_id=user, movie_id=3, at=datetime.now(UTC))
    await bus.publish(wrap(event, producer="library"))
    await _until(lambda: bool(crashes) and _favorites(recommendations_engine, user) == [3])
    await asyncio.sleep(0.5)  # the redelivery has come and gone
    assert _applied(recommendations_engine) == 1


async def test_poison_message_is_dead_lettered_and_the_queue_keeps_flowing(
    recommendations_engine: Engine, make_bus: Callable[..., EventBus], infra: Infra, subscription
) -> None:
    bus = make_bus()
    bus.subscribe(subscription(engine=recommendations_engine))
    bus.start()
    await bus.wait_ready(15)
    await bus._exchange.publish(  # type: ignore[union-attr]
        aio_pika.Message(b'{"type": "favorite.added", "data": 42}', message_id="poison-1"),
        routing_key="favorite.added",
    )
    user = uuid.uuid4()
    event = FavoriteAdded(user_id=user, movie_id=4, at=datetime.now(UTC))
    await bus.publish(wrap(event, producer="library"))
    await _until(lambda: _favorites(recommendations_engine, user) == [4])
    dead_letter_queue, _ = bus.topology.resolve("recommendations")
    letters = await list_dead_letters(infra.amqp_url, dead_letter_queue)
    assert [letter.message_id for letter in letters] == ["poison-1"]
    assert letters[0].error.startswith("malformed")


async def test_dead_letters_can_be_replayed(
    recommendations_engine: Engine, make_bus: Callable[..., EventBus], infra: Infra, subscription
) -> None:
    real = subscription(engine=recommendations_engine)
    broken = [True]

    async def until_fixed(event: IntegrationEvent, envelope: EventEnvelope) -> None:
        if broken[0]:
            raise RuntimeError("a bug, fixed by the next deploy")
        await real.handlers[envelope.type](event, envelope)

    bus = make_bus()
    bus.subscribe(subscription_of("recommendations", FavoriteAdded, until_fixed))
    bus.start()
    await bus.wait_ready(15)
    user = uuid.uuid4()
    envelope = wrap(
        FavoriteAdded(user_id=user, movie_id=5, at=datetime.now(UTC)), producer="library"
    )
    await bus.publish(envelope)
    dead_letter_queue, consumer_queue = bus.topology.resolve("recommendations")
    letters: list = []  # type: ignore[type-arg]

    async def dead_lettered() -> None:
        while not letters:
            letters.extend(await list_dead_letters(infra.amqp_url, dead_letter_queue))
            await asyncio.sleep(0.1)

    await asyncio.wait_for(dead_lettered(), 20)
    assert letters[0].message_id == str(envelope.event_id)
    broken[0] = False
    assert (
        await replay(
            infra.amqp_url, dead_letter_queue, consumer_queue, message_id=str(envelope.event_id)
        )
        == 1
    )
    await _until(lambda: _favorites(recommendations_engine, user) == [5])
    assert await list_dead_letters(infra.amqp_url, dead_letter_queue) == []


async def test_broker_away_while_writing_then_back_delivers_everything_once(
    recommendations_engine: Engine,
    make_bus: Callable[..., EventBus],
    favorites_engine_factory,
    infra: Infra,
    subscription,
) -> None:  # type: ignore[no-untyped-def]
    favorites_engine = favorites_engine_factory()
    consumer = make_bus()
    consumer.subscribe(subscription(engine=recommendations_engine))
    consumer.start()
    await consumer.wait_ready(15)

    proxy = TcpProxy(int(infra.amqp_url.rsplit(":", 1)[1].strip("/")))
    await proxy.start()
    producer = make_bus(amqp_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/")
    producer.start()
    await producer.wait_ready(15)
    relay = OutboxRelay(engine=favorites_engine, bus=producer, poll_interval_s=0.2)
    relay.start()
    try:
        await proxy.cut()  # the broker is unreachable from the writing service
        user = uuid.uuid4()
        with Session(favorites_engine) as session:
            for movie_id in range(100, 110):
                favorites_service.add(session, user_id=user, movie_id=movie_id)
        await asyncio.sleep(1)
        assert _favorites(recommendations_engine, user) == []
        await proxy.start()  # back, on the same address: no restart of anything
        await _until(lambda: len(_favorites(recommendations_engine, user)) == 10, timeout_s=30)

        def pending() -> int:
            with favorites_engine.connect() as connection:
                return int(
                    connection.execute(
                        text("SELECT count(*) FROM outbox_event WHERE sent_at IS NULL")
                    ).scalar_one()
                )

        # The consumer can be done before the relay has recorded the broker's confirms.
        await _until(lambda: pending() == 0, timeout_s=10)
        await asyncio.sleep(0.5)
        assert _applied(recommendations_engine) == 10
    finally:
        await relay.stop()
        await proxy.cut()


async def test_consumer_resumes_after_the_broker_connection_drops(
    recommendations_engine: Engine, make_bus: Callable[..., EventBus], infra: Infra, subscription
) -> None:
    proxy = TcpProxy(int(infra.amqp_url.rsplit(":", 1)[1].strip("/")))
    await proxy.start()
    consumer = make_bus(amqp_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/")
    consumer.subscribe(subscription(engine=recommendations_engine))
    consumer.start()
    await consumer.wait_ready(15)
    await proxy.cut()
    await asyncio.sleep(1)
    await proxy.start()
    producer = make_bus()
    producer.start()
    await producer.wait_ready(15)
    user = uuid.uuid4()
    await producer.publish(
        wrap(FavoriteAdded(user_id=user, movie_id=6, at=datetime.now(UTC)), producer="f")
    )
    try:
        await _until(lambda: _favorites(recommendations_engine, user) == [6], timeout_s=30)
    finally:
        await proxy.cut()


async def test_preferences_and_favorites_drop_the_cached_recommendations(
    recommendations_engine: Engine, cache: UserPageCache
) -> None:
    from recommendations import profile as profiles
    from shared.events import UserPreferencesChanged

    user = uuid.uuid4()
    await cache.put(user, await cache.get(user, "1:20"), {"all": b"[]", "1:20": b"{}"})
    changed = UserPreferencesChanged(
        user_id=user, preferences={"genres": [28, 12], "include_adult": True}
    )
    await _handle(recommendations_engine, changed, wrap(changed, producer="auth"), cache)
    assert (await cache.get(user, "1:20")).body is None
    with Session(recommendations_engine) as session:
        loaded = profiles.load(session, user_id=user)
    assert loaded.preferred_genres == [28, 12] and loaded.include_adult

    await cache.put(user, await cache.get(user, "1:20"), {"all": b"[]", "1:20": b"{}"})
    added = FavoriteAdded(user_id=user, movie_id=8, at=datetime.now(UTC))
    await _handle(recommendations_engine, added, wrap(added, producer="library"), cache)
    assert (await cache.get(user, "1:20")).body is None


async def test_the_catalog_answering_by_new_preferences_drops_the_cached_recommendations(
    recommendations_engine: Engine, cache: UserPageCache
) -> None:
    """A list ranked between the user's change and the catalog's taking it (from the
    catalog's old answers) is dropped when the catalog says it answers by the new ones."""
    from shared.events import CatalogViewerChanged

    user = uuid.uuid4()
    await cache.put(user, await cache.get(user, "1:20"), {"all": b"[]", "1:20": b"{}"})
    changed = CatalogViewerChanged(user_id=user, changed_at=datetime.now(UTC))
    await _handle(recommendations_engine, changed, wrap(changed, producer="catalog"), cache)
    assert (await cache.get(user, "1:20")).body is None


async def test_trending_refresh_drops_every_users_recommendations(
    recommendations_engine: Engine, cache: UserPageCache
) -> None:
    from shared.events import CatalogTrendingRefreshed

    users = [uuid.uuid4() for _ in range(3)]
    for user in users:
        await cache.put(user, await cache.get(user, "1:20"), {"all": b"[]", "1:20": b"{}"})
    refreshed = CatalogTrendingRefreshed(
        window="week", movie_ids=[1], new_movie_ids=[], refreshed_at=datetime.now(UTC)
    )
    await _handle(recommendations_engine, refreshed, wrap(refreshed, producer="catalog"), cache)
    for user in users:
        assert (await cache.get(user, "1:20")).body is None


async def test_a_result_computed_before_an_event_is_not_cached_after_it(
    cache: UserPageCache,
) -> None:
    user = uuid.uuid4()
    before = await cache.get(user, "1:20")  # a request starts computing from the old profile
    await cache.drop(user)  # meanwhile the user's event is applied
    assert not await cache.put(user, before, {"all": b"[]", "1:20": b"old"})
    assert (await cache.get(user, "1:20")).body is None
    fresh = await cache.get(user, "1:20")
    assert await cache.put(user, fresh, {"all": b"[]", "1:20": b"new"})
    assert (await cache.get(user, "1:20")).body == b"new"


async def test_ratings_and_history_feed_the_profile(
    recommendations_engine: Engine, cache: UserPageCache
) -> None:
    from recommendations import profile as profiles
    from shared.events import HistoryAdded, HistoryRemoved, RatingRemoved, RatingSet

    user, now = uuid.uuid4(), datetime.now(UTC)
    for event in (
        RatingSet(user_id=user, movie_id=1, score=9.0, at=now),
        RatingSet(
            user_id=user, movie_id=1, score=4.0, previous_score=9.0, at=now + timedelta(seconds=1)
        ),
        RatingSet(user_id=user, movie_id=2, score=8.0, at=now),
        RatingRemoved(user_id=user, movie_id=2, score=8.0, at=now + timedelta(seconds=1)),
        HistoryAdded(user_id=user, movie_id=3, watched_at=now),
        HistoryAdded(user_id=user, movie_id=4, watched_at=now),
        HistoryRemoved(user_id=user, movie_id=4, at=now + timedelta(seconds=1)),
    ):
        await _handle(recommendations_engine, event, wrap(event, producer="library"), cache)
    with Session(recommendations_engine) as session:
        loaded = profiles.load(session, user_id=user)
    assert {(s.movie_id, s.kind, s.score) for s in loaded.signals} == {
        (1, "rating", 4.0),
        (3, "watched", None),
    }
    assert loaded.excluded() == {1, 3}


def test_top_picks_announce_only_new_titles(recommendations_engine: Engine) -> None:
    from recommendations import top_picks

    user = uuid.uuid4()

    def movies(*ids: int) -> list[dict[str, object]]:
        return [{"id": i, "title": f"Title {i}", "genre_ids": [18]} for i in ids]

    with Session(recommendations_engine) as session:
        assert top_picks.record(session, user_id=user, movies=movies(1, 2, 3)) == []  # baseline
        assert top_picks.record(session, user_id=user, movies=movies(2, 3, 4)) == [4]
        assert top_picks.record(session, user_id=user, movies=movies(2, 3, 4)) == []
    with recommendations_engine.connect() as connection:
        rows = list(connection.execute(text("SELECT type, content FROM outbox_event")))
    assert [row[0] for row in rows] == ["recommendations.updated"]
    # the event carries what notifications shows, so it need not ask the catalog
    data = json.loads(bytes(rows[0][1]))["data"]
    assert data["new_movies"] == [{"id": 4, "title": "Title 4", "genre_ids": [18]}]


async def test_events_that_come_after_the_deletion_bring_nothing_of_the_user_back(
    recommendations_engine: Engine, cache: UserPageCache
) -> None:
    """A favorite or a preferences change of a deleted user handled late (a retry from the
    delay queue, another replica's) writes nothing: the deletion leaves a tombstone."""
    from recommendations import profile as profiles
    from shared.events import UserDeleted, UserPreferencesChanged

    user = uuid.uuid4()
    before = datetime.now(UTC)
    added = FavoriteAdded(user_id=user, movie_id=1, at=before)
    await _handle(recommendations_engine, added, wrap(added, producer="library"), cache)
    deleted = UserDeleted(user_id=user, deleted_at=datetime.now(UTC))
    await _handle(recommendations_engine, deleted, wrap(deleted, producer="auth"), cache)
    late = [
        FavoriteAdded(user_id=user, movie_id=2, at=before),
        UserPreferencesChanged(user_id=user, preferences={"genres": [28]}),
    ]
    for event in late:
        await _handle(recommendations_engine, event, wrap(event, producer="late"), cache)
    with Session(recommendations_engine) as session:
        loaded = profiles.load(session, user_id=user)
    assert loaded.signals == [] and loaded.preferred_genres == []
