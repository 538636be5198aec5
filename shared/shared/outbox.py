"""Transactional outbox: events are rows written with the change, published by a relay.

`add_event` writes the serialized envelope in the caller's transaction. The relay claims
pending rows with a short lease (one UPDATE over a FOR UPDATE SKIP LOCKED selection, committed
at once, so relays in several replicas never claim one row together and no connection is held
while the broker confirms), publishes them, and marks them sent once the broker has confirmed;
a failed publish is retried with capped exponential backoff.

Every database step runs in one worker thread on a connection of its own, start to end: a
pass that is cancelled abandons the await, never the connection (a session shared by two
threads is how a stop once turned into a hang). Rows a relay claimed and did not publish are
released when it stops; if it dies instead, its lease runs out after `CLAIM_LEASE_S` and any
relay publishes them. A row published but not recorded is published again: consumers are
idempotent (the inbox).

The events of one type a relay claimed together go to the broker as one message (a bundle,
shared/bus/bus.py), never reordering one user's events: a row whose user already has an event
of another type among the rows grouped so far starts a new round of bundles (`bundles`). An
event with no user goes alone, in its place.
"""

import asyncio
import functools
import logging
import random
import threading
import uuid
from asyncio import FIRST_COMPLETED
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Identity,
    Index,
    LargeBinary,
    TextClause,
    bindparam,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, Session, SQLModel

from shared.bus import EventBus
from shared.db import utcnow
from shared.events import EventEnvelope, IntegrationEvent, wrap
from shared.lifecycle import Deadline, cancel_and_wait, wait_event
from shared.metrics import EVENTS_PUBLISH_LAG, OUTBOX_PENDING

logger = logging.getLogger(__name__)

