"""The revocation copy: written with every revocation, rebuilt from PostgreSQL when lost."""

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from auth import service
from auth.config import AuthSettings
from auth.models import AuthSession, RegisterIn
from auth.passwords import Passwords
from auth.revocations import RevocationCopy, RevocationUnavailable
from shared.db import utcnow
from shared.redis import make_redis, make_sync_redis
from shared.security import (
    COPY_COMPLETE_KEY,
    REVOCATION_KEEP_S,
    Principal,
    RevocationCopyIncomplete,
    is_revoked,
    revoked_session_key,
)

pytestmark = pytest.mark.usefixtures("clean_auth_db")


@pytest.fixture
def copy(auth_settings: AuthSettings) -> Iterator[RevocationCopy]:
    revocations = RevocationCopy(make_sync_redis(auth_settings.security_redis_url))
    revocations.redis.flushdb()
    yield revocations
    revocations.redis.flushdb()


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords(time_cost=2, memory_kib=19 * 1024, parallelism=1)


def _login(engine: Engine, passwords: Passwords, settings: AuthSettings) -> str:
    with Session(engine, expire_on_commit=False) as session:
        user = service.register(
            session,
            data=RegisterIn(email=f"{uuid.uuid4().hex}@example.com", password="a fine passphrase"),
            passwords=passwords,
        )
        return service.start_session(session, user=user, settings=settings).session_id


def _revoked_in_copy(copy: RevocationCopy, session_id: str) -> bool:
    return bool(copy.redis.exists(revoked_session_key(session_id)))


def test_a_rebuild_writes_every_recent_revocation_and_the_mark(
    auth_engine: Engine, passwords: Passwords, auth_settings: AuthSettings, copy: RevocationCopy
) -> None:
    recent, old, live = (_login(auth_engine, passwords, auth_settings) for _ in range(3))
    with Session(auth_engine) as session:
        for session_id, age_s in ((recent, 60), (old, REVOCATION_KEEP_S + 60)):
            row = session.get(AuthSession, session_id)
            assert row is not None
            row.revoked_at = utcnow() - timedelta(seconds=age_s)
            session.add(row)
        session.commit()
    assert not copy.is_complete()
    assert copy.rebuild(auth_engine) == 1
    assert copy.is_complete()
    assert _revoked_in_copy(copy, recent)
    assert not _revoked_in_copy(copy, old)  # no token of it can still be live
    assert not _revoked_in_copy(copy, live)
    ttl_s = copy.redis.ttl(revoked_session_key(recent))
    assert REVOCATION_KEEP_S - 120 < ttl_s <= REVOCATION_KEEP_S - 60
    assert copy.rebuild(auth_engine) is None  # complete: nothing to do
    assert copy.rebuild(auth_engine, force=True) == 1


async def test_a_lost_copy_fails_closed_until_rebuilt(
    auth_engine: Engine, passwords: Passwords, auth_settings: AuthSettings, copy: RevocationCopy
) -> None:
    ended, kept = (_login(auth_engine, passwords, auth_settings) for _ in range(2))
    copy.rebuild(auth_engine)
    with Session(auth_engine) as session:
        service.end_session(session, session_id=ended, copy=copy)
    reader = make_redis(auth_settings.security_redis_url)

    def principal(session_id: str) -> Principal:
        return Principal(uuid.uuid4(), session_id, "t", utcnow() + timedelta(minutes=5))

    async def check(session_id: str) -> bool:
        return await is_revoked(reader, principal(session_id))

    assert await check(ended) is True
    assert await check(kept) is False
    copy.redis.flushdb()  # as a restart of a Redis that keeps nothing on disk
    for session_id in (ended, kept):
        with pytest.raises(RevocationCopyIncomplete):
            await check(session_id)  # neither "revoked" nor "not revoked"
    assert copy.rebuild_if_needed(auth_engine, force=False) == 1
    assert await check(ended) is True
    assert await check(kept) is False
    await reader.aclose()


