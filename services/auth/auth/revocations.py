"""The revocation copy in the security Redis, kept whole from auth's database.

Truth: `auth_session.revoked_at`. Copy: one key per login revoked within REVOCATION_KEEP_S
(`sec:revoked:sid:<id>`, expiring when no token of that login can still be live) and
COPY_COMPLETE_KEY, the mark that the copy holds every such revocation. Checks refuse to answer
(503) while the mark is missing, so a Redis that lost its data fails closed.

A revocation (logout, refresh-token reuse, password change) holds the copy's lock shared,
writes its keys and only then commits; if Redis cannot take them nothing is committed (503).
Every auth replica keeps the copy whole (`shared/mirror.py` says how writes and rebuilds
cannot miss each other).
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from redis.client import Pipeline
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlmodel import Session

from auth.models import AuthSession
from shared.db import utcnow
from shared.mirror import RedisMirror
from shared.security import COPY_COMPLETE_KEY, REVOCATION_KEEP_S, revoked_session_key

Revocation = tuple[str, datetime]  # a login's id, when it was revoked


class RevocationUnavailable(Exception):
    """The security Redis could not take a revocation; nothing was committed."""


class RevocationCopy(RedisMirror[Revocation]):
    lock_id = 0x7265766F  # "revo"
    mark_key = COPY_COMPLETE_KEY
    name = "revocation"

    def write(self, revoked: Iterable[Revocation]) -> None:
        """Copy these revocations; raises RevocationUnavailable if Redis cannot take them."""
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                _queue(pipe, revoked, utcnow())
                pipe.execute()
        except RedisError as exc:
            raise RevocationUnavailable(str(exc)) from exc

    def load(self, session: Session, now: datetime) -> Sequence[Revocation]:
        rows = session.execute(
            select(AuthSession.id, AuthSession.revoked_at).where(  # type: ignore[call-overload]
                AuthSession.revoked_at > now - timedelta(seconds=REVOCATION_KEEP_S)  # type: ignore[operator]
            )
        ).all()
        return [(session_id, revoked_at) for session_id, revoked_at in rows]

    def replace(self, pipe: Pipeline, items: Sequence[Revocation], now: datetime) -> None:
        _queue(pipe, items, now)  # keys expire by themselves: nothing to remove


def _queue(pipe: Pipeline, revoked: Iterable[Revocation], now: datetime) -> None:
    for session_id, revoked_at in revoked:
        keep_ms = int(
            (revoked_at + timedelta(seconds=REVOCATION_KEEP_S) - now).total_seconds() * 1000
        )
        if keep_ms > 0:
            pipe.set(revoked_session_key(session_id), b"1", px=keep_ms)
