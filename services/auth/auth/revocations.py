"""The revocation copy in the security Redis, kept whole from auth's database.

Truth: `auth_session.revoked_at`. Copy: one key per login revoked within REVOCATION_KEEP_S
(`sec:revoked:sid:<id>`, expiring when no token of that login can still be live) and
COPY_COMPLETE_KEY, the mark that the copy holds every such revocation. Checks refuse to answer
(503) while the mark is missing, so a Redis that lost its data fails closed.

A revocation (logout, refresh-token reuse, password change) holds the copy's lock shared,
writes its keys and only then commits; if Redis cannot take them nothing is committed (503).
With a replicated security Redis (AUTH_REVOCATION_REPLICAS=1), a revocation counts as written
only once a replica has it too (WAIT): a failover right after a logout cannot promote a replica
that never saw it, which would still hold the completeness mark and let the token through.
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
    replicas = 0  # replicas that must have a revocation before it counts as written
    replica_wait_ms = 500

    def write(self, revoked: Iterable[Revocation]) -> None:
        """Copy these revocations; raises RevocationUnavailable if Redis cannot take them (or
        fewer than `replicas` replicas have them within `replica_wait_ms`)."""
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                _queue(pipe, revoked, utcnow())
                if self.replicas:
                    pipe.execute_command("WAIT", self.replicas, self.replica_wait_ms)
                answers = pipe.execute()
        except RedisError as exc:
            raise RevocationUnavailable(str(exc)) from exc
        if self.replicas and int(answers[-1]) < self.replicas:
            raise RevocationUnavailable(f"{answers[-1]} of {self.replicas} replicas have it")

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