def test_a_revocation_the_copy_cannot_take_is_not_committed(
    auth_engine: Engine, passwords: Passwords, auth_settings: AuthSettings
) -> None:
    session_id = _login(auth_engine, passwords, auth_settings)
    down = RevocationCopy(make_sync_redis("redis://127.0.0.1:1/0"))
    with Session(auth_engine) as session, pytest.raises(RevocationUnavailable):
        service.end_session(session, session_id=session_id, copy=down)
    with Session(auth_engine) as session:
        row = session.get(AuthSession, session_id)
        assert row is not None and row.revoked_at is None  # the user can simply retry


def test_a_revocation_no_replica_took_is_not_committed(
    auth_engine: Engine, passwords: Passwords, auth_settings: AuthSettings, copy: RevocationCopy
) -> None:
    """With AUTH_REVOCATION_REPLICAS=1 and no replica (gone, or not yet back after a
    failover), a logout is refused rather than trusted to a primary that may be lost."""
    session_id = _login(auth_engine, passwords, auth_settings)
    copy.replicas, copy.replica_wait_ms = 1, 50  # the test's Redis has no replica
    with Session(auth_engine) as session, pytest.raises(RevocationUnavailable, match="0 of 1"):
        service.end_session(session, session_id=session_id, copy=copy)
    with Session(auth_engine) as session:
        row = session.get(AuthSession, session_id)
        assert row is not None and row.revoked_at is None
    copy.replicas = 0
    with Session(auth_engine) as session:
        service.end_session(session, session_id=session_id, copy=copy)
    assert _revoked_in_copy(copy, session_id)


def test_a_rebuild_waits_for_a_revocation_in_flight(
    auth_engine: Engine, passwords: Passwords, auth_settings: AuthSettings, copy: RevocationCopy
) -> None:
    """A revocation that wrote its copy and then lost it (Redis restarted before the commit) is
    still in the rebuild, because the rebuild cannot read before that commit."""
    session_id = _login(auth_engine, passwords, auth_settings)
    written, commit = threading.Event(), threading.Event()

    class LosingCopy(RevocationCopy):
        def write(self, revoked):  # type: ignore[no-untyped-def]
            super().write(revoked)
            self.redis.flushdb()  # the Redis restarts right after taking it
            written.set()
            commit.wait(10)

    def revoke() -> None:
        with Session(auth_engine) as session:
            service.end_session(session, session_id=session_id, copy=LosingCopy(copy.redis))

    revoker = threading.Thread(target=revoke)
    revoker.start()
    assert written.wait(10)
    result: list[int | None] = []
    rebuilder = threading.Thread(target=lambda: result.append(copy.rebuild(auth_engine)))
    rebuilder.start()
    time.sleep(0.5)
    assert rebuilder.is_alive()  # held off by the revocation's shared lock
    assert not copy.is_complete()
    commit.set()
    revoker.join(10)
    rebuilder.join(10)
    assert result == [1]
    assert copy.is_complete() and _revoked_in_copy(copy, session_id)


async def test_the_keeper_restores_a_flushed_copy_within_seconds(
    auth_engine: Engine, passwords: Passwords, auth_settings: AuthSettings, copy: RevocationCopy
) -> None:
    session_id = _login(auth_engine, passwords, auth_settings)
    with Session(auth_engine) as session:
        service.end_session(session, session_id=session_id, copy=copy)
    keeper_copy = RevocationCopy(copy.redis, check_interval_s=0.1)
    keeper = asyncio.create_task(keeper_copy.keep_whole(auth_engine))
    try:
        for _ in range(3):
            copy.redis.flushdb()
            for _ in range(100):  # five seconds at most
                if copy.is_complete():
                    break
                await asyncio.sleep(0.05)
            assert copy.is_complete()
            assert _revoked_in_copy(copy, session_id)
    finally:
        keeper.cancel()
    assert keeper_copy.rebuilds >= 3
    assert copy.redis.get(COPY_COMPLETE_KEY) is not None
