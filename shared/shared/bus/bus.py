"""EventBus: publishing with confirms, and consumers that retry, then dead-letter.

Every wait on the broker has a deadline (a connect, a publish with its confirm, an ack, the
close): a broker that stops answering costs a caller seconds, never its task forever.

A clustered broker is given as several URLs (AMQP_URL="amqp://…@rabbit-1/,amqp://…@rabbit-2/"):
each process starts at a random one of them; a connection lost for FAILOVER_AFTER_S (its node
gone, not a blip the robust connection rides out) is dropped and the next node is tried, and
the topology is declared again there (quorum queues keep their messages on the other nodes).

A message carries one event, or a bundle of events of one type (`publish_bundle`: the outbox
relay sends together the events of a type it claimed together): each event of a bundle is
handled as if it had come alone, its own retry or dead letter a message of its own, and the
bundle is acknowledged once every event in it is applied or parked. Under write load most of
a consumer's time and most of the broker's went to each message's frames and its queue entry,
not to the event (BENCHMARKS.md).
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import aio_pika
import orjson
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)
from aio_pika.connection import make_url
from aio_pika.exceptions import AMQPError
from aiormq.exceptions import ChannelInvalidStateError
from pamqp import commands as spec
from pydantic import ValidationError

from shared.bus.topology import Topology
from shared.coalesce import Coalescer
from shared.context import correlation_id_var
from shared.events import EventEnvelope, IntegrationEvent
from shared.lifecycle import Deadline, cancel_and_wait
from shared.metrics import (
    EVENTS_CONSUMED,
    EVENTS_CONSUMER_LAG,
    EVENTS_DEAD_LETTERED,
    EVENTS_PUBLISHED,
    EVENTS_RETRIED,
    declare_event_metrics,
)

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=IntegrationEvent)
Handler = Callable[[E, EventEnvelope], Awaitable[None]]
RETRY_COUNT_HEADER = "x-retry-count"
ERROR_HEADER = "x-error"
ORIGINAL_ROUTING_KEY_HEADER = "x-original-routing-key"
_PERSISTENT = int(aio_pika.DeliveryMode.PERSISTENT)
EVENT_CONTENT_TYPE = "application/json"
# A JSON array of event envelopes, all of the type the routing key names.
BUNDLE_CONTENT_TYPE = "application/vnd.event-bundle+json"
PUBLISH_TIMEOUT_S = 10.0  # a publish, its wait for a live connection and the confirm
CONNECT_TIMEOUT_S = 10.0
SETTLE_TIMEOUT_S = 5.0  # an ack, nack or reject (unsettled, the broker redelivers it)
CLOSE_TIMEOUT_S = 3.0
RECONNECT_INTERVAL_S = 1.0
FAILOVER_AFTER_S = 5.0  # lost this long: the node is gone, another one is tried
WATCH_INTERVAL_S = 0.5
# A channel closed this long with its connection up was not reopened: the connection is made
# again (the robust channel reopens one in well under a second).
CHANNEL_LOST_S = 5.0


def broker_urls(amqp_url: str) -> list[str]:
    """The broker's nodes: one URL, or several separated by commas."""
    urls = [url.strip() for url in amqp_url.split(",") if url.strip()]
    if not urls:
        raise ValueError("AMQP_URL names no broker")
    return urls


def _node(url: str) -> str:
    """Where a URL points, without its credentials (for logs)."""
    return url.rpartition("@")[2]


class TransientError(Exception):
    """Raise from a handler when a dependency is down: retried without using up the budget."""


class MalformedEvent(Exception):
    """The message can never be handled: it goes straight to the dead-letter queue."""


