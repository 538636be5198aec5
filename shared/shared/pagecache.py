"""Each user's pages of a list as ready response bytes in Redis, dropped by generations.

One hash per user holds the pages (`<page>:<limit>` fields) and the generations they were
computed under (`_gen`). A user's write bumps the user's generation; a change that touches
every user (a movie's data changed) bumps the global one. A page is served only while both
generations are the ones it was stored under, and a page computed before a bump is never
stored after it (the write compares generations atomically), so a user always reads their own
writes. Reading is one round trip.

The gateway reads these pages too, for routes its table marks with the cache's prefix: a page
there is served without a hop to the service that owns it (which alone writes and drops it).
"""

import logging
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl

from redis.asyncio import Redis

from shared.parsing import ascii_int

logger = logging.getLogger(__name__)
GENERATION_FIELD = "_gen"
FAVORITES_PAGES = "favorites:v1"  # GET /api/v1/favorites, owned by the library service

# KEYS: hash, user generation, global generation; ARGV: stamp, user gen, global gen, ttl,
# field, value.
_STORE_IF_CURRENT = """
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[2] then return 0 end
if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[3] then return 0 end
if redis.call('HGET', KEYS[1], '_gen') ~= ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], '_gen', ARGV[1], ARGV[5], ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[4], 'NX')
return 1
"""


# KEYS: hash, user generation, global generation; ARGV: field. The page, only if stored under
# the current generations, else nil.
_GET_CURRENT = """
local got = redis.call('HMGET', KEYS[1], ARGV[1], '_gen')
if not got[1] then return nil end
local stamp = (redis.call('GET', KEYS[2]) or '0') .. ':' .. (redis.call('GET', KEYS[3]) or '0')
if got[2] ~= stamp then return nil end
return got[1]
"""


@dataclass(frozen=True, slots=True)
class PageLookup:
    body: bytes | None
    user_generation: str
    global_generation: str

    @property
    def stamp(self) -> str:
        return f"{self.user_generation}:{self.global_generation}"


def _text(value: bytes | str | None) -> str:
    if value is None:
        return "0"
    return value.decode() if isinstance(value, bytes) else value


def page_field(page: int, limit: int) -> str:
    return f"{page}:{limit}"


def plain_page_query(
    query: bytes, *, default_limit: int = 20, max_limit: int = 100, max_page: int = 500
) -> tuple[int, int] | None:
    """(page, limit) of a query with nothing but valid `page` and `limit`, else None (such a
    request is left to the routes, which validate it)."""
    page, limit = 1, default_limit
    # Blank values are kept: `page=` is the routes' to refuse (422), cached or not.
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        number = ascii_int(value, max_digits=4)
        if number is None:
            return None
        if name == "page" and 1 <= number <= max_page:
            page = number
        elif name == "limit" and 1 <= number <= max_limit:
            limit = number
        else:
            return None
    return page, limit


class UserPageCache:
    def __init__(self, redis: Redis, *, prefix: str, ttl_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.global_generation = f"{prefix}:gen:all"
        self._store = redis.register_script(_STORE_IF_CURRENT)
        self._get_current = redis.register_script(_GET_CURRENT)

    def _key(self, user_id: uuid.UUID) -> str:
        return f"{self.prefix}:pages:{user_id}"

    def _generation(self, user_id: uuid.UUID) -> str:
        return f"{self.prefix}:gen:{user_id}"

    async def get(self, user_id: uuid.UUID, field: str) -> PageLookup:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self._key(user_id), [field, GENERATION_FIELD])
            pipe.mget(self._generation(user_id), self.global_generation)
            (body, stamp), (user_generation, global_generation) = await pipe.execute()
        lookup = PageLookup(None, _text(user_generation), _text(global_generation))
        if body is not None and _text(stamp) == lookup.stamp:
            return PageLookup(body, lookup.user_generation, lookup.global_generation)
        return lookup

    async def get_body(self, user_id: uuid.UUID, field: str) -> bytes | None:
        """The page if it is current, in one command (the gateway's hot path)."""
        body: bytes | None = await self._get_current(
            keys=[self._key(user_id), self._generation(user_id), self.global_generation],
            args=[field],
        )
        return body

    async def put(self, user_id: uuid.UUID, lookup: PageLookup, field: str, body: bytes) -> bool:
        """Store unless a generation moved since `lookup`; True if stored."""
        stored = await self._store(
            keys=[self._key(user_id), self._generation(user_id), self.global_generation],
            args=[
                lookup.stamp,
                lookup.user_generation,
                lookup.global_generation,
                self.ttl_s,
                field,
                body,
            ],
        )
        return bool(stored)

    async def drop(self, user_id: uuid.UUID) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._generation(user_id))
            pipe.expire(self._generation(user_id), 30 * 86400)
            pipe.delete(self._key(user_id))
            await pipe.execute()

    async def drop_all(self) -> None:
        await self.redis.incr(self.global_generation)
