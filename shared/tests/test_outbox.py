"""Outbox and inbox on the real PostgreSQL and RabbitMQ."""

import asyncio
import random
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, event, text
from sqlmodel import Session

from shared.bus import EventBus
from shared.db import make_engine
from shared.events import EventEnvelope, FavoriteAdded, IntegrationEvent
from shared.inbox import record_once
from shared.outbox import CLAIM_LEASE_S, ClaimedRow, OutboxRelay, RelayThread, add_event, bundles
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
    lags_before = _publish_lags()
    relay.start()
    try:
        ids = _stage(engine, 5)
        await _until(lambda: len(received) >= 5)
        assert sorted(received) == sorted(ids)
        await _until(lambda: _pending(engine) == 0)
    finally:
        await relay.stop()
    assert _publish_lags() == lags_before + 5  # each confirmed event's lag, measured


async def test_the_relays_own_commits_do_not_wait_for_the_disk(
    engine: Engine, clean: None, collecting_bus: tuple[EventBus, list[uuid.UUID]]
) -> None:
    """A claim or a mark lost with the server's last moments only sends an event again (the
    inboxes make that harmless), so the relay's transactions do not wait for their WAL flush,
    and the writes they follow do not queue behind them for the disk."""
    bus, received = collecting_bus
    statements: dict[int, list[str]] = {}

    def note(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.setdefault(id(connection), []).append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", note)
    relay = OutboxRelay(engine=engine, bus=bus, poll_interval_s=0.2)
    relay.start()
    try:
        _stage(engine, 3)
        await _until(lambda: len(received) >= 3)
        await _until(lambda: _pending(engine) == 0)
    finally:
        await relay.stop()
        event.remove(engine, "before_cursor_execute", note)
    relay_steps = [
        (before, statement)
        for seen in statements.values()
        for before, statement in zip(["", *seen], seen, strict=False)
        if statement.startswith("UPDATE outbox_event")
    ]
    assert {statement.split(" SET ")[1].split(" ")[0] for _, statement in relay_steps} >= {
        "next_attempt_at",  # the claim
        "sent_at",  # the mark
    }
    assert all(before == "SET LOCAL synchronous_commit = off" for before, _ in relay_steps), (
        relay_steps
    )


def _publish_lags() -> float:
    return float(REGISTRY.get_sample_value("events_publish_lag_seconds_count") or 0.0)


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


def _claimed(engine: Engine) -> int:
    """Rows some relay holds: pending, with their next attempt pushed past now."""
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM outbox_event "
                    "WHERE sent_at IS NULL AND next_attempt_at > now()"
                )
            ).scalar_one()
        )


async def test_a_stop_during_a_slow_claim_ends_at_once_and_loses_nothing(
    engine: Engine, clean: None, collecting_bus: tuple[EventBus, list[uuid.UUID]]
) -> None:
    """A stop that lands while the claim waits for a database connection (a busy database)
    ends the relay within its deadline; the thread that was waiting claims nothing when it
    gets its connection, so another relay publishes every row at once, not after a lease."""
    bus, received = collecting_bus
    ids = _stage(engine, 5)
    slow = make_engine(str(engine.url.render_as_string(hide_password=False)))
    waiting, go_on = threading.Event(), threading.Event()

    @event.listens_for(slow, "checkout")
    def busy_database(*_: Any) -> None:
        waiting.set()
        go_on.wait(30)

    relay = OutboxRelay(engine=slow, bus=bus, poll_interval_s=0.05)
    relay.start()
    loop = asyncio.get_running_loop()
    try:
        assert await asyncio.to_thread(waiting.wait, 10), "the relay never asked for a connection"
        started = loop.time()
        async with asyncio.timeout(6):  # a relay that cannot stop fails here, not by hanging
            await relay.stop(timeout_s=2)
        assert loop.time() - started < 3
    finally:
        go_on.set()
    await asyncio.sleep(0.5)  # the thread that waited has its connection now
    assert _claimed(engine) == 0
    online = OutboxRelay(engine=engine, bus=bus, poll_interval_s=0.05)
    online.start()
    try:
        await _until(lambda: len(received) >= 5, timeout_s=CLAIM_LEASE_S - 5)
        assert sorted(received) == sorted(ids)
    finally:
        await online.stop()
        slow.dispose()


