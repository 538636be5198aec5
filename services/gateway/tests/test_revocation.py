"""Batched revocation checks on the real Redis."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis.exceptions import RedisError

from gateway.revocation import RevocationChecks
from shared.redis import make_redis
from shared.security import Principal, revoke_token
from shared.testing import Infra


def _principal() -> Principal:
    return Principal(
        user_id=uuid.uuid4(),
        session_id=uuid.uuid4().hex,
        token_id=uuid.uuid4().hex,
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )


async def test_concurrent_checks_each_get_their_own_answer(infra: Infra) -> None:
    redis = make_redis(infra.redis_url)
    checks = RevocationChecks(redis)
    principals = [_principal() for _ in range(50)]
    for principal in principals[::3]:
        await revoke_token(redis, principal)
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


async def test_a_revocation_is_seen_by_the_very_next_check(infra: Infra) -> None:
    redis = make_redis(infra.redis_url)
    checks, principal = RevocationChecks(redis), _principal()
    assert not await checks.revoked(principal)
    await revoke_token(redis, principal)
    assert await checks.revoked(principal)


async def test_when_redis_is_down_every_waiting_check_fails() -> None:
    checks = RevocationChecks(make_redis("redis://127.0.0.1:1/0"))
    results = await asyncio.gather(
        *(checks.revoked(_principal()) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(result, RedisError) for result in results)
    with pytest.raises(RedisError):
        await checks.revoked(_principal())