class Subscription:
    """One consuming service's queue and its handlers. A handler declares the event class it
    takes, and the routing key comes from that class:

        subscription = Subscription("library")

        @subscription.on(UserRegistered)
        async def on_registered(event: UserRegistered, envelope: EventEnvelope) -> None: ...

    The bus parses each message into the class its type names before calling the handler."""

    def __init__(
        self,
        name: str,
        *,
        # Messages handed over unacknowledged: a consumer behind on its queue applies up to
        # this many in one transaction (shared/inbox.py). Measured with the ratings writes in
        # `make bench`: the catalog's lag p99 0.75 to 2 s with 32, 0.5 to 0.75 s with 64.
        prefetch: int = 64,
        transient_errors: tuple[type[Exception], ...] = (TransientError,),
    ) -> None:
        self.name = name
        self.prefetch = prefetch
        self.transient_errors = transient_errors
        self.events: dict[str, type[IntegrationEvent]] = {}
        self.handlers: dict[str, Handler[Any]] = {}

    def on(self, event: type[E]) -> Callable[[Handler[E]], Handler[E]]:
        def register(handler: Handler[E]) -> Handler[E]:
            if event.event_type in self.handlers:
                raise ValueError(f"{self.name} handles {event.event_type} twice")
            self.events[event.event_type] = event
            self.handlers[event.event_type] = handler
            return handler

        return register


