"""Batched revocation checks on the real (security) Redis."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.revocation import RevocationChecks
from shared.redis import make_redis
from shared.security import (
    COPY_COMPLETE_KEY,
    Principal,
    RevocationCopyIncomplete,
    revoked_session_key,
)
from testsupport.infra import Infra


def _principal() -> Principal:
    return Principal(
        user_id=uuid.uuid4(),
        session_id=uuid.uuid4().hex,
        token_id=uuid.uuid4().hex,
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )


@pytest.fixture
async def redis(infra: Infra) -> AsyncIterator[Redis]:
    client = make_redis(infra.security_redis_url)
    await client.set(COPY_COMPLETE_KEY, b"test")
    yield client
    await client.aclose()


async def _revoke(redis: Redis, principal: Principal) -> None:
    await redis.set(revoked_session_key(principal.session_id), b"1", ex=60)


async def test_concurrent_checks_each_get_their_own_answer(redis: Redis) -> None:
    checks = RevocationChecks(redis)
    principals = [_principal() for _ in range(50)]
    for principal in principals[::3]:
        await _revoke(redis, principal)
    calls = 0
    real_mget = redis.mget

    async def counting_mget(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return await real_mget(*args, **kwargs)

    redis.mget = counting_mget  # type: ignore[method-assign]
    answers = await asyncio.gather(*(checks.revoked(p) for p in principals))
    assert answers == [index % 3 == 0 for index in range(50)]
    assert calls < 50  # checks that arrived together shared reads


async def test_a_revocation_is_seen_by_the_very_next_check(redis: Redis) -> None:
    checks, principal = RevocationChecks(redis), _principal()
    assert not await checks.revoked(principal)
    await _revoke(redis, principal)
    assert await checks.revoked(principal)


async def test_without_the_completeness_mark_no_check_says_not_revoked(redis: Redis) -> None:
    checks = RevocationChecks(redis)
    revoked, other = _principal(), _principal()
    await _revoke(redis, revoked)
    await redis.delete(COPY_COMPLETE_KEY)  # the copy was lost (and is being rebuilt)
    results = await asyncio.gather(
        checks.revoked(revoked), checks.revoked(other), return_exceptions=True
    )
    assert all(isinstance(result, RevocationCopyIncomplete) for result in results)
    await redis.set(COPY_COMPLETE_KEY, b"test")
    assert await checks.revoked(revoked) and not await checks.revoked(other)


async def test_when_redis_is_down_every_waiting_check_fails() -> None:
    checks = RevocationChecks(make_redis("redis://127.0.0.1:1/0"))
    results = await asyncio.gather(
        *(checks.revoked(_principal()) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(result, RedisError) for result in results)
    with pytest.raises(RedisError):
        await checks.revoked(_principal())