class _StuckBus:
    """A broker that takes every message and never confirms it."""

    is_connected = True

    def __init__(self) -> None:
        self.publishing = asyncio.Event()

    async def publish_raw(self, **_: Any) -> None:
        self.publishing.set()
        await asyncio.sleep(3600)

    publish_bundle = publish_raw


async def _stops_in_time_releasing_its_claims(
    relay: OutboxRelay | RelayThread, engine: Engine
) -> None:
    """The relay holds the 5 rows staged (stuck publishing them); its stop gives them back
    within its 2 s."""
    assert _claimed(engine) == 5
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await relay.stop(timeout_s=2)
    assert loop.time() - started < 2.5
    assert _claimed(engine) == 0  # released, not left to their lease


async def test_a_stop_during_a_publish_gives_the_claimed_rows_back(
    engine: Engine, clean: None, collecting_bus: tuple[EventBus, list[uuid.UUID]]
) -> None:
    bus, received = collecting_bus
    ids = _stage(engine, 5)
    stuck = _StuckBus()
    relay = OutboxRelay(engine=engine, bus=stuck, poll_interval_s=0.05)  # type: ignore[arg-type]
    relay.start()
    await asyncio.wait_for(stuck.publishing.wait(), 10)
    await _stops_in_time_releasing_its_claims(relay, engine)
    online = OutboxRelay(engine=engine, bus=bus, poll_interval_s=0.05)
    online.start()
    try:
        await _until(lambda: len(received) >= 5, timeout_s=CLAIM_LEASE_S - 5)
        assert sorted(received) == sorted(ids)
        await _until(lambda: _pending(engine) == 0)
    finally:
        await online.stop()


async def test_a_relay_that_died_leaves_its_rows_for_the_lease_only(
    engine: Engine, clean: None
) -> None:
    """No stop at all (SIGKILL): the claims run out after CLAIM_LEASE_S."""
    _stage(engine, 3)
    stuck = _StuckBus()
    relay = OutboxRelay(engine=engine, bus=stuck, poll_interval_s=0.05)  # type: ignore[arg-type]
    relay.start()
    await asyncio.wait_for(stuck.publishing.wait(), 10)
    with engine.connect() as connection:
        lease_left_s = connection.execute(
            text(
                "SELECT max(extract(epoch FROM next_attempt_at - now())) FROM outbox_event "
                "WHERE sent_at IS NULL"
            )
        ).scalar_one()
    assert 0 < lease_left_s <= CLAIM_LEASE_S
    await relay.stop(timeout_s=1)


async def test_a_cancelled_stop_is_not_swallowed(
    engine: Engine, clean: None, collecting_bus: tuple[EventBus, list[uuid.UUID]]
) -> None:
    """Whoever waits for the relay to stop can itself be cancelled (its own deadline)."""
    stuck = _StuckBus()
    _stage(engine, 1)
    relay = OutboxRelay(engine=engine, bus=stuck, poll_interval_s=0.05)  # type: ignore[arg-type]
    relay.start()
    await asyncio.wait_for(stuck.publishing.wait(), 10)
    stopper = asyncio.create_task(relay.stop(timeout_s=30))
    await asyncio.sleep(0.1)
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    await relay.stop(timeout_s=2)


def test_inbox_records_an_event_once(engine: Engine, clean: None) -> None:
    event_id = uuid.uuid4()
    with Session(engine) as session:
        assert record_once(session, consumer="c", event_id=event_id, event_type="t")
        session.commit()
    with Session(engine) as session:
        assert not record_once(session, consumer="c", event_id=event_id, event_type="t")
        assert record_once(session, consumer="other", event_id=event_id, event_type="t")
        session.commit()


