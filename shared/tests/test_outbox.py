"""Outbox and inbox on the real PostgreSQL and RabbitMQ."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from shared.bus import EventBus
from shared.db import make_engine
from shared.events import EventEnvelope, FavoriteAdded, IntegrationEvent
from shared.inbox import record_once
from shared.outbox import OutboxRelay, add_event
from testsupport.bus import subscription_of
from testsupport.infra import Infra


@pytest.fixture(scope="module")
def engine(make_database) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    engine = make_engine(make_database("catalog"))
    yield engine
    engine.dispose()


@pytest.fixture
def clean(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM outbox_event"))
        connection.execute(text("DELETE FROM inbox_event"))


@pytest.fixture
async def collecting_bus(infra: Infra) -> AsyncIterator[tuple[EventBus, list[uuid.UUID]]]:
    received: list[uuid.UUID] = []

    async def collect(event: IntegrationEvent, envelope: EventEnvelope) -> None:
        received.append(envelope.event_id)

    bus = EventBus(
        amqp_url=infra.amqp_url,
        namespace=f"test-outbox-{uuid.uuid4().hex[:8]}",
        producer="tests",
        queue_expires_ms=60_000,
    )
    bus.subscribe(subscription_of("collector", FavoriteAdded, collect))
    bus.start()
    await bus.wait_ready(15)
    yield bus, received
    await bus.close()


def _stage(engine: Engine, count: int) -> list[uuid.UUID]:
    ids = []
    with Session(engine) as session:
        for movie_id in range(1, count + 1):
            event = FavoriteAdded(user_id=uuid.uuid4(), movie_id=movie_id, at=datetime.now(UTC))
            ids.append(add_event(session, event, producer="tests").event_id)
        session.commit()
    return ids


async def _until(predicate, timeout_s: float = 15) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def _pending(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM outbox_event WHERE sent_at IS NULL")
            ).scalar_one()
        )


async def test_rolled_back_change_publishes_nothing(engine: Engine, clean: None) -> None:
    with Session(engine) as session:
        add_event(
            session,
            FavoriteAdded(user_id=uuid.uuid4(), movie_id=1, at=datetime.now(UTC)),
            producer="t",
        )
        session.rollback()
    assert _pending(engine) == 0


async def test_relay_publishes_committed_events(
    engine: Engine, clean: None, collecting_bus: tuple[EventBus, list[uuid.UUID]]
) -> None:
    bus, received = collecting_bus
    relay = OutboxRelay(engine=engine, bus=bus, poll_interval_s=0.2)
    relay.start()
    try:
        ids = _stage(engine, 5)
        await _until(lambda: len(received) >= 5)
        assert sorted(received) == sorted(ids)
        await _until(lambda: _pending(engine) == 0)
    finally:
        await relay.stop()


async def test_events_wait_while_broker_is_away_then_drain(
    engine: Engine, clean: None, infra: Infra, collecting_bus: tuple[EventBus, list[uuid.UUID]]
) -> None:
    consumer_bus, received = collecting_bus
    offline = EventBus(amqp_url="amqp://guest:guest@127.0.0.1:1/", namespace="x", producer="tests")
    relay = OutboxRelay(engine=engine, bus=offline, poll_interval_s=0.1)
    relay.start()
    ids = _stage(engine, 3)
    await asyncio.sleep(0.5)
    assert _pending(engine) == 3
    await relay.stop()
    # The broker is back (here: a relay with a working connection takes over).
    online = OutboxRelay(engine=engine, bus=consumer_bus, poll_interval_s=0.1)
    online.start()
    try:
        await _until(lambda: len(received) >= 3)
        await _until(lambda: _pending(engine) == 0)
        assert sorted(received) == sorted(ids)
    finally:
        await online.stop()


async def test_two_relays_never_publish_a_row_twice(
    engine: Engine, clean: None, collecting_bus: tuple[EventBus, list[uuid.UUID]]
) -> None:
    bus, received = collecting_bus
    ids = _stage(engine, 300)
    relays = [
        OutboxRelay(engine=engine, bus=bus, batch_size=20, poll_interval_s=0.05) for _ in range(2)
    ]
    for relay in relays:
        relay.start()
    try:
        await _until(lambda: len(received) >= 300, timeout_s=30)
        await asyncio.sleep(0.5)
        assert len(received) == 300
        assert sorted(received) == sorted(ids)
    finally:
        for relay in relays:
            await relay.stop()


def test_inbox_records_an_event_once(engine: Engine, clean: None) -> None:
    event_id = uuid.uuid4()
    with Session(engine) as session:
        assert record_once(session, consumer="c", event_id=event_id, event_type="t")
        session.commit()
    with Session(engine) as session:
        assert not record_once(session, consumer="c", event_id=event_id, event_type="t")
        assert record_once(session, consumer="other", event_id=event_id, event_type="t")
        session.commit()
