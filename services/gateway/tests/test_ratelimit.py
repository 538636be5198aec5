"""The batched rate limiter on the real Redis."""

import asyncio
import contextlib
import uuid

from gateway.ratelimit import RateLimiter
from shared.redis import make_redis
from testsupport.infra import Infra


async def test_one_replica_is_exact(infra: Infra) -> None:
    limiter = RateLimiter(make_redis(infra.redis_url))
    identity = f"ip:{uuid.uuid4().hex}"
    assert [limiter.allow(identity, 3) is None for _ in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    refused = limiter.allow(identity, 3)
    assert refused is not None and 1 <= refused.retry_after_s <= 60


async def test_replicas_share_counts_through_redis(infra: Infra) -> None:
    first, second = (
        RateLimiter(make_redis(infra.redis_url)),
        RateLimiter(make_redis(infra.redis_url)),
    )
    identity = f"u:{uuid.uuid4().hex}"
    for _ in range(4):
        assert first.allow(identity, 6) is None
    await first.flush()
    await second.flush()  # learns nothing yet: it has no counts of its own for the key
    assert second.allow(identity, 6) is None
    await second.flush()  # now it knows the global total (5)
    assert second.allow(identity, 6) is None  # the sixth
    assert second.allow(identity, 6) is not None  # the seventh, across both replicas


async def test_without_redis_each_replica_still_limits() -> None:
    limiter = RateLimiter(make_redis("redis://127.0.0.1:1/0"))
    identity = "ip:offline"
    assert limiter.allow(identity, 2) is None
    with contextlib.suppress(Exception):
        await limiter.flush()
    assert limiter.allow(identity, 2) is None
    assert limiter.allow(identity, 2) is not None


async def test_requests_during_a_flush_still_count(infra: Infra) -> None:
    limiter = RateLimiter(make_redis(infra.redis_url))
    identity = f"ip:{uuid.uuid4().hex}"
    for _ in range(3):
        assert limiter.allow(identity, 4) is None
    flushing = asyncio.create_task(limiter.flush())
    await asyncio.sleep(0)  # the batch has left `pending`; its round trip is in flight
    assert limiter.allow(identity, 4) is None  # the fourth
    assert limiter.allow(identity, 4) is not None  # the fifth, whatever Redis has answered yet
    await flushing
    assert limiter.allow(identity, 4) is not None


async def test_a_window_key_always_expires_even_when_redis_lost_it(infra: Infra) -> None:
    redis = make_redis(infra.redis_url)
    limiter = RateLimiter(redis)
    identity = f"u:{uuid.uuid4().hex}"
    limiter.allow(identity, 100)
    await limiter.flush()
    key = next(iter(limiter.known))
    assert 0 < await redis.ttl(key) <= 61
    commands: list[str] = []
    pipeline = redis.pipeline

    def counted_pipeline(*args, **kwargs):  # type: ignore[no-untyped-def]
        made = pipeline(*args, **kwargs)
        execute = made.execute

        async def execute_counted(*a, **k):  # type: ignore[no-untyped-def]
            commands.extend(str(command[0][0]) for command in made.command_stack)
            return await execute(*a, **k)

        made.execute = execute_counted
        return made

    redis.pipeline = counted_pipeline  # type: ignore[method-assign]
    limiter.allow(identity, 100)
    await limiter.flush()
    assert commands == ["INCRBY"], "the expiry is set once, by the first flush"
    assert await redis.get(key) == b"2"
    await redis.delete(key)  # lost: a restart or a failover of Redis
    commands.clear()
    limiter.allow(identity, 100)
    await limiter.flush()
    assert commands == ["INCRBY", "EXPIRE"]
    assert 0 < await redis.ttl(key) <= 61
