"""Inbox: the ids of events a consumer has applied, so a redelivered event changes nothing.

Record the id in the same transaction as the handler's effect; if the record already
exists the whole transaction is a no-op.
"""

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Column, DateTime, Engine, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Field, Session, SQLModel

from shared.bus.bus import TransientError
from shared.db import utcnow
from shared.events import EventEnvelope


class InboxEvent(SQLModel, table=True):
    __tablename__ = "inbox_event"

    consumer: str = Field(primary_key=True, max_length=100)
    event_id: uuid.UUID = Field(primary_key=True)
    type: str = Field(max_length=100)
    processed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


def record_once(session: Session, *, consumer: str, event_id: uuid.UUID, event_type: str) -> bool:
    """Record the event as processed; False if it already was (then do nothing else)."""
    inserted = session.execute(
        text(
            "INSERT INTO inbox_event (consumer, event_id, type, processed_at) "
            "VALUES (:consumer, :event_id, :type, now()) ON CONFLICT DO NOTHING RETURNING event_id"
        ),
        {"consumer": consumer, "event_id": event_id, "type": event_type},
    ).first()
    return inserted is not None


def apply_once(
    engine: Engine, *, consumer: str, envelope: EventEnvelope, effect: Callable[[Session], None]
) -> bool:
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


async def handle_once(
    engine: Engine, *, consumer: str, envelope: EventEnvelope, effect: Callable[[Session], None]
) -> bool:
    """`apply_once` off the event loop; a database outage is a transient error (retried)."""
    try:
        return await asyncio.to_thread(
            apply_once, engine, consumer=consumer, envelope=envelope, effect=effect
        )
    except (OperationalError, InterfaceError) as exc:
        raise TransientError("database unavailable") from exc
