"""Inbox: the ids of events a consumer has applied, so a redelivered event changes nothing.

Record the id in the same transaction as the handler's effect; if the record already
exists the whole transaction is a no-op.

Events a consumer handles at the same time are applied together (`handle_once`): while one
transaction is running, the events that arrive queue up, and the next transaction records
and applies all of them, one commit for the lot (group commit). One transaction per event
held a consumer to about 400 events/s and let its lag reach 5 to 10 s under write load: the
commits, not the effects, were most of its time (py-spy). If anything in a shared transaction
fails, it is rolled back and each of its events is applied again in a transaction of its own,
so one bad event fails alone and the others are applied once. An effect that locks rows in an
order of its own (two shared transactions could take them in opposite orders, and deadlock)
asks to be applied `alone`: in a transaction of its own, in its turn among the others.

An effect's statements whose results it does not read (`execute_later`: an insert, an update,
a delete) go to the server at the commit, every such statement of the transaction in one round
trip, in the order asked: one round trip per batch instead of one per event (they were most of
a consumer's time in the database under write load, py-spy). A statement the session runs
in between (an account deletion's deletes, a read) sends those pending first.

Under load, the batcher waits up to `BATCH_LINGER_S` before each transaction for more events
to join it (not once `ENOUGH_TO_START` are waiting: a consumer behind on its queue goes at
once; nor when it has been idle for `BUSY_WITHIN_S`: a lone event goes straight away). Without
the wait a transaction started with the first event to arrive, and under write load most held
one or two: each paid its thread hop, its commit (a WAL flush) and its acknowledgement alone.
"""

import asyncio
import logging
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg2.extensions
from sqlalchemy import Column, DateTime, Dialect, Engine, TextClause, event, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.sql.compiler import Compiled
from sqlmodel import Field, Session, SQLModel

from shared.bus.bus import TransientError
from shared.db import utcnow
from shared.events import EventEnvelope

logger = logging.getLogger(__name__)

MAX_BATCH = 64  # events in one shared transaction
# Measured in `make bench`'s write rows (BENCHMARKS.md), against no wait: 5 ms took the CPU
# per write from 4.2 to 4.0 ms, 10 ms to 3.7, 20 ms to 3.6, each consumer's by a third; 50 ms
# against 20 a little more for the watchlist (three consumers). An event reaches its effect
# at most this much later (the consumers' lag target is 1 s).
BATCH_LINGER_S = 0.05
BUSY_WITHIN_S = 1.0  # a transaction this recent: the consumer is under load, it waits
# ...unless this many are waiting already: a consumer behind on its queue (a quarter of its
# prefetch of 64 handed over) starts its transactions at once.
ENOUGH_TO_START = 16

Effect = Callable[[Session], None]


class InboxEvent(SQLModel, table=True):
    __tablename__ = "inbox_event"

    consumer: str = Field(primary_key=True, max_length=100)
    event_id: uuid.UUID = Field(primary_key=True)
    type: str = Field(max_length=100)
    processed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


_RECORD = text(
    "INSERT INTO inbox_event (consumer, event_id, type, processed_at) "
    "VALUES (:consumer, :event_id, :type, now()) ON CONFLICT DO NOTHING RETURNING event_id"
)
_RECORD_MANY = text(
    "INSERT INTO inbox_event (consumer, event_id, type, processed_at) "
    "SELECT :consumer, event_id, type, now() "
    "FROM unnest(CAST(:event_ids AS uuid[]), CAST(:types AS text[])) AS e(event_id, type) "
    "ORDER BY event_id ON CONFLICT DO NOTHING RETURNING event_id"
)


_DEFERRED = "inbox.deferred"  # in Session.info: the statements to run at the commit
_WATCHED = "inbox.deferred.watched"  # in Session.info: its statements send the pending first
_compiled: weakref.WeakKeyDictionary[TextClause, Compiled] = weakref.WeakKeyDictionary()


def execute_later(session: Session, statement: TextClause, parameters: dict[str, Any]) -> None:
    """Run `statement` when the session commits, with the transaction's other deferred
    statements, in one round trip, in the order asked; a rollback drops it. Only for a
    statement whose result nobody reads. The transaction's order holds: any other statement
    the session executes (or flushes) sends the pending ones first, so a later delete or read
    in the same transaction sees them (a statement sent on the connection itself would not)."""
    session.connection()  # in the transaction, so that its rollback is seen
    if _WATCHED not in session.info:
        session.info[_WATCHED] = True
        event.listen(session, "do_orm_execute", _run_deferred_first)
        event.listen(session, "before_flush", _run_deferred_before_flush)
    session.info.setdefault(_DEFERRED, []).append((statement, parameters))


def _run_deferred_first(state: ORMExecuteState) -> None:
    _run_deferred(state.session)


