"""A copy in Redis of state whose truth is in PostgreSQL, kept whole without a hand step.

A copy is trusted only while its completeness mark exists. A rebuild writes everything the
copy must hold together with the mark in one MULTI, so a Redis that lost its data (restart
without persistence, flush, eviction of the mark, failover to an empty replica) has no mark,
and readers fall back to their safe answer (a 503, or a default) until the next rebuild.

Writers and rebuilds are serialised by one PostgreSQL advisory lock per copy:
- a writer holds it shared (`hold_shared`), writes Redis and only then commits, so nothing is
  committed that the copy could not take;
- a rebuild holds it exclusively while it reads the truth and writes the copy.
So a rebuild never misses a write: one committed before the rebuild took the lock is in what
it reads, and one that starts later waits and then writes into a copy already marked complete.
Every process that owns the truth runs `keep_whole`: it looks for the mark every
`check_interval_s` and rebuilds when it is missing, and rewrites the whole copy every
`rewrite_interval_s`, which repairs a copy that kept its mark but lost keys (eviction, a
failover to a replica that lagged).
"""

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Generic, TypeVar

from redis.client import Pipeline
from redis.client import Redis as SyncRedis
from redis.exceptions import RedisError
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from shared.db import utcnow

logger = logging.getLogger(__name__)
ItemT = TypeVar("ItemT")


class RedisMirror(ABC, Generic[ItemT]):
    lock_id: int  # the PostgreSQL advisory lock of this copy
    mark_key: str  # the completeness mark
    name: str  # for logs

    def __init__(
        self, redis: SyncRedis, *, check_interval_s: float = 1.0, rewrite_interval_s: float = 60.0
    ) -> None:
        self.redis = redis
        self.check_interval_s = check_interval_s
        self.rewrite_interval_s = rewrite_interval_s
        self.rebuilds = 0

    @abstractmethod
    def load(self, session: Session, now: datetime) -> Sequence[ItemT]:
        """Everything the copy must hold, read from the truth."""

    @abstractmethod
    def replace(self, pipe: Pipeline, items: Sequence[ItemT], now: datetime) -> None:
        """Queue the commands that make the copy hold exactly `items` (the mark is added)."""

    def hold_shared(self, session: Session) -> None:
        """Take the lock a writer holds until it commits (call before writing the copy)."""
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:id)"), {"id": self.lock_id})

    def is_complete(self) -> bool:
        return bool(self.redis.exists(self.mark_key))

    def rebuild(self, engine: Engine, *, force: bool = False) -> int | None:
        """Write the whole copy and the mark; None if it was complete already (and `force` is
        off), else how many items were written."""
        with Session(engine) as session:
            session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": self.lock_id})
            if not force and self.is_complete():
                return None
            now = utcnow()
            items = self.load(session, now)
            with self.redis.pipeline(transaction=True) as pipe:
                self.replace(pipe, items, now)
                pipe.set(self.mark_key, now.isoformat().encode())
                pipe.execute()
            session.commit()
        self.rebuilds += 1
        return len(items)

    def rebuild_if_needed(self, engine: Engine, force: bool) -> int | None:
        if not force and self.is_complete():  # the common case, without touching PostgreSQL
            return None
        return self.rebuild(engine, force=force)

    async def keep_whole(self, engine: Engine) -> None:
        """Run for the process's lifetime: rebuild when the mark is missing, rewrite regularly."""
        last_rewrite = time.monotonic()
        while True:
            force = time.monotonic() - last_rewrite >= self.rewrite_interval_s
            try:
                written = await asyncio.to_thread(self.rebuild_if_needed, engine, force)
            except (RedisError, SQLAlchemyError) as exc:
                logger.warning("%s copy check failed: %s", self.name, exc.__class__.__name__)
            else:
                if force:
                    last_rewrite = time.monotonic()
                if written is not None and not force:
                    logger.warning("%s copy was missing; rebuilt with %d items", self.name, written)
            await asyncio.sleep(self.check_interval_s)
