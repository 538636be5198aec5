"""The event bus on the real RabbitMQ: delivery, retries, dead letters, malformed messages."""

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import aio_pika
import pytest

from shared.bus import EventBus, Topology
from shared.bus.bus import CHANNEL_LOST_S, FAILOVER_AFTER_S, broker_urls
from shared.events import EventEnvelope, FavoriteAdded, IntegrationEvent, wrap
from testsupport.bus import subscription_of
from testsupport.infra import Infra, TcpProxy


def _favorite() -> FavoriteAdded:
    return FavoriteAdded(user_id=uuid.uuid4(), movie_id=42, at=datetime.now(UTC))


@pytest.fixture
async def make_bus(infra: Infra) -> AsyncIterator[Callable[..., EventBus]]:
    buses: list[EventBus] = []
    namespace = f"test-bus-{uuid.uuid4().hex[:8]}"

    def make(**kwargs: object) -> EventBus:
        options: dict[str, object] = {
            "amqp_url": infra.amqp_url,
            "namespace": namespace,
            "producer": "tests",
            "max_retries": 2,
            "retry_delay_ms": 100,
            "queue_expires_ms": 60_000,
            **kwargs,
        }
        bus = EventBus(**options)  # type: ignore[arg-type]
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.close()


async def _dead_letters(
    infra: Infra, bus: EventBus, name: str, expected: int
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(Topology(bus.namespace).dead_letter_queue(name))
        messages = []
        for _ in range(100):
            message = await queue.get(no_ack=True, fail=False)
            if message is not None:
                messages.append(message)
                if len(messages) >= expected:
                    break
            else:
                await asyncio.sleep(0.05)
        return messages
    finally:
        await connection.close()


async def test_published_event_reaches_typed_handler(make_bus: Callable[..., EventBus]) -> None:
    received: asyncio.Queue[tuple[IntegrationEvent, EventEnvelope]] = asyncio.Queue()

    async def on_added(event: IntegrationEvent, envelope: EventEnvelope) -> None:
        await received.put((event, envelope))

    bus = make_bus()
    bus.subscribe(subscription_of("consumer", FavoriteAdded, on_added))
    bus.start()
    await bus.wait_ready(15)
    sent = wrap(_favorite(), producer="tests")
    await bus.publish(sent)
    event, envelope = await asyncio.wait_for(received.get(), 10)
    assert isinstance(event, FavoriteAdded)
    assert envelope.event_id == sent.event_id
    assert event.movie_id == 42


async def test_failing_handler_is_retried_then_succeeds(make_bus: Callable[..., EventBus]) -> None:
    attempts: list[uuid.UUID] = []
    done = asyncio.Event()

    async def flaky(event: IntegrationEvent, envelope: EventEnvelope) -> None:
        attempts.append(envelope.event_id)
        if len(attempts) < 2:
            raise RuntimeError("first try fails")
        done.set()

    bus = make_bus()
    bus.subscribe(subscription_of("flaky", FavoriteAdded, flaky))
    bus.start()
    await bus.wait_ready(15)
    await bus.publish(wrap(_favorite(), producer="tests"))
    await asyncio.wait_for(done.wait(), 10)
    assert len(attempts) == 2 and attempts[0] == attempts[1]


async def test_always_failing_handler_ends_in_dead_letter_queue(
    make_bus: Callable[..., EventBus], infra: Infra
) -> None:
    calls = 0

    async def broken(event: IntegrationEvent, envelope: EventEnvelope) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("bug in handler")

    bus = make_bus()
    bus.subscribe(subscription_of("broken", FavoriteAdded, broken))
    bus.start()
    await bus.wait_ready(15)
    sent = wrap(_favorite(), producer="tests")
    await bus.publish(sent)
    dead = await _dead_letters(infra, bus, "broken", 1)
    assert len(dead) == 1
    assert dead[0].message_id == str(sent.event_id)
    assert "handler_failed" in str(dead[0].headers["x-error"])
    assert calls == bus.max_retries + 1


async def _queued(infra: Infra, bus: EventBus, name: str) -> list[FavoriteAdded]:
    """The events waiting in a consumer's queue (read and left there)."""
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(Topology(bus.namespace).queue(name))
        found = []
        while (message := await queue.get(fail=False)) is not None:
            found.append(
                FavoriteAdded.model_validate(EventEnvelope.model_validate_json(message.body).data)
            )
        return found  # unacknowledged: back in the queue when the connection closes
    finally:
        await connection.close()


async def test_messages_handled_together_are_acknowledged_together(
    make_bus: Callable[..., EventBus], infra: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    acks: list[bool] = []
    original = aio_pika.IncomingMessage.ack

    async def counted(message: aio_pika.IncomingMessage, multiple: bool = False) -> None:
        acks.append(multiple)
        await original(message, multiple=multiple)

    monkeypatch.setattr(aio_pika.IncomingMessage, "ack", counted)
    gate, handled = asyncio.Event(), []

    async def together(event: IntegrationEvent, envelope: EventEnvelope) -> None:
        await gate.wait()  # as the events a consumer applies in one transaction
        handled.append(envelope.event_id)

    bus = make_bus()
    bus.subscribe(subscription_of("together", FavoriteAdded, together))
    bus.start()
    await bus.wait_ready(15)
    for _ in range(20):
        await bus.publish(wrap(_favorite(), producer="tests"))
    for _ in range(100):
        if bus.is_connected and len(acks) == 0 and _waiting(bus) == 20:
            break
        await asyncio.sleep(0.05)
    gate.set()
    for _ in range(100):
        if len(handled) == 20 and not _waiting(bus):
            break
        await asyncio.sleep(0.05)
    assert len(handled) == 20
    assert acks and len(acks) <= 2 and acks[-1] is True, acks
    await bus.close()
    assert await _queued(infra, bus, "together") == []  # every one acknowledged


async def test_a_message_still_being_handled_is_never_acknowledged_with_later_ones(
    make_bus: Callable[..., EventBus], infra: Infra
) -> None:
    fast_done: list[int] = []

    async def handler(event: IntegrationEvent, envelope: EventEnvelope) -> None:
        assert isinstance(event, FavoriteAdded)
        if event.movie_id == 1:
            await asyncio.sleep(60)  # still being handled when the bus closes
        fast_done.append(event.movie_id)

    bus = make_bus()
    bus.subscribe(subscription_of("slow", FavoriteAdded, handler))
    bus.start()
    await bus.wait_ready(15)
    for movie_id in range(1, 7):  # the slow one first: the lowest delivery tag
        event = FavoriteAdded(user_id=uuid.uuid4(), movie_id=movie_id, at=datetime.now(UTC))
        await bus.publish(wrap(event, producer="tests"))
    for _ in range(100):
        if len(fast_done) == 5 and not _waiting(bus, ready_only=True):
            break
        await asyncio.sleep(0.05)
    assert sorted(fast_done) == [2, 3, 4, 5, 6]
    await bus.close()
    assert [event.movie_id for event in await _queued(infra, bus, "slow")] == [1]


def _waiting(bus: EventBus, *, ready_only: bool = False) -> int:
    """Messages the bus's consumers hold unsettled (handled and not yet acknowledged, with
    `ready_only`)."""
    return sum(
        sum(1 for ready in tags.values() if ready is not None or not ready_only)
        for consumer in bus.consumers.values()
        for tags in consumer.acks._unsettled.values()
    )


async def _collecting(
    make_bus: Callable[..., EventBus], name: str
) -> tuple[EventBus, asyncio.Queue[uuid.UUID]]:
    """A started bus whose consumer `name` puts each favorite.added event's id in a queue."""
    handled: asyncio.Queue[uuid.UUID] = asyncio.Queue()

    async def on_added(event: IntegrationEvent, envelope: EventEnvelope) -> None:
        await handled.put(envelope.event_id)

    bus = make_bus()
    bus.subscribe(subscription_of(name, FavoriteAdded, on_added))
    bus.start()
    await bus.wait_ready(15)
    return bus, handled


async def test_malformed_messages_are_dead_lettered_and_the_queue_keeps_flowing(
    make_bus: Callable[..., EventBus], infra: Infra
) -> None:
    bus, handled = await _collecting(make_bus, "strict")
    good = wrap(_favorite(), producer="tests")
    newer = good.model_copy(update={"event_id": uuid.uuid4(), "version": 99})
    missing_fields = good.model_copy(update={"event_id": uuid.uuid4(), "data": {"user_id": "x"}})
    for body in (b"{not json", newer.to_bytes(), missing_fields.to_bytes()):
        await bus._exchange.publish(  # type: ignore[union-attr]
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key="favorite.added",
        )
    await bus.publish(good)
    assert await asyncio.wait_for(handled.get(), 10) == good.event_id
    dead = await _dead_letters(infra, bus, "strict", 3)
    reasons = sorted(str(m.headers["x-error"]).split(":")[0] for m in dead)
    assert reasons == ["malformed", "malformed", "malformed"]
    assert any("version 99" in str(m.headers["x-error"]) for m in dead)


async def test_a_bundle_is_handled_event_by_event_each_failure_parked_alone(
    make_bus: Callable[..., EventBus], infra: Infra
) -> None:
    """One event of a bundle always fails and one is malformed: each ends in the dead letters
    alone, as a message of its own; the others are handled once, and the bundle is acked."""
    handled: list[uuid.UUID] = []
    events = [wrap(_favorite(), producer="tests") for _ in range(4)]
    failing = events[1].event_id

    async def on_added(event: IntegrationEvent, envelope: EventEnvelope) -> None:
        if envelope.event_id == failing:
            raise ValueError("this one is broken")
        handled.append(envelope.event_id)

    bus = make_bus()
    bus.subscribe(subscription_of("bundled", FavoriteAdded, on_added))
    bus.start()
    await bus.wait_ready(15)
    malformed = events[3].model_copy(update={"data": {"user_id": "x"}})
    await bus.publish_bundle(
        bodies=[
            events[0].to_bytes(),
            events[1].to_bytes(),
            events[2].to_bytes(),
            malformed.to_bytes(),
        ],
        event_ids=[str(event.event_id) for event in events],
        event_type="favorite.added",
    )
    dead = await _dead_letters(infra, bus, "bundled", 2)
    by_id = {message.message_id: message for message in dead}
    assert set(by_id) == {str(failing), str(malformed.event_id)}
    assert "handler_failed" in str(by_id[str(failing)].headers["x-error"])
    assert "malformed" in str(by_id[str(malformed.event_id)].headers["x-error"])
    for message in dead:  # each a single event, as if it had come alone
        assert message.content_type == "application/json"
        assert EventEnvelope.model_validate_json(message.body).event_id == uuid.UUID(
            message.message_id or ""
        )
    assert sorted(handled) == sorted([events[0].event_id, events[2].event_id])
    async with asyncio.timeout(5):
        while _waiting(bus):  # noqa: ASYNC110 (the last settle on its way; no event for it)
            await asyncio.sleep(0.05)
    assert await _queued(infra, bus, "bundled") == []


async def test_a_bundle_that_is_not_one_is_dead_lettered_whole(
    make_bus: Callable[..., EventBus], infra: Infra
) -> None:
    bus, handled = await _collecting(make_bus, "bundles")
    for body in (b"[not json", b"{}", b"[]"):
        await bus._exchange.publish(  # type: ignore[union-attr]
            aio_pika.Message(
                body,
                content_type="application/vnd.event-bundle+json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key="favorite.added",
        )
    good = wrap(_favorite(), producer="tests")
    await bus.publish(good)
    assert await asyncio.wait_for(handled.get(), 10) == good.event_id
    dead = await _dead_letters(infra, bus, "bundles", 3)
    assert sorted(message.body for message in dead) == sorted([b"[not json", b"{}", b"[]"])
    assert all(str(m.headers["x-error"]).startswith("malformed") for m in dead)


async def test_publish_without_broker_raises(make_bus: Callable[..., EventBus]) -> None:
    bus = make_bus()
    with pytest.raises(ConnectionError):
        await bus.publish(wrap(_favorite(), producer="tests"))


async def test_bus_waits_for_an_unreachable_broker_without_crashing() -> None:
    bus = EventBus(amqp_url="amqp://guest:guest@127.0.0.1:1/", namespace="x", producer="tests")
    bus.start()
    await asyncio.sleep(0.3)
    assert not bus.is_connected
    assert bus._task is not None and not bus._task.done()
    await bus.close()


@pytest.mark.timeout(60)
async def test_a_bus_given_several_nodes_moves_on_from_one_that_is_gone(
    make_bus: Callable[..., EventBus], infra: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cluster's node dies: the bus takes the next node within FAILOVER_AFTER_S and
    declares its topology there; events flow again."""
    node = aio_pika.connection.make_url(infra.amqp_url)
    gone = TcpProxy(node.port or 5672)  # the first node, reached through a proxy we can cut
    await gone.start()
    first = str(node.with_port(gone.port))
    monkeypatch.setattr("shared.bus.bus.random.randrange", lambda _: 0)  # start at the first
    received: asyncio.Queue[uuid.UUID] = asyncio.Queue()

    async def on_added(event: IntegrationEvent, envelope: EventEnvelope) -> None:
        await received.put(envelope.event_id)

    bus = make_bus(amqp_url=f"{first},{infra.amqp_url}")
    bus.subscribe(subscription_of("failover", FavoriteAdded, on_added))
    bus.start()
    await bus.wait_ready(10)
    before = wrap(_favorite(), producer="tests")
    await bus.publish(before)
    assert await asyncio.wait_for(received.get(), 10) == before.event_id

    await gone.cut()  # the node is gone for good
    started = asyncio.get_running_loop().time()
    while (
        not bus.is_connected or bus._connection is None or gone.port in (bus._connection.url.port,)
    ):
        assert asyncio.get_running_loop().time() - started < FAILOVER_AFTER_S + 15
        await asyncio.sleep(0.2)
    after = wrap(_favorite(), producer="tests")
    await bus.publish(after)
    # (the first event may come again: its ack may have been lost with the node)
    while (await asyncio.wait_for(received.get(), 10)) != after.event_id:
        pass


def test_broker_urls_are_one_or_several() -> None:
    assert broker_urls("amqp://a/") == ["amqp://a/"]
    assert broker_urls(" amqp://a/ , amqp://b/ ") == ["amqp://a/", "amqp://b/"]
    with pytest.raises(ValueError):
        broker_urls(" , ")


async def test_a_settle_on_a_closed_channel_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from aiormq.exceptions import ChannelInvalidStateError

    from shared.bus.bus import _settle

    async def closed() -> None:
        raise ChannelInvalidStateError("channel closed")

    class _Message:
        message_id = "m-1"

    await _settle(closed(), _Message(), "ack")  # type: ignore[arg-type]
    assert "ack not delivered to the broker" in caplog.text


async def test_the_acks_of_a_closed_channel_are_forgotten() -> None:
    from shared.bus.bus import _Acks

    class _Channel:
        is_closed = False

    class _Message:
        def __init__(self, channel: _Channel, tag: int) -> None:
            self.channel, self.delivery_tag, self.message_id = channel, tag, f"m-{tag}"
            self.acked: list[bool] = []

        async def ack(self, multiple: bool = False) -> None:
            self.acked.append(multiple)

    acks, old, new = _Acks(), _Channel(), _Channel()
    cancelled = _Message(old, 1)  # its handler was cancelled: it stays unsettled
    acks.delivered(cancelled)  # type: ignore[arg-type]
    old.is_closed = True  # a reconnect: the broker delivers it again on a new channel
    handled = _Message(new, 1)
    acks.delivered(handled)  # type: ignore[arg-type]
    await acks.ack(handled)  # type: ignore[arg-type]
    assert handled.acked == [True] and cancelled.acked == []
    assert acks._unsettled == {}


async def test_a_message_whose_channel_closed_while_handled_is_left_to_come_again() -> None:
    """aio-pika's message raises on `.channel` once its channel closed (a SIGTERM, a broker
    restart); the ack gives up quietly instead of failing the consumer's callback."""
    from aiormq.exceptions import ChannelInvalidStateError

    from shared.bus.bus import _Acks

    class _Channel:
        is_closed = False

    class _Message:
        def __init__(self, channel: _Channel) -> None:
            self._channel, self.delivery_tag, self.message_id = channel, 1, "m-1"
            self.acked: list[bool] = []

        @property
        def channel(self) -> _Channel:
            if self._channel.is_closed:
                raise ChannelInvalidStateError
            return self._channel

        async def ack(self, multiple: bool = False) -> None:
            self.acked.append(multiple)

    acks, channel = _Acks(), _Channel()
    message = _Message(channel)
    acks.delivered(message)  # type: ignore[arg-type]
    channel.is_closed = True
    await acks.ack(message)  # type: ignore[arg-type]
    acks.settled_alone(message)  # type: ignore[arg-type]
    late = _Message(channel)  # delivered as the channel closed
    acks.delivered(late)  # type: ignore[arg-type]
    assert message.acked == [] and late.acked == []
    await acks.ack(_Message(_Channel()))  # type: ignore[arg-type]  # other channels go on


async def test_acks_reach_the_broker_in_the_order_decided() -> None:
    """A broker's view of one channel, with acks that may be overtaken on their way (as in
    aiormq's ten-frame write queue): handlers finishing in a random order never make an ack
    name a tag the broker no longer holds, and every message is acknowledged."""
    from shared.bus.bus import _Acks

    rng = random.Random(7)

    class _Channel:
        is_closed = False

        def __init__(self) -> None:
            self.outstanding: set[int] = set()
            self.unknown: list[int] = []

        def settle(self, tag: int, multiple: bool) -> None:
            if tag not in self.outstanding:
                self.unknown.append(tag)
            covered = {t for t in self.outstanding if t <= tag} if multiple else {tag}
            self.outstanding -= covered

    class _Message:
        def __init__(self, channel: _Channel, tag: int) -> None:
            self.channel, self.delivery_tag, self.message_id = channel, tag, f"m-{tag}"

        async def ack(self, multiple: bool = False) -> None:
            for _ in range(rng.randrange(3)):  # waiting for room in the write queue
                await asyncio.sleep(0)
            self.channel.settle(self.delivery_tag, multiple)

    channel, acks = _Channel(), _Acks()

    async def handled(message: _Message) -> None:
        for _ in range(rng.randrange(6)):
            await asyncio.sleep(0)
        await acks.ack(message)  # type: ignore[arg-type]

    handling = []
    for tag in range(1, 401):
        message = _Message(channel, tag)
        channel.outstanding.add(tag)
        acks.delivered(message)  # type: ignore[arg-type]
        handling.append(asyncio.create_task(handled(message)))
        if rng.random() < 0.3:
            await asyncio.sleep(0)
    async with asyncio.timeout(10):
        await asyncio.gather(*handling)
    assert channel.unknown == []
    assert channel.outstanding == set()


async def test_a_consumer_channel_left_closed_is_made_again(
    make_bus: Callable[..., EventBus],
) -> None:
    """A consumer's channel closed and not reopened (the robust channel does not reopen one
    its own side closed, nor one whose reopening failed): the bus connects again, and the
    consumer's events are handled as before."""
    received: asyncio.Queue[uuid.UUID] = asyncio.Queue()

    async def on_added(event: IntegrationEvent, envelope: EventEnvelope) -> None:
        await received.put(envelope.event_id)

    bus = make_bus()
    bus.subscribe(subscription_of("watched", FavoriteAdded, on_added))
    bus.start()
    await bus.wait_ready(15)
    await bus.consumers["watched"].channel.close()
    sent = wrap(_favorite(), producer="tests")
    await bus.publish(sent)  # queued: nobody consumes it until the bus connects again
    assert await asyncio.wait_for(received.get(), CHANNEL_LOST_S + 10) == sent.event_id
