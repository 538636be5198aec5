"""The catalog's cache: serialized response bytes in Redis, kept past freshness as a stale copy.

An entry is a small binary header (fresh-until time, kind, the ids of adult titles in it)
followed by the response body exactly as clients get it, so a hit is one GET and no
serialization. When Redis is unreachable the cache falls back to a bounded in-process copy
and retries Redis after a short pause, so an outage costs neither errors nor a restart.
"""

import logging
import struct
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from catalog.recent import RecentCopy

logger = logging.getLogger(__name__)

CACHE_REQUESTS = Counter("cache_requests_total", "Catalog cache lookups by result", ["result"])
for _result in ("hit", "miss", "stale"):  # a series for each from start-up, for rate()
    CACHE_REQUESTS.labels(_result)
_HEADER = struct.Struct("!dBH")  # fresh_until, kind, number of adult ids
_ADULT_ID = struct.Struct("!I")
KIND_DATA = 0
KIND_NOT_FOUND = 1
REDIS_RETRY_AFTER_S = 2.0


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes
    fresh_until: float
    not_found: bool = False
    adult_ids: frozenset[int] = field(default_factory=frozenset)

    def is_fresh(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) < self.fresh_until

    def encode(self) -> bytes:
        kind = KIND_NOT_FOUND if self.not_found else KIND_DATA
        adult = b"".join(_ADULT_ID.pack(i) for i in sorted(self.adult_ids))
        return _HEADER.pack(self.fresh_until, kind, len(self.adult_ids)) + adult + self.body

    @staticmethod
    def decode(raw: bytes) -> "Entry":
        fresh_until, kind, adult_count = _HEADER.unpack_from(raw)
        offset = _HEADER.size
        adult_ids = frozenset(
            _ADULT_ID.unpack_from(raw, offset + i * _ADULT_ID.size)[0] for i in range(adult_count)
        )
        body = raw[offset + adult_count * _ADULT_ID.size :]
        return Entry(
            body=body,
            fresh_until=fresh_until,
            not_found=kind == KIND_NOT_FOUND,
            adult_ids=adult_ids,
        )


def _as_bytes(raw: bytes | str | None) -> bytes | None:
    if raw is None:
        return None
    return raw if isinstance(raw, bytes) else raw.encode("latin-1")


def _decode(raw: bytes | str) -> Entry:
    data = _as_bytes(raw)
    assert data is not None
    return Entry.decode(data)


class CatalogCache:
    def __init__(
        self, redis: Redis, *, local_max_entries: int = 2000, recent_ttl_s: float = 1.0
    ) -> None:
        self.redis = redis
        self.local: OrderedDict[str, tuple[Entry, float]] = OrderedDict()
        self.local_max_entries = local_max_entries
        self._redis_down_until = 0.0
        # What the fast path answers without Redis (recent.py); dropped here with the keys.
        self.recent = RecentCopy(recent_ttl_s)

    @property
    def redis_available(self) -> bool:
        return time.monotonic() >= self._redis_down_until

    def _redis_failed(self, exc: Exception) -> None:
        if self.redis_available:
            logger.warning("Redis unavailable, using the in-process cache: %s", type(exc).__name__)
        self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER_S

    # --- in-process fallback ---------------------------------------------------------------
    def _local_get(self, key: str) -> Entry | None:
        item = self.local.get(key)
        if item is None:
            return None
        entry, expires_at = item
        if time.time() >= expires_at:
            del self.local[key]
            return None
        self.local.move_to_end(key)
        return entry

    def _local_put(self, key: str, entry: Entry, ttl_s: float) -> None:
        self.local[key] = (entry, time.time() + ttl_s)
        self.local.move_to_end(key)
        while len(self.local) > self.local_max_entries:
            self.local.popitem(last=False)

    # --- operations ------------------------------------------------------------------------
    async def get(self, key: str) -> Entry | None:
        if self.redis_available:
            try:
                raw = await self.redis.get(key)
            except RedisError as exc:
                self._redis_failed(exc)
            else:
                return _decode(raw) if raw is not None else None
        return self._local_get(key)

    async def get_with(
        self, key: str, companions: tuple[str, ...]
    ) -> tuple[Entry | None, list[bytes | None]]:
        """An entry and the raw values of companion keys, in one MGET."""
        if not companions:
            return await self.get(key), []
        if self.redis_available:
            try:
                raws = await self.redis.mget([key, *companions])
            except RedisError as exc:
                self._redis_failed(exc)
            else:
                entry = _decode(raws[0]) if raws[0] is not None else None
                return entry, [_as_bytes(raw) for raw in raws[1:]]
        return self._local_get(key), [None] * len(companions)

    async def get_many(self, keys: list[str]) -> list[Entry | None]:
        if not keys:
            return []
        if self.redis_available:
            try:
                raws = await self.redis.mget(keys)
            except RedisError as exc:
                self._redis_failed(exc)
            else:
                return [_decode(raw) if raw is not None else None for raw in raws]
        return [self._local_get(key) for key in keys]

    async def put(
        self, key: str, entry: Entry, *, keep_s: float, note: tuple[str, str] | None = None
    ) -> None:
        """Store `entry`, kept for `keep_s` seconds in all (fresh time plus stale time); with
        `note` (a set and a member), add the member to the set in the same transaction."""
        self._local_put(key, entry, keep_s)
        if not self.redis_available:
            return
        try:
            if note is None:
                await self.redis.set(key, entry.encode(), ex=max(1, int(keep_s)))
            else:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.set(key, entry.encode(), ex=max(1, int(keep_s)))
                    pipe.sadd(*note)
                    await pipe.execute()
        except RedisError as exc:
            self._redis_failed(exc)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self.local.pop(key, None)
            self.recent.forget(key)
        if keys and self.redis_available:
            try:
                await self.redis.delete(*keys)
            except RedisError as exc:
                self._redis_failed(exc)
            # Again once Redis has none: a read from Redis under way meanwhile may have got
            # the old value, and the copy takes nothing from a read begun before this.
            for key in keys:
                self.recent.forget(key)

    async def try_lock(self, key: str, ttl_ms: int) -> bool:
        """A short cross-replica lock; without Redis every replica may go ahead."""
        if not self.redis_available:
            return True
        try:
            return bool(await self.redis.set(f"lock:{key}", b"1", nx=True, px=ttl_ms))
        except RedisError as exc:
            self._redis_failed(exc)
            return True

    async def unlock(self, key: str) -> None:
        # Always tried, even while Redis counts as down: a lock taken just before a failure
        # would otherwise make every replica wait out its whole lifetime for this key.
        try:
            await self.redis.delete(f"lock:{key}")
        except RedisError as exc:
            self._redis_failed(exc)

    async def is_locked(self, key: str) -> bool:
        """Whether another fetch of `key` still holds the lock (False if Redis cannot say)."""
        if not self.redis_available:
            return False
        try:
            return bool(await self.redis.exists(f"lock:{key}"))
        except RedisError as exc:
            self._redis_failed(exc)
            return False