def _run_deferred_before_flush(session: OrmSession, _context: Any, _instances: Any) -> None:
    _run_deferred(session)


@event.listens_for(OrmSession, "before_commit")
def _run_deferred(session: OrmSession) -> None:
    deferred = session.info.pop(_DEFERRED, None)
    if not deferred:
        return
    connection = session.connection()
    dialect = connection.dialect
    driver_connection = connection.connection.dbapi_connection
    assert driver_connection is not None
    cursor = driver_connection.cursor()  # for mogrify only: it does not reach the server
    try:
        script = b";\n".join(
            cursor.mogrify(*_driver_form(statement, dialect, parameters))
            for statement, parameters in deferred
        )
    finally:
        cursor.close()
    # mogrify wrote the values in the connection's client encoding
    text_ = script.decode(psycopg2.extensions.encodings[driver_connection.encoding])
    # Through SQLAlchemy (its errors, its events); the driver formats the text once more.
    connection.exec_driver_sql(text_.replace("%", "%%"))


@event.listens_for(OrmSession, "after_soft_rollback")
def _drop_deferred(session: OrmSession, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the transaction, not a savepoint in it
        session.info.pop(_DEFERRED, None)


def _driver_form(
    statement: TextClause, dialect: Dialect, parameters: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    compiled = _compiled.get(statement)
    if compiled is None or compiled.dialect is not dialect:
        compiled = _compiled[statement] = statement.compile(dialect=dialect)
    return compiled.string, dict(compiled.construct_params(parameters) or {})


def record_once(session: Session, *, consumer: str, event_id: uuid.UUID, event_type: str) -> bool:
    """Record the event as processed; False if it already was (then do nothing else)."""
    inserted = session.execute(
        _RECORD, {"consumer": consumer, "event_id": event_id, "type": event_type}
    ).first()
    return inserted is not None


def apply_once(engine: Engine, *, consumer: str, envelope: EventEnvelope, effect: Effect) -> bool:
    """Run `effect` and record the event in one transaction; False if it was applied before."""
    with Session(engine) as session:
        if not record_once(
            session, consumer=consumer, event_id=envelope.event_id, event_type=envelope.type
        ):
            session.rollback()
            return False
        effect(session)
        session.commit()
        return True


class _EffectEndedTransaction(Exception):
    """An effect committed or rolled back the shared transaction itself."""


def apply_many(
    engine: Engine, *, consumer: str, items: list[tuple[EventEnvelope, Effect]]
) -> list[bool]:
    """Record and apply several events in one transaction: for each, True if it was applied
    now, False if it had been before (or is a repeat of an earlier one in `items`). Raises if
    any effect fails (nothing is committed then). An effect must leave the transaction to the
    caller: one that commits or rolls back fails the lot."""
    ended: list[str] = []

    with Session(engine) as session:

        def refuse_commit(_: Session) -> None:
            if not committing:
                raise _EffectEndedTransaction("an effect committed a shared transaction")

        def note_rollback(_: Session) -> None:
            ended.append("rollback")

        committing = False
        event.listen(session, "before_commit", refuse_commit)
        event.listen(session, "after_soft_rollback", note_rollback)
        try:
            fresh = {
                uuid.UUID(str(row[0]))
                for row in session.execute(
                    _RECORD_MANY,
                    {
                        "consumer": consumer,
                        "event_ids": [str(envelope.event_id) for envelope, _ in items],
                        "types": [envelope.type for envelope, _ in items],
                    },
                )
            }
            applied: list[bool] = []
            for envelope, effect in items:
                if envelope.event_id not in fresh:
                    applied.append(False)
                    continue
                fresh.discard(envelope.event_id)  # a repeat later in the batch is not applied
                effect(session)
                if ended:
                    raise _EffectEndedTransaction("an effect rolled back a shared transaction")
                applied.append(True)
            committing = True
            session.commit()
            return applied
        finally:
            event.remove(session, "before_commit", refuse_commit)
            event.remove(session, "after_soft_rollback", note_rollback)


@dataclass(eq=False)
class _Pending:
    envelope: EventEnvelope
    effect: Effect
    done: asyncio.Future[bool]
    alone: bool = False  # in a transaction of its own


@dataclass(eq=False)
class _Batcher:
    """One consumer's queue of events waiting for a transaction, in one event loop."""

    engine: Engine
    consumer: str
    pending: list[_Pending] = field(default_factory=list)
    worker: asyncio.Task[None] | None = None
    enough: asyncio.Future[None] | None = None  # set once ENOUGH_TO_START are pending
    last_batch_at: float = float("-inf")  # the loop's clock when the last transaction began

    def submit(
        self, envelope: EventEnvelope, effect: Effect, *, alone: bool = False
    ) -> asyncio.Future[bool]:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.pending.append(_Pending(envelope, effect, done, alone))
        if self.worker is None or self.worker.done():
            self.worker = asyncio.create_task(self._drain(), name=f"inbox:{self.consumer}")
        elif (
            len(self.pending) >= ENOUGH_TO_START
            and self.enough is not None
            and not self.enough.done()
        ):
            self.enough.set_result(None)
        return done

    async def _linger(self) -> None:
        """Under load, wait up to BATCH_LINGER_S for others to join the next transaction."""
        busy = asyncio.get_running_loop().time() - self.last_batch_at < BUSY_WITHIN_S
        if not busy or len(self.pending) >= ENOUGH_TO_START or self.pending[0].alone:
            return
        self.enough = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(BATCH_LINGER_S):
                await self.enough
        except TimeoutError:
            pass
        finally:
            self.enough = None

    async def _drain(self) -> None:
        """Applies what is pending, a batch at a time, until nothing is; ends then. Cancelled,
        it cancels what waits on it (the messages are not acknowledged: the broker delivers
        them again, and the inbox keeps what was committed from being applied twice)."""
        try:
            while self.pending:
                await self._linger()
                self.last_batch_at = asyncio.get_running_loop().time()
                taken = self._next_batch()
                batch = [item for item in self.pending[:taken] if not item.done.done()]
                del self.pending[:taken]
                if batch:
                    await self._apply(batch)
        except asyncio.CancelledError:
            for item in self.pending:
                item.done.cancel()
            self.pending.clear()
            raise

    def _next_batch(self) -> int:
        """How many of the pending go in the next transaction: up to MAX_BATCH, up to the
        first that is to be applied alone, or that one by itself."""
        if self.pending[0].alone:
            return 1
        head = self.pending[:MAX_BATCH]
        return next((i for i, item in enumerate(head) if item.alone), len(head))

    async def _apply(self, batch: list[_Pending]) -> None:
        step = asyncio.get_running_loop().run_in_executor(None, self._apply_in_thread, batch)
        try:
            outcomes = await asyncio.shield(step)
        except asyncio.CancelledError:
            for item in batch:
                item.done.cancel()
            raise
        for item, outcome in zip(batch, outcomes, strict=True):
            if item.done.done():
                continue
            if isinstance(outcome, BaseException):
                item.done.set_exception(outcome)
            else:
                item.done.set_result(outcome)

    def _apply_in_thread(self, batch: list[_Pending]) -> list[bool | BaseException]:
        if len(batch) > 1:
            try:
                return list(
                    apply_many(
                        self.engine,
                        consumer=self.consumer,
                        items=[(item.envelope, item.effect) for item in batch],
                    )
                )
            except Exception as exc:
                if _is_outage(exc):  # each alone would wait for its own connect: fail them all
                    return [exc] * len(batch)
                logger.warning(
                    "a shared inbox transaction failed; applying its events one by one",
                    extra={"consumer": self.consumer, "events": len(batch), "error": repr(exc)},
                )
        outcomes: list[bool | BaseException] = []
        for item in batch:
            try:
                outcomes.append(
                    apply_once(
                        self.engine,
                        consumer=self.consumer,
                        envelope=item.envelope,
                        effect=item.effect,
                    )
                )
            except Exception as exc:
                outcomes.append(exc)
        return outcomes


def _is_outage(exc: Exception) -> bool:
    """The database could not be reached (no answer from the server, or no connection from the
    pool), as against an error the server raised (a deadlock, a constraint), which one event
    alone may not meet again."""
    if isinstance(exc, SQLAlchemyTimeoutError):
        return True
    return isinstance(exc, OperationalError | InterfaceError) and (
        getattr(exc.orig, "pgcode", None) is None
    )


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[int, str], _Batcher]]
_batchers = weakref.WeakKeyDictionary()


def _batcher(engine: Engine, consumer: str) -> _Batcher:
    mine = _batchers.setdefault(asyncio.get_running_loop(), {})
    key = (id(engine), consumer)
    found = mine.get(key)
    if found is None or found.engine is not engine:
        found = mine[key] = _Batcher(engine, consumer)
    return found


async def handle_once(
    engine: Engine, *, consumer: str, envelope: EventEnvelope, effect: Effect, alone: bool = False
) -> bool:
    """Apply the event's effect once, off the event loop, in a transaction it may share with
    other events this consumer is handling now (`alone`: in one of its own, still in its turn
    among them); False if it was applied before. A database outage is a transient error
    (retried).

    `effect` may run more than once (a failed shared transaction is retried event by event),
    and only the run that committed counts: an effect that hands back results through its
    closure replaces them on each run, never appends."""
    try:
        return await _batcher(engine, consumer).submit(envelope, effect, alone=alone)
    except (OperationalError, InterfaceError) as exc:
        raise TransientError("database unavailable") from exc