class EventBus:
    """One robust connection per process; publishing waits for the broker's confirm."""

    def __init__(
        self,
        *,
        amqp_url: str,
        namespace: str,
        producer: str,
        max_retries: int = 3,
        retry_delay_ms: int = 2000,
        queue_expires_ms: int | None = None,
    ) -> None:
        self.amqp_urls = broker_urls(amqp_url)
        self.namespace = namespace
        self.producer = producer
        self.max_retries = max_retries
        self.retry_delay_ms = retry_delay_ms
        self.topology = Topology(namespace, retry_delay_ms, queue_expires_ms)
        self._subscriptions: list[Subscription] = []
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._dead_letter_exchange: AbstractExchange | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.consumers: dict[str, _Consumer] = {}  # by subscription, on the current connection

    # --- lifecycle --------------------------------------------------------------------------
    def subscribe(self, subscription: Subscription) -> None:
        self._subscriptions.append(subscription)
        declare_event_metrics(
            publishes=(),
            queue=self.topology.queue(subscription.name),
            consumes=subscription.handlers,
        )

    def start(self) -> None:
        """Connect in the background, waiting for the broker as long as it takes."""
        self._task = asyncio.create_task(self._connect_forever(), name="event-bus-connect")

    async def wait_ready(self, timeout_s: float) -> None:
        """Wait until connected; TimeoutError after `timeout_s`."""
        async with asyncio.timeout(timeout_s):
            await self._ready.wait()

    @property
    def is_connected(self) -> bool:
        return (
            self._ready.is_set()
            and self._connection is not None
            and not self._connection.is_closed
            and self._channel is not None
            and not self._channel.is_closed
        )

    async def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
        """Stop connecting and close the connection within `timeout_s`; True if it closed in
        time. Messages being handled are not acked, so the broker delivers them again."""
        deadline = Deadline(timeout_s)
        self._ready.clear()
        if self._task is not None:
            await cancel_and_wait(self._task, deadline.left())
        connection, self._connection = self._connection, None
        if connection is None:
            return True
        return await _close(connection, deadline.step())

    async def _connect_forever(self) -> None:
        """Connect to a node and stay; with several nodes, move on from one that is gone."""
        delay_s = 0.5
        turn = random.randrange(len(self.amqp_urls))
        while True:
            url = self.amqp_urls[turn % len(self.amqp_urls)]
            try:
                await self._connect(url)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning(
                    "broker unavailable, retrying in %.1fs: %s",
                    delay_s,
                    exc,
                    extra={"amqp_error": type(exc).__name__, "node": _node(url)},
                )
                turn += 1
                await asyncio.sleep(delay_s if turn % len(self.amqp_urls) == 0 else 0)
                delay_s = min(delay_s * 2, 10.0)
                continue
            delay_s = 0.5
            # With one node the robust connection reconnects to it by itself; with several,
            # a node lost for long enough is left for the next.
            if await self._until_lost(
                node_lost_s=None if len(self.amqp_urls) == 1 else FAILOVER_AFTER_S
            ):
                logger.warning(
                    "broker node lost for %.0f s; trying the next one",
                    FAILOVER_AFTER_S,
                    extra={"node": _node(url)},
                )
                turn += 1
            else:
                logger.error(
                    "a channel the broker closed was not restored within %.0f s; connecting again",
                    CHANNEL_LOST_S,
                    extra={"node": _node(url)},
                )
            self._ready.clear()
            connection, self._connection = self._connection, None
            if connection is not None:
                await asyncio.shield(_close(connection, CLOSE_TIMEOUT_S))

    async def _until_lost(self, *, node_lost_s: float | None) -> bool:
        """Return once the connection must be made again: True when it has been down for
        `node_lost_s` in a row (None: never, the robust connection comes back by itself);
        False when, the connection up, one of its channels (publishing, or a consumer's) has
        been closed for `CHANNEL_LOST_S` in a row. The robust channel reopens a channel the
        broker closed, but not when reopening fails, and a consumer would then stay silent
        for good."""
        lost_since: float | None = None
        channel_lost_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            connection, now = self._connection, loop.time()
            up = connection is not None and connection.connected.is_set()
            if up:
                lost_since = None
            elif lost_since is None:
                lost_since = now
            elif node_lost_s is not None and now - lost_since >= node_lost_s:
                return True
            if not (up and self._a_channel_is_closed()):
                channel_lost_since = None
            elif channel_lost_since is None:
                channel_lost_since = now
            elif now - channel_lost_since >= CHANNEL_LOST_S:
                return False

    def _a_channel_is_closed(self) -> bool:
        channels = [self._channel, *(consumer.channel for consumer in self.consumers.values())]
        return any(channel is not None and channel.is_closed for channel in channels)

    async def _connect(self, url: str) -> None:
        # Built here rather than by aio_pika.connect_robust, so that a connect that fails or
        # is cancelled half-way is closed (with its reconnect task) instead of left running.
        connection = aio_pika.RobustConnection(
            make_url(url),
            reconnect_interval=RECONNECT_INTERVAL_S,
            client_properties={"connection_name": self.producer},
        )
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await connection.connect()
                channel = await connection.channel(publisher_confirms=True)
                self._exchange, self._dead_letter_exchange = await self._declare_exchanges(channel)
                for subscription in self._subscriptions:
                    await self._start_consumer(connection, subscription)
        except BaseException:
            await asyncio.shield(_close(connection, CLOSE_TIMEOUT_S))
            raise
        self._connection, self._channel = connection, channel
        self._ready.set()
        logger.info(
            "connected to the broker",
            extra={"exchange": self.topology.exchange, "node": _node(url)},
        )

    async def _declare_exchanges(
        self, channel: AbstractChannel
    ) -> tuple[AbstractExchange, AbstractExchange]:
        events = await channel.declare_exchange(
            self.topology.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        dead_letters = await channel.declare_exchange(
            self.topology.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
        )
        return events, dead_letters

    # --- publishing -------------------------------------------------------------------------
    async def publish(self, envelope: EventEnvelope) -> None:
        await self.publish_raw(
            body=envelope.to_bytes(),
            event_id=str(envelope.event_id),
            event_type=envelope.type,
            correlation_id=envelope.correlation_id,
        )

    async def publish_raw(
        self, *, body: bytes, event_id: str, event_type: str, correlation_id: str | None
    ) -> None:
        """Publish serialized envelope bytes; returns once the broker has confirmed them."""
        await self._publish(
            body,
            event_type,
            spec.Basic.Properties(
                content_type=EVENT_CONTENT_TYPE,
                delivery_mode=_PERSISTENT,
                message_id=event_id,
                correlation_id=correlation_id,
                message_type=event_type,
                app_id=self.producer,
            ),
        )

    async def publish_bundle(
        self, *, bodies: list[bytes], event_ids: list[str], event_type: str
    ) -> None:
        """Publish serialized envelopes of one type in one message; returns once the broker
        has confirmed it."""
        await self._publish(
            b"[" + b",".join(bodies) + b"]",
            event_type,
            spec.Basic.Properties(
                content_type=BUNDLE_CONTENT_TYPE,
                delivery_mode=_PERSISTENT,
                message_id=f"{event_ids[0]}+{len(bodies) - 1}",
                message_type=event_type,
                app_id=self.producer,
            ),
            events=len(bodies),
        )

    async def _publish(
        self, body: bytes, event_type: str, properties: spec.Basic.Properties, *, events: int = 1
    ) -> None:
        if not self.is_connected or self._exchange is None or self._channel is None:
            raise ConnectionError("not connected to the broker")
        # The frame's properties straight to the channel: with an aio_pika.Message built for
        # each event a publish cost 1.3 to 1.6 times the CPU of aiormq's own (measured in one
        # process, 2,000 publishes with confirms); now the same.
        # The timeout covers the wait for a live connection too, which aio-pika leaves unbounded
        # when the link drops between the check above and the publish.
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            channel = await self._channel.get_underlay_channel()
            await channel.basic_publish(
                body, exchange=self._exchange.name, routing_key=event_type, properties=properties
            )
        EVENTS_PUBLISHED.labels(event_type).inc(events)

    # --- consuming --------------------------------------------------------------------------
    async def _start_consumer(
        self, connection: AbstractRobustConnection, subscription: Subscription
    ) -> None:
        topology, consumer_name = self.topology, subscription.name
        name = topology.queue(consumer_name)
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=subscription.prefetch)
        exchange, dead_letter_exchange = await self._declare_exchanges(channel)
        queue = await channel.declare_queue(
            name, durable=True, arguments=topology.queue_arguments(consumer_name)
        )
        retry_queue = await channel.declare_queue(
            topology.retry_queue(consumer_name),
            durable=True,
            arguments=topology.retry_queue_arguments(consumer_name),
        )
        dead_letter_queue = await channel.declare_queue(
            topology.dead_letter_queue(consumer_name),
            durable=True,
            arguments=topology.dead_letter_queue_arguments(),
        )
        await dead_letter_queue.bind(dead_letter_exchange, routing_key=name)
        for event_type in subscription.handlers:
            await queue.bind(exchange, routing_key=event_type)
        consumer = _Consumer(
            bus=self,
            subscription=subscription,
            channel=channel,
            queue_name=name,
            retry_queue_name=retry_queue.name,
            dead_letter_exchange=dead_letter_exchange,
        )
        self.consumers[consumer_name] = consumer
        await queue.consume(consumer.on_message, no_ack=False)
        logger.info("consuming", extra={"queue": name, "events": sorted(subscription.handlers)})