class _SlowConfirms:
    """A bus whose broker confirms only once many publishes wait together (or after 5 s)."""

    is_connected = True

    def __init__(self, confirm_at: int) -> None:
        self.order: list[str] = []
        self.waiting = 0
        self.most_waiting = 0
        self.confirm_at = confirm_at
        self.confirmed = asyncio.Event()

    async def publish_raw(self, *, body: bytes, event_id: str, **_: Any) -> None:
        await self.publish_bundle(bodies=[body], event_ids=[event_id])

    async def publish_bundle(self, *, bodies: list[bytes], event_ids: list[str], **_: Any) -> None:
        self.order += event_ids
        self.waiting += len(event_ids)
        self.most_waiting = max(self.most_waiting, self.waiting)
        if self.waiting >= self.confirm_at:
            self.confirmed.set()
        try:
            async with asyncio.timeout(5):
                await self.confirmed.wait()
        finally:
            self.waiting -= len(event_ids)


async def test_the_relay_sends_the_next_batches_while_the_broker_confirms(
    engine: Engine, clean: None
) -> None:
    ids = _stage(engine, 50)
    bus = _SlowConfirms(confirm_at=30)
    relay = OutboxRelay(engine=engine, bus=bus, batch_size=10, poll_interval_s=0.2)  # type: ignore[arg-type]
    relay.start()
    try:
        await _until(lambda: _pending(engine) == 0, timeout_s=4)
    finally:
        await relay.stop()
    assert bus.most_waiting >= 30  # three batches and more awaited their confirms together
    assert bus.order == [str(i) for i in ids]  # and went out in the outbox's order


class _InstantBus:
    is_connected = True

    def __init__(self) -> None:
        self.order: list[str] = []

    async def publish_raw(self, *, body: bytes, event_id: str, **_: Any) -> None:
        self.order.append(event_id)

    async def publish_bundle(self, *, bodies: list[bytes], event_ids: list[str], **_: Any) -> None:
        self.order += event_ids


async def test_under_load_a_relay_claims_the_commits_that_follow_together(
    engine: Engine, clean: None
) -> None:
    bus = _InstantBus()
    # a linger longer than ten commits take, even on a slow machine
    relay = OutboxRelay(engine=engine, bus=bus, poll_interval_s=5, linger_s=0.3)  # type: ignore[arg-type]
    batches: list[int] = []
    claim = relay._claim

    def counted_claim() -> list[Any]:
        rows = claim()
        if rows:
            batches.append(len(rows))
        return rows

    relay._claim = counted_claim  # type: ignore[method-assign]
    relay.start()
    try:
        first = _stage(engine, 1)  # a lone commit when idle: claimed by itself
        await _until(lambda: bus.order == [str(first[0])], timeout_s=4)

        def one_commit_at_a_time() -> list[uuid.UUID]:
            ids = []
            for _ in range(10):
                ids += _stage(engine, 1)
                time.sleep(0.001)
            return ids

        ids = await asyncio.to_thread(one_commit_at_a_time)
        await _until(lambda: len(bus.order) == 11, timeout_s=4)
    finally:
        await relay.stop()
    assert bus.order == [str(i) for i in first + ids]
    assert batches[0] == 1 and len(batches) <= 3, batches  # ten commits, not ten claims


async def test_a_relay_on_its_own_thread_is_woken_by_commits_and_stops_in_time(
    engine: Engine, clean: None, collecting_bus: tuple[EventBus, list[uuid.UUID]], infra: Infra
) -> None:
    bus, received = collecting_bus

    def own_bus() -> EventBus:  # made in the relay's thread, for its loop
        return EventBus(amqp_url=infra.amqp_url, namespace=bus.namespace, producer="tests")

    relay = RelayThread(engine=engine, make_bus=own_bus, poll_interval_s=60)
    relay.start()
    try:
        assert relay.relay is not None
        for _ in range(100):  # its connection up: from then on only a commit's wake can send
            if relay.relay.bus.is_connected:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # its first pass (claimed nothing) is over
        ids = _stage(engine, 5)
        await _until(lambda: len(received) >= 5, timeout_s=10)  # far below the 60 s poll
        assert sorted(received) == sorted(ids)
        await _until(lambda: _pending(engine) == 0)
    finally:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await relay.stop(timeout_s=3)
        assert loop.time() - started < 3.5
    assert not any(thread.name == "outbox-relay" for thread in threading.enumerate())


