"""The revocation copy in the security Redis, kept whole from auth's database.

Truth: `auth_session.revoked_at`. Copy: one key per login revoked within REVOCATION_KEEP_S
(`sec:revoked:sid:<id>`, expiring when no token of that login can still be live) and
COPY_COMPLETE_KEY, the mark that the copy holds every such revocation. Checks refuse to answer
(503) while the mark is missing, so a Redis that lost its data fails closed.

Two kinds of writer, serialised by one PostgreSQL advisory lock:
- a revocation (logout, refresh-token reuse, password change) holds the lock shared, writes its
  keys to Redis and only then commits; if Redis cannot take them nothing is committed (503);
- a rebuild holds it exclusively, reads every recent revocation and writes them together with
  the mark in one MULTI.
So a rebuild never misses a revocation: one committed before the rebuild took the lock is in
what it reads; one that starts later waits for it and then writes into a copy already marked
complete. Every auth replica looks for the mark each second and rebuilds when it is missing; a
full rewrite every minute also repairs a copy that kept its mark but lost recent keys (a
failover to a replica that lagged).
"""

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from redis.client import Redis as SyncRedis
from redis.exceptions import RedisError
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from auth.models import AuthSession
from shared.db import utcnow
from shared.security import COPY_COMPLETE_KEY, REVOCATION_KEEP_S, revoked_session_key

logger = logging.getLogger(__name__)
LOCK_ID = 0x7265766F  # one advisory lock for the revocation copy ("revo")


class RevocationUnavailable(Exception):
    """The security Redis could not take a revocation; nothing was committed."""


@dataclass
class RevocationCopy:
    redis: SyncRedis
    check_interval_s: float = 1.0
    rewrite_interval_s: float = 60.0
    rebuilds: int = field(default=0, init=False)

    def hold_shared(self, session: Session) -> None:
        """Take the lock a revocation holds until it commits (call before writing)."""
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:id)"), {"id": LOCK_ID})

    def write(self, revoked: Iterable[tuple[str, datetime]]) -> None:
        """Copy these revocations; raises RevocationUnavailable if Redis cannot take them."""
        now = utcnow()
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for session_id, revoked_at in revoked:
                    if (keep_ms := _keep_ms(revoked_at, now)) > 0:
                        pipe.set(revoked_session_key(session_id), b"1", px=keep_ms)
                pipe.execute()
        except RedisError as exc:
            raise RevocationUnavailable(str(exc)) from exc

    def is_complete(self) -> bool:
        return bool(self.redis.exists(COPY_COMPLETE_KEY))

    def rebuild(self, engine: Engine, *, force: bool = False) -> int | None:
        """Write every recent revocation and the mark; None if the copy was already complete
        (and `force` is off), else how many logins were written."""
        with Session(engine) as session:
            session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})
            if not force and self.is_complete():
                return None
            now = utcnow()
            rows = session.execute(
                select(AuthSession.id, AuthSession.revoked_at).where(  # type: ignore[call-overload]
                    AuthSession.revoked_at > now - timedelta(seconds=REVOCATION_KEEP_S)  # type: ignore[operator]
                )
            ).all()
            with self.redis.pipeline(transaction=True) as pipe:
                for session_id, revoked_at in rows:
                    if (keep_ms := _keep_ms(revoked_at, now)) > 0:
                        pipe.set(revoked_session_key(session_id), b"1", px=keep_ms)
                pipe.set(COPY_COMPLETE_KEY, now.isoformat().encode())
                pipe.execute()
            session.commit()
        self.rebuilds += 1
        return len(rows)

    async def keep_whole(self, engine: Engine) -> None:
        """Run for the process's lifetime: rebuild when the mark is missing, rewrite regularly."""
        last_rewrite = time.monotonic()
        while True:
            force = time.monotonic() - last_rewrite >= self.rewrite_interval_s
            try:
                written = await asyncio.to_thread(self.rebuild_if_needed, engine, force)
            except (RedisError, SQLAlchemyError) as exc:
                logger.warning("revocation copy check failed: %s", exc.__class__.__name__)
            else:
                if force:
                    last_rewrite = time.monotonic()
                if written is not None and not force:
                    logger.warning("revocation copy was missing; rebuilt with %d logins", written)
            await asyncio.sleep(self.check_interval_s)

    def rebuild_if_needed(self, engine: Engine, force: bool) -> int | None:
        if not force and self.is_complete():  # the common case, without touching PostgreSQL
            return None
        return self.rebuild(engine, force=force)


def _keep_ms(revoked_at: datetime, now: datetime) -> int:
    return int((revoked_at + timedelta(seconds=REVOCATION_KEEP_S) - now).total_seconds() * 1000)