MAX_BACKOFF_S = 10.0  # a broker back from an outage gets the backlog within seconds
SENT_RETENTION = timedelta(days=1)
# How long a claim keeps other relays off a row: longer than a publish may take (the bus's
# PUBLISH_TIMEOUT_S), short enough that a relay that died leaves its rows for seconds only.
CLAIM_LEASE_S = 15.0
# Batches sent and waiting for the broker's confirms at once. Under write load a relay that
# waited for each batch's confirms before claiming the next held events 2 to 5 s (p99) before
# the broker had them: the confirms' latency, not the relay's work, set its pace. A batch is
# written to the channel before the next is claimed, so events still go out in outbox order.
MAX_BATCHES_IN_FLIGHT = 4
# Under write load (a pass claimed rows within the last `BUSY_WITHIN_S`), a pass woken by a
# commit waits this long for the commits that follow before it claims: one claim, one publish
# round and one record for several events where each commit made its own batch of one or two.
# Idle, a commit's event goes at once.
BATCH_LINGER_S = 0.02
BUSY_WITHIN_S = 1.0
# The pending rows are counted (a gauge) at most this often: a count on every pass added a
# round trip and a thread hop to each batch under write load, when passes follow each other.
PENDING_GAUGE_EVERY_S = 1.0
# Events in one message at most: a consumer hands a bundle's events to one inbox transaction
# (shared/inbox.py: MAX_BATCH).
BUNDLE_MAX_EVENTS = 64
T = TypeVar("T")


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_event"
    __table_args__ = (
        Index("ix_outbox_event_pending", "id", postgresql_where=text("sent_at IS NULL")),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    event_id: uuid.UUID = Field(unique=True)
    type: str = Field(max_length=100)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    correlation_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    sent_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    times_sent: int = 0
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    last_error: str | None = Field(default=None, max_length=500)


_OUTBOX_FLAG = "outbox_written"
_wake_callbacks: list[Callable[[], None]] = []
_wake_lock = threading.Lock()


_EVENT_COLUMNS = "event_id, type, content, correlation_id, created_at, next_attempt_at, times_sent"
_EVENT_VALUES = (
    "CAST(:event_id AS uuid), :event_type, :event_content, :correlation_id, :event_at, :event_at, 0"
)
_STAGE_EVENT = text(
    f"INSERT INTO outbox_event ({_EVENT_COLUMNS}) VALUES ({_EVENT_VALUES})"
).bindparams(bindparam("event_content", type_=LargeBinary))


def add_event(session: Session, event_data: IntegrationEvent, *, producer: str) -> EventEnvelope:
    """Stage an event in the caller's transaction; it is published after the commit.

    The row is written at once by a statement built once (an ORM object flushed at the commit
    cost the write path more than the INSERT itself: measured with py-spy under load). The
    caller's pending ORM changes are not flushed by it: they go at the commit, as before, so a
    conflict in them is still raised there."""
    envelope = wrap(event_data, producer=producer)
    with session.no_autoflush:
        session.execute(_STAGE_EVENT, _envelope_params(envelope))
    session.info[_OUTBOX_FLAG] = True
    return envelope


def with_event(change_sql: str, answer_sql: str | None = None) -> TextClause:
    """One statement that makes a change and stages its event for each row the change
    returns: `change_sql` is an INSERT, UPDATE or DELETE ... RETURNING (binding its own
    parameters). The statement returns the outbox row's id when the change happened, or, with
    `answer_sql`, what that SELECT returns (it may read the change's rows as `changed`). The
    write and its event go in one round trip, and no event is written when the change touched
    nothing. Build it once (plain SQL: measured, building the statement with SQLAlchemy's
    expression language on every write cost more than running it); bind `event_params` with
    the change's own parameters, run it in the caller's transaction and call `staged`."""
    stage = f"INSERT INTO outbox_event ({_EVENT_COLUMNS}) SELECT {_EVENT_VALUES} FROM changed"
    if answer_sql is None:
        sql = f"WITH changed AS ({change_sql}) {stage} RETURNING id"
    else:
        sql = f"WITH changed AS ({change_sql}), staged AS ({stage}) {answer_sql}"
    return text(sql).bindparams(bindparam("event_content", type_=LargeBinary))


def event_params(event_data: IntegrationEvent, *, producer: str) -> dict[str, Any]:
    """The parameters `with_event`'s statement binds for the event."""
    return _envelope_params(wrap(event_data, producer=producer))


def _envelope_params(envelope: EventEnvelope) -> dict[str, Any]:
    return {
        "event_id": str(envelope.event_id),
        "event_type": envelope.type,
        "event_content": envelope.to_bytes(),
        "correlation_id": envelope.correlation_id,
        "event_at": envelope.occurred_at,
    }


def staged(session: Session) -> None:
    """The session's transaction wrote outbox rows itself: wake the relays after its commit."""
    session.info[_OUTBOX_FLAG] = True


@event.listens_for(Session, "after_commit")
def _wake_relays_after_commit(session: Session) -> None:
    if session.info.pop(_OUTBOX_FLAG, False):
        with _wake_lock:
            callbacks = list(_wake_callbacks)
        for callback in callbacks:
            callback()


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    id: int
    event_id: uuid.UUID
    type: str
    content: bytes
    correlation_id: str | None
    times_sent: int
    created_at: datetime
    subject: str | None = None  # whose event it is (the user), when it says

    @classmethod
    def of(cls, row: Any) -> "ClaimedRow":
        content = bytes(row.content)  # psycopg2 gives bytea as a memoryview
        return cls(
            id=row.id,
            event_id=uuid.UUID(str(row.event_id)),
            type=row.type,
            content=content,
            correlation_id=row.correlation_id,
            times_sent=row.times_sent,
            created_at=row.created_at,
            subject=_subject(content),
        )


def _subject(content: bytes) -> str | None:
    try:
        data = orjson.loads(content).get("data")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    user_id = data.get("user_id") if isinstance(data, dict) else None
    return str(user_id) if user_id is not None else None


def bundles(
    rows: list[ClaimedRow], *, max_events: int = BUNDLE_MAX_EVENTS
) -> list[list[ClaimedRow]]:
    """Rows (in outbox order) grouped by type into bundles to publish in the order given.
    Within a round, bundles go in the order of their first rows, each in outbox order; a row
    whose user has a row of another type in the round starts the next round, and a row with
    no user is a round of its own, so no user's events and no userless event change places."""
    found: list[list[ClaimedRow]] = []
    open_: dict[str, list[ClaimedRow]] = {}
    types_of: dict[str, str] = {}  # user -> the type of their rows in this round

    def end_round() -> None:
        found.extend(open_.values())
        open_.clear()
        types_of.clear()

    for row in rows:
        if row.subject is None:
            end_round()
            found.append([row])
            continue
        if types_of.setdefault(row.subject, row.type) != row.type:
            end_round()
            types_of[row.subject] = row.type
        bundle = open_.setdefault(row.type, [])
        bundle.append(row)
        if len(bundle) >= max_events:  # its users have no row in another bundle of the round
            found.append(open_.pop(row.type))
    end_round()
    return found


_CLAIM = text(
    "UPDATE outbox_event SET next_attempt_at = now() + make_interval(secs => :lease_s) "
    "WHERE id IN (SELECT id FROM outbox_event WHERE sent_at IS NULL AND next_attempt_at <= now() "
    "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED) "
    "RETURNING id, event_id, type, content, correlation_id, times_sent, created_at"
)
_MARK_SENT = text(
    "UPDATE outbox_event SET sent_at = now(), times_sent = times_sent + 1 WHERE id = ANY(:ids)"
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))
_MARK_FAILED = text(
    "UPDATE outbox_event SET times_sent = times_sent + 1, last_error = :error, "
    "next_attempt_at = now() + make_interval(secs => :backoff_s) WHERE id = :id"
)
# The relay's own transactions (a claim, a mark) commit without waiting for their WAL flush:
# one lost with the server's last moments only sends its events again, which the consumers'
# inboxes make harmless; the writes that made the events still wait for theirs. A lone write
# through the library took 5.2 to 5.6 ms instead of 6.1 to 6.6 (BENCHMARKS.md).
_NO_FLUSH_WAIT = text("SET LOCAL synchronous_commit = off")
_RELEASE = text(
    "UPDATE outbox_event SET next_attempt_at = now() WHERE id = ANY(:ids) AND sent_at IS NULL"
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


class OutboxRelay:
    """Publishes pending outbox rows; woken at once by commits, else polls."""

    def __init__(
        self,
        *,
        engine: Engine,
        bus: EventBus,
        batch_size: int = 200,
        poll_interval_s: float = 1.0,
        linger_s: float = BATCH_LINGER_S,
    ) -> None:
        self.engine = engine
        self.bus = bus
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.linger_s = linger_s
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        # Read by the worker threads too: a claim that starts after a stop began claims nothing.
        self._stopping = threading.Event()
        self._claimed: set[int] = set()  # claimed by this relay, neither recorded nor released
        self._claimed_lock = threading.Lock()
        self._steps: set[asyncio.Future[Any]] = set()  # database steps running in threads

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        with _wake_lock:
            _wake_callbacks.append(self.wake)
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self, timeout_s: float = 5.0) -> bool:
        """Finish the pass under way (half the time at most), then cancel; wait for database
        steps still running in threads and release the rows claimed and not published, so
        another relay (or this one after a restart) publishes them at once. True if all of
        that happened in time; otherwise the claims left run out after CLAIM_LEASE_S."""
        deadline = Deadline(timeout_s)
        with _wake_lock:
            if self.wake in _wake_callbacks:
                _wake_callbacks.remove(self.wake)
        self._stopping.set()
        self._wake.set()
        task = self._task
        if task is not None:
            await asyncio.wait({task}, timeout=deadline.left() / 2)
            await cancel_and_wait(task, deadline.left() / 2)
            if task.done():
                self._task = None
        if self._steps:
            await asyncio.wait(set(self._steps), timeout=deadline.left())
        released = await self._release_claims(deadline)
        if not (released and (task is None or task.done()) and not self._steps):
            logger.warning(
                "outbox relay stopped late: claimed rows are left to their lease",
                extra={"claimed": len(self._claimed), "lease_s": CLAIM_LEASE_S},
            )
            return False
        return True

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """Thread-safe: called from the thread that committed."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        cleanup_every = 300
        passes = 0
        loop = asyncio.get_running_loop()
        counted_at = -PENDING_GAUGE_EVERY_S
        claimed_at = float("-inf")  # the loop's clock when a pass last claimed rows
        claimed = 0
        delivering: set[asyncio.Task[int]] = set()
        try:
            while not self._stopping.is_set():
                if claimed < self.batch_size and loop.time() - claimed_at < BUSY_WITHIN_S:
                    await asyncio.sleep(self.linger_s)
                claimed = 0
                # Cleared before the pass, so a commit made during the pass starts the next at
                # once.
                self._wake.clear()
                try:
                    if self.bus.is_connected and len(delivering) < MAX_BATCHES_IN_FLIGHT:
                        rows = await self._in_thread(self._claim)
                        claimed = len(rows)
                        if rows:
                            claimed_at = loop.time()
                            delivery = asyncio.create_task(self._deliver_logged(rows))
                            delivering.add(delivery)
                            delivery.add_done_callback(delivering.discard)
                    # Idle or caught up (counting is cheap now), and not counted lately.
                    if (
                        claimed < self.batch_size
                        and loop.time() - counted_at >= PENDING_GAUGE_EVERY_S
                    ):
                        counted_at = loop.time()
                        await self._in_thread(self._update_pending_gauge)
                    passes += 1
                    if passes % cleanup_every == 0:
                        await self._in_thread(self._delete_old_sent)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.warning("outbox relay pass failed", exc_info=True)
                if len(delivering) >= MAX_BATCHES_IN_FLIGHT:
                    await asyncio.wait(
                        delivering, timeout=self.poll_interval_s, return_when=FIRST_COMPLETED
                    )
                elif claimed < self.batch_size:
                    await wait_event(self._wake, self.poll_interval_s)
            if delivering:  # stopping: the batches sent are confirmed and recorded
                await asyncio.wait(delivering)
        finally:
            for delivery in delivering:
                delivery.cancel()  # what they did not record, `stop` releases

    async def relay_once(self) -> int:
        """Claim one batch, publish it, mark what the broker confirmed. Returns rows sent."""
        rows = await self._in_thread(self._claim)
        if not rows:
            return 0
        return await self._deliver(rows)

    async def _deliver_logged(self, rows: list[ClaimedRow]) -> int:
        try:
            return await self._deliver(rows)
        except asyncio.CancelledError:
            raise
        except Exception:  # the rows wait for their lease, then any relay publishes them
            logger.warning("outbox delivery failed", exc_info=True)
            return 0

    async def _deliver(self, rows: list[ClaimedRow]) -> int:
        """Publish claimed rows in bundles, in their order, and mark what the broker
        confirmed."""
        grouped = bundles(rows)
        results = await asyncio.gather(
            *(self._publish(bundle) for bundle in grouped), return_exceptions=True
        )
        sent = [
            row
            for bundle, result in zip(grouped, results, strict=True)
            if result is None
            for row in bundle
        ]
        failed = [
            (row, result)
            for bundle, result in zip(grouped, results, strict=True)
            if result is not None
            for row in bundle
        ]
        confirmed_at = utcnow()
        for row in sent:
            EVENTS_PUBLISH_LAG.observe(max((confirmed_at - row.created_at).total_seconds(), 0.0))
        await self._in_thread(self._record, sent, failed)
        return len(sent)

    async def _publish(self, bundle: list[ClaimedRow]) -> None:
        if len(bundle) == 1:
            [row] = bundle
            await self.bus.publish_raw(
                body=row.content,
                event_id=str(row.event_id),
                event_type=row.type,
                correlation_id=row.correlation_id,
            )
            return
        await self.bus.publish_bundle(
            bodies=[row.content for row in bundle],
            event_ids=[str(row.event_id) for row in bundle],
            event_type=bundle[0].type,
        )

    async def _in_thread(self, function: Callable[..., T], *args: Any) -> T:
        """Run a database step in a worker thread. A cancelled caller stops waiting; the step
        runs to its end in its thread (with its own connection), and `stop` waits for it."""
        loop = asyncio.get_running_loop()
        step = loop.run_in_executor(None, functools.partial(function, *args))
        self._steps.add(step)
        step.add_done_callback(self._steps.discard)
        return await asyncio.shield(step)

    def _claim(self) -> list[ClaimedRow]:
        if self._stopping.is_set():
            return []
        with self.engine.begin() as connection:
            if self._stopping.is_set():  # a stop began while this thread waited for a connection
                return []
            connection.execute(_NO_FLUSH_WAIT)
            result = connection.execute(
                _CLAIM, {"lease_s": CLAIM_LEASE_S, "limit": self.batch_size}
            )
            rows = sorted((ClaimedRow.of(row) for row in result), key=lambda row: row.id)
        with self._claimed_lock:
            self._claimed.update(row.id for row in rows)
        if rows and self._stopping.is_set():  # nobody will publish them: give them back
            self._release([row.id for row in rows])
            return []
        return rows

    def _record(
        self, sent: list[ClaimedRow], failed: list[tuple[ClaimedRow, BaseException]]
    ) -> None:
        with self.engine.begin() as connection:
            connection.execute(_NO_FLUSH_WAIT)
            if sent:
                connection.execute(_MARK_SENT, {"ids": [row.id for row in sent]})
            if failed:
                connection.execute(
                    _MARK_FAILED,
                    [
                        {
                            "id": row.id,
                            "error": repr(error)[:500],
                            "backoff_s": random.uniform(
                                0, min(MAX_BACKOFF_S, 0.5 * 2 ** min(row.times_sent + 1, 10))
                            ),
                        }
                        for row, error in failed
                    ],
                )
        with self._claimed_lock:
            self._claimed.difference_update(row.id for row in sent)
            self._claimed.difference_update(row.id for row, _ in failed)
        if failed:
            logger.warning(
                "outbox publish failed, will retry",
                extra={"failed": len(failed), "error": repr(failed[0][1])[:300]},
            )

    async def _release_claims(self, deadline: Deadline) -> bool:
        with self._claimed_lock:
            claimed = sorted(self._claimed)
        if not claimed:
            return True
        loop = asyncio.get_running_loop()
        release = loop.run_in_executor(None, self._release, claimed)
        done, _ = await asyncio.wait({release}, timeout=deadline.step())
        if release in done and release.exception() is None:
            return True
        if release in done:
            logger.warning("outbox claims not released: %r", release.exception())
        return False

    def _release(self, ids: list[int]) -> None:
        with self.engine.begin() as connection:
            connection.execute(_RELEASE, {"ids": ids})
        with self._claimed_lock:
            self._claimed.difference_update(ids)

    def _update_pending_gauge(self) -> None:
        with self.engine.connect() as connection:
            pending = connection.execute(
                text("SELECT count(*) FROM outbox_event WHERE sent_at IS NULL")
            ).scalar_one()
        OUTBOX_PENDING.set(pending)

    def _delete_old_sent(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                text("DELETE FROM outbox_event WHERE sent_at < :cutoff"),
                {"cutoff": utcnow() - SENT_RETENTION},
            )


class RelayThread:
    """The outbox relay on a thread and an event loop of its own, with its own connection to
    the broker: the relay's publishes and the broker's confirms no longer wait behind the
    requests on the service's event loop. Commits still wake it at once (`wake` is
    thread-safe); its database steps run in its loop's own worker threads.

    `start` returns once the thread runs; `stop` stops the relay (claims released, as
    `OutboxRelay.stop`) and closes its connection within the deadline, then ends the thread.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        make_bus: Callable[[], EventBus],
        batch_size: int = 200,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self._make_bus = make_bus
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self.relay: OutboxRelay | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._stop_requested: asyncio.Event | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._started.clear()
        self._thread = threading.Thread(target=self._main, name="outbox-relay", daemon=True)
        self._thread.start()
        self._started.wait(5.0)

    def _main(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _serve(self) -> None:
        self._stop_requested = asyncio.Event()
        try:
            bus = self._make_bus()
            self.relay = OutboxRelay(
                engine=self.engine,
                bus=bus,
                batch_size=self._batch_size,
                poll_interval_s=self._poll_interval_s,
            )
            bus.start()
            self.relay.start()
        finally:
            self._started.set()  # `start` waits for this, started or not
        await self._stop_requested.wait()

    async def _stop_inside(self, timeout_s: float) -> bool:
        deadline = Deadline(timeout_s)
        assert self._stop_requested is not None
        if self.relay is None:
            self._stop_requested.set()
            return True
        try:
            stopped = await self.relay.stop(deadline.left() * 0.7)
            closed = await self.relay.bus.close(deadline.left())
            return stopped and closed
        finally:
            self._stop_requested.set()

    async def stop(self, timeout_s: float = 5.0) -> bool:
        """True if the relay released its claims and the thread ended within `timeout_s`."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None or not thread.is_alive():
            return True
        deadline = Deadline(timeout_s)
        try:
            inside = asyncio.run_coroutine_threadsafe(self._stop_inside(deadline.left()), loop)
        except RuntimeError:  # its loop already closed
            return not thread.is_alive()
        done, _ = await asyncio.wait({asyncio.wrap_future(inside)}, timeout=deadline.left())
        stopped = bool(done) and not inside.cancelled() and inside.exception() is None
        stopped = stopped and inside.result()
        await asyncio.to_thread(thread.join, max(deadline.left(), 0.0))
        if thread.is_alive():
            logger.warning("outbox relay thread did not end in time; left to the process exit")
            return False
        self._thread = None
        return stopped