class _StuckThreadBus:
    """A broker, for a relay's own thread, that takes every message and never confirms it."""

    is_connected = True

    def __init__(self) -> None:
        self.publishing = threading.Event()

    def start(self) -> None:
        pass

    async def publish_raw(self, **_: Any) -> None:
        self.publishing.set()
        await asyncio.sleep(3600)

    publish_bundle = publish_raw

    async def close(self, timeout_s: float = 1.0) -> bool:
        return True


async def test_a_relay_thread_stopped_mid_publish_gives_its_rows_back_in_time(
    engine: Engine, clean: None
) -> None:
    _stage(engine, 5)
    stuck = _StuckThreadBus()
    relay = RelayThread(engine=engine, make_bus=lambda: stuck, poll_interval_s=0.05)  # type: ignore[arg-type, return-value]
    relay.start()
    assert await asyncio.to_thread(stuck.publishing.wait, 10)
    await _stops_in_time_releasing_its_claims(relay, engine)
    assert not any(thread.name == "outbox-relay" for thread in threading.enumerate())


def _row(number: int, event_type: str, user: str | None) -> ClaimedRow:
    content = orjson.dumps({"type": event_type, "data": {"user_id": user} if user else {}})
    claimed = SimpleNamespace(
        id=number,
        event_id=uuid.uuid4(),
        type=event_type,
        content=memoryview(content),  # as psycopg2 gives a bytea
        correlation_id=None,
        times_sent=0,
        created_at=datetime.now(UTC),
    )
    return ClaimedRow.of(claimed)


def _shape(found: list[list[ClaimedRow]]) -> list[list[int]]:
    return [[row.id for row in bundle] for bundle in found]


def test_rows_of_a_type_go_in_one_bundle_in_the_order_of_their_first() -> None:
    rows = [_row(1, "a", "u1"), _row(2, "b", "u2"), _row(3, "a", "u3"), _row(4, "b", "u4")]
    assert [row.subject for row in rows] == ["u1", "u2", "u3", "u4"]
    assert _shape(bundles(rows)) == [[1, 3], [2, 4]]


def test_a_users_rows_of_two_types_start_a_new_round() -> None:
    rows = [_row(1, "a", "u1"), _row(2, "b", "u2"), _row(3, "b", "u1"), _row(4, "a", "u3")]
    assert _shape(bundles(rows)) == [[1], [2], [3], [4]]
    rows = [_row(1, "a", "u1"), _row(2, "a", "u1"), _row(3, "b", "u2"), _row(4, "a", "u1")]
    assert _shape(bundles(rows)) == [[1, 2, 4], [3]]  # one type for u1: no new round


def test_an_event_with_no_user_goes_alone_in_its_place() -> None:
    rows = [_row(1, "a", "u1"), _row(2, "m", None), _row(3, "a", "u2"), _row(4, "a", "u3")]
    assert _shape(bundles(rows)) == [[1], [2], [3, 4]]


def test_a_full_bundle_goes_at_once() -> None:
    rows = [_row(n, "a", f"u{n}") for n in range(1, 6)] + [_row(6, "b", "u9")]
    assert _shape(bundles(rows, max_events=2)) == [[1, 2], [3, 4], [5], [6]]


def test_bundles_keep_every_users_order_and_every_userless_place() -> None:
    """Random claims: published bundle after bundle, no two rows of a user and no row beside a
    userless one are swapped, and every row goes once."""
    chance = random.Random(7)
    for _ in range(300):
        rows = [
            _row(n, chance.choice("abc"), chance.choice(["u1", "u2", "u3", "u4", None]))
            for n in range(1, chance.randint(1, 40))
        ]
        sent = [row for bundle in bundles(rows, max_events=chance.randint(1, 8)) for row in bundle]
        assert sorted(row.id for row in sent) == [row.id for row in rows]
        place = {row.id: index for index, row in enumerate(sent)}
        for first in rows:
            for later in rows[first.id :]:
                kept = (
                    first.subject is None or later.subject is None or first.subject == later.subject
                )
                if kept:
                    assert place[first.id] < place[later.id]
        assert all(len({row.type for row in bundle}) == 1 for bundle in bundles(rows))
