"""Fixed one-minute rate-limit windows, shared by every gateway replica through Redis.

Counting a request costs no Redis round trip: each replica counts locally and adds its
counts to Redis every `flush_interval_s`, reading back the global totals. A request is refused
when the last global total plus what this replica counted since passes the limit, so one
replica is exact and several overshoot by at most one flush interval's traffic. If Redis is
down, each replica goes on limiting with its own counts.
"""

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.lifecycle import cancel_and_wait

logger = logging.getLogger(__name__)
WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class RateLimitKey:
    key: str
    limit: int
    retry_after_s: int


def window_key(identity: str, limit: int, now: float | None = None) -> RateLimitKey:
    """The counter for `identity` in the current minute, and how long until it resets."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_S)
    retry_after_s = max(1, int((window + 1) * WINDOW_S - now))
    return RateLimitKey(f"gw:rl:{identity}:{window}", limit, retry_after_s)


class RateLimiter:
    def __init__(self, redis: Redis, *, flush_interval_s: float = 0.1) -> None:
        self.redis = redis
        self.flush_interval_s = flush_interval_s
        self.pending: dict[str, int] = defaultdict(int)
        self.known: dict[str, int] = {}
        self._expiring: set[str] = set()  # keys this replica has given their expiry
        self._task: asyncio.Task[None] | None = None

    def allow(self, identity: str, limit: int) -> RateLimitKey | None:
        """Count one request; None if allowed, else the key (with Retry-After) it broke."""
        key = window_key(identity, limit)
        self.pending[key.key] += 1
        if self.known.get(key.key, 0) + self.pending[key.key] > limit:
            return key
        return None

    def start(self) -> None:
        self._task = asyncio.create_task(self._flush_forever(), name="rate-limit-flush")

    async def stop(self, timeout_s: float = 1.0) -> bool:
        """Stop sharing counts; True if the flushing task ended within `timeout_s`."""
        task, self._task = self._task, None
        return task is None or await cancel_and_wait(task, timeout_s)

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                await self.flush()
            except RedisError:
                logger.warning("rate-limit counts not shared (Redis unavailable); limiting locally")

    async def flush(self) -> None:
        counts, self.pending = self.pending, defaultdict(int)
        if not counts:
            return
        keys = list(counts)
        # Count the batch as known before the round trip: requests that arrive while it is in
        # flight must still see it, or a burst slips through during every flush. If Redis
        # fails, the batch simply stays counted locally.
        for key in keys:
            self.known[key] = self.known.get(key, 0) + counts[key]
        # A key's expiry is set by the flush that first adds to it (it ends with its minute),
        # not by every flush: that halved the commands of a flush, when each user's key is
        # flushed ten times a second.
        fresh = [key for key in keys if key not in self._expiring]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.incrby(key, counts[key])
            for key in fresh:
                pipe.expire(key, WINDOW_S + 1, nx=True)
            totals = (await pipe.execute())[: len(keys)]
        self._expiring.update(fresh)
        # A key that held only this flush's counts was made anew by it: Redis lost the one
        # that had its expiry (a restart, a failover), so this one gets its own.
        lost = [
            key
            for key, total in zip(keys, totals, strict=True)
            if key not in fresh and int(total) == counts[key]
        ]
        if lost:
            self._expiring.difference_update(lost)  # until Redis has taken their expiry
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in lost:
                    pipe.expire(key, WINDOW_S + 1, nx=True)
                await pipe.execute()
            self._expiring.update(lost)
        current = int(time.time() // WINDOW_S)
        self.known = {k: v for k, v in self.known.items() if _window(k) >= current}
        self._expiring = {k for k in self._expiring if _window(k) >= current}
        for key, total in zip(keys, totals, strict=True):
            self.known[key] = int(total)


def _window(key: str) -> int:
    return int(key.rsplit(":", 1)[1])