class _FlushAbandoned(Exception):
    pass


class _Acks:
    """A consumer's acknowledgements of handled messages, sent together.

    Messages handled at the same moment (the events a consumer applies in one transaction
    resume together) are acknowledged by one `basic.ack` with `multiple` set, for the highest
    delivery tag below every message still being handled or settled on its own (a retry, a
    dead letter): `multiple` covers every unsettled tag up to it, so none of those may be
    left. Handled messages above such a tag are acknowledged one by one. One ack per message
    was a sixth of a consumer's time under write load (a frame and a socket write each).

    The acknowledgements go out one at a time, in the order the flushes decided them (one
    lock, taken in the same step as the decision). aiormq's write queue holds ten frames, and
    a task waiting to put one can be overtaken by another: acks sent from concurrent tasks
    reached the broker out of order under load, and a single ack overtaken by a later
    `multiple` that covered it named a tag the broker no longer knew (PRECONDITION_FAILED),
    which closes the channel.

    Kept per channel (the robust channel's underlying one: a reconnect starts its tags
    again). A message whose handler was cancelled stays unsettled here: it is never covered
    by a later `multiple`, and the broker delivers it again when the channel closes; a closed
    channel's entries are dropped at the next flush."""

    def __init__(self) -> None:
        # channel -> delivery tag -> the message once handled (ready), None before
        self._unsettled: dict[object, dict[int, AbstractIncomingMessage | None]] = {}
        self._flushes = Coalescer(self._flush, abandoned=_FlushAbandoned)
        self._sending = asyncio.Lock()

    def delivered(self, message: AbstractIncomingMessage) -> None:
        channel = _channel_of(message)
        if message.delivery_tag is not None and channel is not None:
            self._unsettled.setdefault(channel, {})[message.delivery_tag] = None

    def settled_alone(self, message: AbstractIncomingMessage) -> None:
        """After the message's own ack, nack or reject went out."""
        unsettled = self._unsettled.get(_channel_of(message))
        if unsettled is not None:
            unsettled.pop(message.delivery_tag or 0, None)
            if not unsettled:
                del self._unsettled[message.channel]

    async def ack(self, message: AbstractIncomingMessage) -> None:
        """Acknowledge a handled message with the others handled now; returns once sent."""
        channel = _channel_of(message)
        if channel is None:  # closed while the message was handled: the broker has it again
            logger.info(
                "ack not sent: the channel closed; the message will come again",
                extra={"event_id": message.message_id},
            )
            return
        unsettled = self._unsettled.get(channel)
        if unsettled is None or message.delivery_tag not in unsettled:
            await _settle(message.ack(), message, "ack")  # not tracked: on its own
            return
        unsettled[message.delivery_tag] = message
        # With the others handled in this turn. A flush whose first caller was cancelled is
        # abandoned: a later flush, or the broker's redelivery once the channel closes,
        # settles this one.
        with contextlib.suppress(_FlushAbandoned):
            await self._flushes(message.delivery_tag)

    async def _flush(self, _: list[int]) -> None:
        """Acknowledge every handled message (of every channel), not only those asked for."""
        sends: list[tuple[AbstractIncomingMessage, bool]] = []  # (message, multiple)
        for channel, unsettled in list(self._unsettled.items()):
            if getattr(channel, "is_closed", False):  # its unsettled messages come again
                del self._unsettled[channel]
                continue
            waiting = [tag for tag, ready in unsettled.items() if ready is None]
            frontier = min(waiting, default=None)
            ready = sorted(tag for tag, found in unsettled.items() if found is not None)
            covered = [tag for tag in ready if frontier is None or tag < frontier]
            if covered:
                last = unsettled[covered[-1]]
                assert last is not None
                sends.append((last, True))
            for tag in ready[len(covered) :]:
                alone = unsettled[tag]
                assert alone is not None
                sends.append((alone, False))
            for tag in ready:
                del unsettled[tag]
            if not unsettled:
                del self._unsettled[channel]
        async with self._sending:  # free: taken at once, in this step; else in turn
            for message, multiple in sends:
                await _settle(message.ack(multiple=multiple), message, "ack")


