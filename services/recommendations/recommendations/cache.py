"""Each user's recommendations in Redis: one hash per user, so a cached page is one read.

Fields: `all` (the whole ranked list) and `<page>:<limit>` (a page's response bytes). The
user's own events and every trending refresh delete the hash and bump the user's
generation; a result computed from an older profile is never stored over a newer one
(the write checks the generation it started from, atomically).
"""

import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

KEY_PREFIX = "recs:v1:"
GENERATION_PREFIX = "recs:gen:"
ALL_FIELD = "all"
GLOBAL_GENERATION = f"{GENERATION_PREFIX}all"

# KEYS: hash, user generation, global generation; ARGV: user gen, global gen, ttl, field/value...
_STORE_IF_CURRENT = """
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[3], 'NX')
return 1
"""


def _key(user_id: uuid.UUID) -> str:
    return f"{KEY_PREFIX}{user_id}"


def _generation(user_id: uuid.UUID) -> str:
    return f"{GENERATION_PREFIX}{user_id}"


@dataclass(frozen=True, slots=True)
class Lookup:
    page: bytes | None
    ranked: bytes | None
    user_generation: str
    global_generation: str


def _text(value: bytes | str | None) -> str:
    if value is None:
        return "0"
    return value.decode() if isinstance(value, bytes) else value


class RecommendationCache:
    def __init__(self, redis: Redis, *, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._store = redis.register_script(_STORE_IF_CURRENT)

    async def get(self, user_id: uuid.UUID, page_field: str) -> Lookup:
        """The cached page and ranked list (either may be missing) and the generations they
        belong to; one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(_key(user_id), [page_field, ALL_FIELD])
            pipe.mget(_generation(user_id), GLOBAL_GENERATION)
            (page, ranked), (user_generation, global_generation) = await pipe.execute()
        return Lookup(page, ranked, _text(user_generation), _text(global_generation))

    async def cached_page(self, user_id: uuid.UUID, page: int, limit: int) -> bytes | None:
        """A page's response bytes if cached (the raw fast path's lookup)."""
        return (await self.get(user_id, f"{page}:{limit}")).page

    async def put(
        self, user_id: uuid.UUID, lookup: Lookup, *, ranked: bytes, page_field: str, page: bytes
    ) -> bool:
        """Store unless the profile or trending changed since `lookup`; True if stored."""
        stored = await self._store(
            keys=[_key(user_id), _generation(user_id), GLOBAL_GENERATION],
            args=[
                lookup.user_generation,
                lookup.global_generation,
                self.ttl_s,
                ALL_FIELD,
                ranked,
                page_field,
                page,
            ],
        )
        return bool(stored)

    async def drop(self, user_id: uuid.UUID) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(_generation(user_id))
            pipe.delete(_key(user_id))
            await pipe.execute()

    async def drop_all(self) -> int:
        """Drop every user's recommendations (trending changed under all of them)."""
        await self.redis.incr(GLOBAL_GENERATION)
        dropped = 0
        batch: list[bytes] = []
        async for key in self.redis.scan_iter(match=f"{KEY_PREFIX}*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                dropped += await self.redis.unlink(*batch)
                batch.clear()
        if batch:
            dropped += await self.redis.unlink(*batch)
        return dropped
