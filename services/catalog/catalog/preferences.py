"""Which users allow adult titles: a read model kept from `user.preferences_changed` events.

Its truth is the catalog's `adult_viewer` table (each event applied once, through the inbox,
a newer change never replaced by an older one); the set in Redis that every request reads is
a copy with a completeness mark (`shared/mirror.py`), rebuilt by the catalog when lost. Until
it is whole again, and while Redis is down, everyone gets the safe default: no adult titles.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from sqlalchemy import Boolean, Column, DateTime, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Field, Session, SQLModel, col

import shared.db  # noqa: F401  (the naming convention, before any table is defined)
from shared.mirror import RedisMirror

ADULT_USERS_KEY = "catalog:adult-users"
ADULT_USERS_COMPLETE_KEY = "catalog:adult-users:complete"
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


class AdultViewer(SQLModel, table=True):
    __tablename__ = "adult_viewer"

    user_id: uuid.UUID = Field(primary_key=True)
    allowed: bool = Field(sa_column=Column(Boolean, nullable=False))
    changed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AdultViewers(RedisMirror[str]):
    lock_id = 0x61647574  # "adut"
    mark_key = ADULT_USERS_COMPLETE_KEY
    name = "adult viewers"

    def apply(self, session: Session, *, user_id: uuid.UUID, allowed: bool, at: datetime) -> None:
        """Record a user's choice (an older one arriving late changes nothing) and copy the
        result to Redis before the caller commits; raises RedisError if it cannot."""
        self.hold_shared(session)
        statement = insert(AdultViewer).values(user_id=user_id, allowed=allowed, changed_at=at)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id"],
                set_={"allowed": statement.excluded.allowed, "changed_at": at},
                where=col(AdultViewer.changed_at) < statement.excluded.changed_at,
            )
        )
        now_allowed = session.scalar(
            select(col(AdultViewer.allowed)).where(col(AdultViewer.user_id) == user_id)
        )
        if now_allowed:
            self.redis.sadd(ADULT_USERS_KEY, str(user_id))
        else:
            self.redis.srem(ADULT_USERS_KEY, str(user_id))

    def load(self, session: Session, now: datetime) -> Sequence[str]:
        # Members of the set with no row come from before the table existed (every change
        # since writes its row first): keep them, so an upgrade forgets nobody's choice.
        known = {str(user_id) for user_id in session.scalars(select(col(AdultViewer.user_id)))}
        for member in self.redis.smembers(ADULT_USERS_KEY):
            text = member.decode() if isinstance(member, bytes) else str(member)
            if text not in known:
                session.add(
                    AdultViewer(user_id=uuid.UUID(text), allowed=True, changed_at=_LONG_AGO)
                )
        session.flush()
        allowed = session.scalars(select(col(AdultViewer.user_id)).where(col(AdultViewer.allowed)))
        return [str(user_id) for user_id in allowed]

    def replace(self, pipe: Pipeline, items: Sequence[str], now: datetime) -> None:
        pipe.delete(ADULT_USERS_KEY)
        if items:
            pipe.sadd(ADULT_USERS_KEY, *items)


async def allows_adult(redis: Redis, user_id: uuid.UUID | None) -> bool:
    """Anonymous users, everyone while Redis is down, and everyone while the copy is being
    rebuilt get the safe default."""
    if user_id is None:
        return False
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.sismember(ADULT_USERS_KEY, str(user_id))
            pipe.exists(ADULT_USERS_COMPLETE_KEY)
            member, complete = await pipe.execute()
    except RedisError:
        return False
    return bool(member) and bool(complete)