class _Consumer:
    """Handles one queue's messages: ack after the handler, else retry or dead-letter."""

    def __init__(
        self,
        *,
        bus: EventBus,
        subscription: Subscription,
        channel: AbstractChannel,
        queue_name: str,
        retry_queue_name: str,
        dead_letter_exchange: AbstractExchange,
    ) -> None:
        self.bus = bus
        self.subscription = subscription
        self.channel = channel
        self.queue_name = queue_name
        self.retry_queue_name = retry_queue_name
        self.dead_letter_exchange = dead_letter_exchange
        self.acks = _Acks()
        self._lag = EVENTS_CONSUMER_LAG.labels(queue_name)
        self._consumed = {
            event_type: EVENTS_CONSUMED.labels(queue_name, event_type)
            for event_type in subscription.handlers
        }

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        self.acks.delivered(message)  # first, before any await: tags register in order
        if message.content_type == BUNDLE_CONTENT_TYPE:
            await self._on_bundle(message)
            return
        try:
            envelope, event = self._parse(message.body)
        except MalformedEvent as exc:
            await self._dead_letter(message, reason="malformed", error=str(exc))
            self.acks.settled_alone(message)
            return
        outcome = await self._handle(envelope, event)
        if outcome is None:
            await self.acks.ack(message)
            return
        await self._retry(message, error=outcome, counts=_counts(outcome, self.subscription))
        self.acks.settled_alone(message)

    async def _on_bundle(self, message: AbstractIncomingMessage) -> None:
        """Each event as if it had come alone; the bundle is acknowledged once every one is
        applied or parked (retry, dead letter) as a message of its own. One that could not be
        parked gives the bundle back to the broker: its applied events are in the inbox."""
        try:
            items = orjson.loads(message.body)
            if not isinstance(items, list) or not items:
                raise MalformedEvent("a bundle is a non-empty JSON array of event envelopes")
        except (orjson.JSONDecodeError, MalformedEvent) as exc:
            await self._dead_letter(message, reason="malformed", error=str(exc))
            self.acks.settled_alone(message)
            return
        parked = await asyncio.gather(*(self._bundled(message, item) for item in items))
        if all(parked):
            await self.acks.ack(message)
            return
        await asyncio.sleep(random.uniform(0.5, 1.5))  # never a tight loop
        await _settle(message.nack(requeue=True), message, "nack")
        self.acks.settled_alone(message)

    async def _bundled(self, message: AbstractIncomingMessage, item: Any) -> bool:
        """Handle one event of a bundle; False if it failed and could not be parked. The item
        is validated as parsed with the bundle; it is serialized again only to be parked."""
        try:
            envelope, event = self._typed(_envelope_of(item))
        except MalformedEvent as exc:
            copy = copy_message(
                message, dict(message.headers or {}), body=orjson.dumps(item), event_id=_id_in(item)
            )
            return await self._park_dead_letter(copy, message, reason="malformed", error=str(exc))
        outcome = await self._handle(envelope, event)
        if outcome is None:
            return True
        copy = copy_message(
            message,
            dict(message.headers or {}),
            body=orjson.dumps(item),
            event_id=str(envelope.event_id),
            correlation_id=envelope.correlation_id,
        )
        counts = _counts(outcome, self.subscription)
        return await self._park_for_retry(copy, message, error=outcome, counts=counts)

    async def _handle(self, envelope: EventEnvelope, event: IntegrationEvent) -> Exception | None:
        """Run the event's handler; the error it raised, None once it is applied."""
        token = correlation_id_var.set(envelope.correlation_id)
        try:
            await self.subscription.handlers[envelope.type](event, envelope)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return exc
        finally:
            correlation_id_var.reset(token)
        self._consumed[envelope.type].inc()
        occurred = envelope.occurred_at
        if occurred.tzinfo is None:  # an event from a producer that left out the zone
            occurred = occurred.replace(tzinfo=UTC)
        self._lag.observe(max((datetime.now(UTC) - occurred).total_seconds(), 0.0))
        return None

    def _parse(self, body: bytes) -> tuple[EventEnvelope, IntegrationEvent]:
        try:
            envelope = EventEnvelope.model_validate_json(body)
        except ValidationError as exc:
            raise MalformedEvent(f"not an event envelope: {_short(exc)}") from exc
        return self._typed(envelope)

    def _typed(self, envelope: EventEnvelope) -> tuple[EventEnvelope, IntegrationEvent]:
        """The envelope and its data as the event class its type names."""
        model = self.subscription.events.get(envelope.type)
        if model is None:
            raise MalformedEvent(f"no handler for event type {envelope.type!r}")
        if envelope.version > model.version:
            raise MalformedEvent(
                f"{envelope.type} version {envelope.version} is newer than {model.version}"
            )
        try:
            return envelope, model.model_validate(envelope.data)
        except ValidationError as exc:
            raise MalformedEvent(f"invalid {envelope.type} data: {_short(exc)}") from exc

    async def _retry(
        self, message: AbstractIncomingMessage, *, error: Exception, counts: bool
    ) -> None:
        """Park the message for a retry (or dead-letter it when its retries are spent), then
        settle it; one that cannot be parked goes back to the broker after a pause."""
        copy = copy_message(message, dict(message.headers or {}))
        if counts and self._spent(copy):
            await self._dead_letter(message, reason="handler_failed", error=repr(error))
            return
        if await self._park_for_retry(copy, message, error=error, counts=counts):
            await _settle(message.ack(), message, "ack")
            return
        await asyncio.sleep(random.uniform(0.5, 1.5))  # never a tight loop
        await _settle(message.nack(requeue=True), message, "nack")

    def _spent(self, copy: aio_pika.Message) -> bool:
        return _attempts(copy) >= self.bus.max_retries

    async def _park_for_retry(
        self,
        copy: aio_pika.Message,
        delivered: AbstractIncomingMessage,
        *,
        error: Exception,
        counts: bool,
    ) -> bool:
        """Publish `copy` to the retry queue, or to the dead letters when its retries are
        spent; True once the broker has it."""
        if counts and self._spent(copy):
            return await self._park_dead_letter(
                copy, delivered, reason="handler_failed", error=repr(error)
            )
        attempts = _attempts(copy)
        headers = copy.headers
        headers[RETRY_COUNT_HEADER] = attempts + 1 if counts else attempts
        headers.setdefault(ORIGINAL_ROUTING_KEY_HEADER, delivered.routing_key or "")
        headers[ERROR_HEADER] = repr(error)[:500]
        log = logger.error if counts else logger.warning
        log(
            "handler failed, retrying in %d ms",
            self.bus.retry_delay_ms,
            exc_info=error if counts else None,
            extra={"queue": self.queue_name, "event_id": copy.message_id, "attempt": attempts + 1},
        )
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                await self.channel.default_exchange.publish(copy, routing_key=self.retry_queue_name)
        except Exception:
            return False
        EVENTS_RETRIED.labels(self.queue_name).inc()
        return True

    async def _dead_letter(
        self, message: AbstractIncomingMessage, *, reason: str, error: str
    ) -> None:
        copy = copy_message(message, dict(message.headers or {}))
        if await self._park_dead_letter(copy, message, reason=reason, error=error):
            await _settle(message.ack(), message, "ack")
        else:  # the broker's own dead-lettering (x-dead-letter-exchange) is the fallback
            await _settle(message.reject(requeue=False), message, "reject")

    async def _park_dead_letter(
        self, copy: aio_pika.Message, delivered: AbstractIncomingMessage, *, reason: str, error: str
    ) -> bool:
        """Publish `copy` to this queue's dead letters; True once the broker has it."""
        copy.headers[ERROR_HEADER] = f"{reason}: {error}"[:1000]
        copy.headers.setdefault(ORIGINAL_ROUTING_KEY_HEADER, delivered.routing_key or "")
        logger.error(
            "event dead-lettered",
            extra={
                "queue": self.queue_name,
                "reason": reason,
                "event_id": copy.message_id,
                "error": error[:300],
            },
        )
        EVENTS_DEAD_LETTERED.labels(self.queue_name, reason).inc()
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                await self.dead_letter_exchange.publish(copy, routing_key=self.queue_name)
        except Exception:
            return False
        return True


