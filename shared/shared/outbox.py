"""Transactional outbox: events are rows written with the change, published by a relay.

`add_event` writes the serialized envelope in the caller's transaction. The relay claims
pending rows with FOR UPDATE SKIP LOCKED (so relays in several replicas never publish one row
twice), publishes them, and marks them sent only once the broker has confirmed; a failed
publish is retried with capped exponential backoff.
"""

import asyncio
import contextlib
import logging
import random
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Identity,
    Index,
    LargeBinary,
    event,
    text,
)
from sqlmodel import Field, Session, SQLModel, col, select

from shared.bus import EventBus
from shared.db import utcnow
from shared.events import EventEnvelope, IntegrationEvent, wrap
from shared.metrics import OUTBOX_PENDING

logger = logging.getLogger(__name__)

MAX_BACKOFF_S = 10.0  # a broker back from an outage gets the backlog within seconds
SENT_RETENTION = timedelta(days=1)


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


def add_event(session: Session, event_data: IntegrationEvent, *, producer: str) -> EventEnvelope:
    """Stage an event in the caller's transaction; it is published after the commit."""
    envelope = wrap(event_data, producer=producer)
    session.add(
        OutboxEvent(
            event_id=envelope.event_id,
            type=envelope.type,
            content=envelope.to_bytes(),
            correlation_id=envelope.correlation_id,
        )
    )
    session.info[_OUTBOX_FLAG] = True
    return envelope


@event.listens_for(Session, "after_commit")
def _wake_relays_after_commit(session: Session) -> None:
    if session.info.pop(_OUTBOX_FLAG, False):
        with _wake_lock:
            callbacks = list(_wake_callbacks)
        for callback in callbacks:
            callback()


class OutboxRelay:
    """Publishes pending outbox rows; woken at once by commits, else polls."""

    def __init__(
        self, *, engine: Engine, bus: EventBus, batch_size: int = 200, poll_interval_s: float = 1.0
    ) -> None:
        self.engine = engine
        self.bus = bus
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        with _wake_lock:
            _wake_callbacks.append(self.wake)
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        with _wake_lock:
            if self.wake in _wake_callbacks:
                _wake_callbacks.remove(self.wake)
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def wake(self) -> None:
        """Thread-safe: called from the thread that committed."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        cleanup_every = 300
        passes = 0
        while True:
            published = 0
            # Cleared before the pass, so a commit made during the pass starts the next at once.
            self._wake.clear()
            try:
                if self.bus.is_connected:
                    published = await self.relay_once()
                if published < self.batch_size:  # idle or caught up: counting is cheap now
                    await asyncio.to_thread(self._update_pending_gauge)
                passes += 1
                if passes % cleanup_every == 0:
                    await asyncio.to_thread(self._delete_old_sent)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("outbox relay pass failed", exc_info=True)
            if published < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)

    async def relay_once(self) -> int:
        """Claim one batch, publish it, mark what the broker confirmed. Returns rows sent."""
        session = Session(self.engine)
        try:
            rows = await asyncio.to_thread(self._claim, session)
            if not rows:
                return 0
            results = await asyncio.gather(
                *(
                    self.bus.publish_raw(
                        body=row.content,
                        event_id=str(row.event_id),
                        event_type=row.type,
                        correlation_id=row.correlation_id,
                    )
                    for row in rows
                ),
                return_exceptions=True,
            )
            sent = [row for row, result in zip(rows, results, strict=True) if result is None]
            failed = [
                (row, result)
                for row, result in zip(rows, results, strict=True)
                if result is not None
            ]
            await asyncio.to_thread(self._record, session, sent, failed)
            return len(sent)
        finally:
            await asyncio.to_thread(session.close)

    def _claim(self, session: Session) -> list[OutboxEvent]:
        claim = text(
            "SELECT id FROM outbox_event WHERE sent_at IS NULL AND next_attempt_at <= now() "
            "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
        )
        ids = [row[0] for row in session.execute(claim, {"limit": self.batch_size})]
        if not ids:
            session.rollback()
            return []
        rows = select(OutboxEvent).where(col(OutboxEvent.id).in_(ids)).order_by(col(OutboxEvent.id))
        return list(session.exec(rows))

    def _record(
        self,
        session: Session,
        sent: list[OutboxEvent],
        failed: list[tuple[OutboxEvent, BaseException]],
    ) -> None:
        now = utcnow()
        for row in sent:
            row.sent_at = now
            row.times_sent += 1
        for row, error in failed:
            row.times_sent += 1
            backoff_s = min(MAX_BACKOFF_S, 0.5 * 2 ** min(row.times_sent, 10))
            row.next_attempt_at = now + timedelta(seconds=random.uniform(0, backoff_s))
            row.last_error = repr(error)[:500]
        session.commit()
        if failed:
            logger.warning(
                "outbox publish failed, will retry",
                extra={"failed": len(failed), "error": repr(failed[0][1])[:300]},
            )

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