def _envelope_of(item: Any) -> EventEnvelope:
    """A bundle's item (parsed JSON) as an envelope."""
    try:
        return EventEnvelope.model_validate(item)
    except ValidationError as exc:
        raise MalformedEvent(f"not an event envelope: {_short(exc)}") from exc


def _counts(error: Exception, subscription: Subscription) -> bool:
    """Whether a failure uses up the event's retries (a transient one does not)."""
    return not isinstance(error, subscription.transient_errors)


def _attempts(copy: aio_pika.Message) -> int:
    found: Any = copy.headers.get(RETRY_COUNT_HEADER, 0)
    return int(found or 0)


def _id_in(item: Any) -> str | None:
    """The event id an unparseable bundle item claims, for the dead letter's logs."""
    found = item.get("event_id") if isinstance(item, dict) else None
    return str(found) if found is not None else None


def _channel_of(message: AbstractIncomingMessage) -> object | None:
    """The message's channel, or None once it closed (aio-pika raises then): the broker
    delivers the message again on a new channel."""
    try:
        return message.channel
    except ChannelInvalidStateError:
        return None


async def _settle(settling: Awaitable[None], message: AbstractIncomingMessage, verb: str) -> None:
    """An ack, nack or reject with a deadline. One that does not reach the broker leaves the
    message unsettled; the broker delivers it again once the channel closes, and the
    handler's inbox makes that harmless."""
    try:
        async with asyncio.timeout(SETTLE_TIMEOUT_S):
            await settling
    except (TimeoutError, AMQPError, ConnectionError, ChannelInvalidStateError) as exc:
        logger.warning(
            "%s not delivered to the broker; the message will come again",
            verb,
            extra={"event_id": message.message_id, "error": repr(exc)[:300]},
        )


async def _close(connection: AbstractRobustConnection, timeout_s: float) -> bool:
    """Close a connection (and its reconnect task) within `timeout_s`; True if it closed."""
    try:
        async with asyncio.timeout(timeout_s):
            await connection.close()
    except TimeoutError:
        logger.warning("broker connection not closed within %.1fs; abandoned", timeout_s)
        return False
    except (AMQPError, ConnectionError, RuntimeError) as exc:
        logger.info("broker connection closed with an error: %r", exc)
    return True


def copy_message(
    message: AbstractIncomingMessage,
    headers: dict[str, Any],
    *,
    body: bytes | None = None,
    event_id: str | None = None,
    correlation_id: str | None = None,
) -> aio_pika.Message:
    """The message again with `headers` (a retry, a dead letter, a replay); with `body`, one
    event taken out of a bundle."""
    if body is None:
        return aio_pika.Message(
            message.body,
            headers=headers,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            type=message.type,
            app_id=message.app_id,
        )
    return aio_pika.Message(
        body,
        headers=headers,
        content_type=EVENT_CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event_id,
        correlation_id=correlation_id,
        type=message.type,
        app_id=message.app_id,
    )


def _short(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]
    )
