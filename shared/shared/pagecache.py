"""Each user's pages of a list as ready response bytes in Redis, dropped by generations:
the one page cache every per-user list uses, served at one layer, the gateway.

One hash per user holds the pages (`<page>:<limit>` fields), any extra fields the owner keeps
beside them (the recommendations' whole ranked list), and the generations they were computed
under (`_gen`). A user's write bumps the user's generation; a change that touches every user
(a movie's data changed, trending moved) bumps the global one. A page is served only while
both generations are the ones it was stored under, and a page computed before a bump is never
stored after it (the write compares generations atomically), so a user always reads their own
writes.

`CACHED_PAGES` declares which routes have cached pages and which service owns each (it alone
computes, stores and drops them). The gateway answers a cached page itself in one Redis
command; on a miss the same command gives it the current generations, which it passes on
(`x-page-stamp`) so the owner computes and stores the page without reading Redis again.
"""

import asyncio
import logging
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.coalesce import Coalescer, ReadBatches
from shared.parsing import ascii_int
from shared.redis import as_redis_error

logger = logging.getLogger(__name__)
GENERATION_FIELD = "_gen"
PAGE_STAMP_HEADER = "x-page-stamp"  # the generations the gateway saw on a miss
_RETRY_DROP_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class CachedPages:
    """A route whose signed-in answers are cached per user: its path, the cache's Redis
    prefix and the service that owns the pages."""

    path: str
    prefix: str
    owner: str


def pages_key(pages: CachedPages, user_id: uuid.UUID | str) -> str:
    """The Redis hash holding one user's pages (and extra fields) of a cached route."""
    return f"{pages.prefix}:pages:{user_id}"


FAVORITES_PAGES = CachedPages("/api/v1/favorites", "favorites:v1", "library")
RECOMMENDATIONS_PAGES = CachedPages(
    "/api/v1/recommendations", "recommendations:v1", "recommendations"
)
CACHED_PAGES: tuple[CachedPages, ...] = (FAVORITES_PAGES, RECOMMENDATIONS_PAGES)

# KEYS: hash, user generation, global generation; ARGV: stamp, user gen, global gen, ttl,
# field, value, field, value...
_STORE_IF_CURRENT = """
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[2] then return 0 end
if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[3] then return 0 end
if redis.call('HGET', KEYS[1], '_gen') ~= ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], '_gen', ARGV[1], unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[1], ARGV[4], 'NX')
return 1
"""


# KEYS: hash, user generation, global generation; ARGV: fields. {the current generations,
# then each field's value if the hash was stored under them (else false)}: one command for a
# hit, and on a miss what the owner needs to store the page.
_GET_CURRENT = """
local stamp = (redis.call('GET', KEYS[2]) or '0') .. ':' .. (redis.call('GET', KEYS[3]) or '0')
local got = redis.call('HMGET', KEYS[1], '_gen', unpack(ARGV))
local answer = {stamp}
for i = 2, #got do
  if got[1] == stamp then answer[i] = got[i] else answer[i] = false end
end
return answer
"""


# KEYS: for each page asked, its hash, user generation and global generation; ARGV: each
# page's field, in the same order. {stamp, page} for each, as _GET_CURRENT gives them: the
# gateway's reads asked for while one is in flight, in one command (PageReads).
_GET_MANY_CURRENT = """
local answer = {}
for i = 1, #ARGV do
  local k = 3 * (i - 1)
  local stamp = (redis.call('GET', KEYS[k + 2]) or '0') .. ':'
    .. (redis.call('GET', KEYS[k + 3]) or '0')
  local got = redis.call('HMGET', KEYS[k + 1], '_gen', ARGV[i])
  answer[2 * i - 1] = stamp
  if got[1] == stamp then answer[2 * i] = got[2] else answer[2 * i] = false end
end
return answer
"""


@dataclass(frozen=True, slots=True)
class PageLookup:
    body: bytes | None
    user_generation: str
    global_generation: str
    extras: tuple[bytes | None, ...] = ()  # the extra fields asked for, in order

    @property
    def stamp(self) -> str:
        return f"{self.user_generation}:{self.global_generation}"

    @classmethod
    def read(
        cls, stamp: bytes | str, body: bytes | None, extras: Sequence[bytes | None] = ()
    ) -> "PageLookup":
        """What a page-reading script gave: the current generations and the page (if stored
        under them)."""
        user_generation, _, global_generation = _text(stamp).partition(":")
        return cls(
            body or None,
            user_generation,
            global_generation,
            tuple(value or None for value in extras),
        )

    @classmethod
    def from_stamp(cls, stamp: str) -> "PageLookup | None":
        """The generations the gateway saw (its `x-page-stamp`), if well formed."""
        user_generation, _, global_generation = stamp.partition(":")
        if not (user_generation.isdigit() and global_generation.isdigit()):
            return None
        return cls(None, user_generation, global_generation)


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


GENERATION_TTL_S = 30 * 86400
# A generation Redis lost (a flush, a failover to a replica behind, an eviction) starts again
# from a random number, not from 1: counted from 1 again it could reach the very value a page
# computed before the loss was stamped with, and that page, older than the writes since, would
# be stored and served. KEYS: each user's generation and pages, in pairs; ARGV: ttl, a random
# start.
_DROP = """
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 0 then redis.call('SET', KEYS[i], ARGV[2]) end
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[1])
  redis.call('DEL', KEYS[i + 1])
end
return 1
"""
# KEYS: the global generation; ARGV: a random start (as above).
_BUMP = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
return redis.call('INCR', KEYS[1])
"""


def _random_start() -> int:
    return secrets.randbelow(2**52)


class UserPageCache:
    def __init__(self, redis: Redis, pages: CachedPages, *, ttl_s: int) -> None:
        self.redis = redis
        self.pages = pages
        self.prefix = pages.prefix
        self.ttl_s = ttl_s
        self.global_generation = f"{self.prefix}:gen:all"
        self._store = redis.register_script(_STORE_IF_CURRENT)
        self._get_current = redis.register_script(_GET_CURRENT)
        self._drop = redis.register_script(_DROP)
        self._bump = redis.register_script(_BUMP)
        self._retries: set[asyncio.Task[None]] = set()
        self._drops = Coalescer(self._drop_users, abandoned=lambda: RedisError("drop abandoned"))

    def _key(self, user_id: uuid.UUID) -> str:
        return pages_key(self.pages, user_id)

    def _generation(self, user_id: uuid.UUID) -> str:
        return f"{self.prefix}:gen:{user_id}"

    def keys(self, user_id: uuid.UUID) -> list[str]:
        return [self._key(user_id), self._generation(user_id), self.global_generation]

    # --- reading ----------------------------------------------------------------------------
    async def get(self, user_id: uuid.UUID, field: str, *extras: str) -> PageLookup:
        """The page (if current), the extra fields asked for, and the generations, in one
        command: the owners' read (the gateway's go in batches, `PageReads`)."""
        stamp, body, *extra_values = await self._get_current(
            keys=self.keys(user_id), args=[field, *extras]
        )
        return PageLookup.read(stamp, body, extra_values)

    async def lookup(
        self, user_id: uuid.UUID, field: str, *extras: str, stamp: str | None = None
    ) -> PageLookup | None:
        """For the owner's route: the gateway's stamp when it sent one (it found no page, so
        there is nothing to read), else a read; None when Redis cannot be asked (the page is
        then computed and not kept)."""
        if stamp is not None and not extras and (seen := PageLookup.from_stamp(stamp)):
            return seen
        try:
            return await self.get(user_id, field, *extras)
        except RedisError:
            return None

    # --- writing (the owner only) -----------------------------------------------------------
    async def put(self, user_id: uuid.UUID, lookup: PageLookup, fields: dict[str, bytes]) -> bool:
        """Store the fields unless a generation moved since `lookup`; True if stored."""
        stored = await self._store(
            keys=self.keys(user_id),
            args=[
                lookup.stamp,
                lookup.user_generation,
                lookup.global_generation,
                self.ttl_s,
                *(item for pair in fields.items() for item in pair),
            ],
        )
        return bool(stored)

    async def store(
        self, user_id: uuid.UUID, lookup: PageLookup | None, fields: dict[str, bytes]
    ) -> None:
        """As `put`, for a route: nothing when Redis could not be read or cannot be written."""
        if lookup is None:
            return
        try:
            await self.put(user_id, lookup, fields)
        except RedisError:
            logger.warning("page not cached (Redis unavailable)", extra={"cache": self.prefix})

    async def drop(self, user_id: uuid.UUID) -> None:
        """The user's pages go and their generation moves on. Drops asked for at the same
        moment (a consumer's events applied in one transaction resume together; concurrent
        writes) go in one script call (`Coalescer`); a RedisError reaches each caller."""
        await self._drops(user_id)

    async def _drop_users(self, users: list[uuid.UUID]) -> None:
        keys = [key for user in users for key in (self._generation(user), self._key(user))]
        await self._drop(keys=keys, args=[GENERATION_TTL_S, _random_start()])

    async def drop_all(self) -> None:
        """Every user's pages at once: one counter; the old hashes expire on their own."""
        await self._bump(keys=[self.global_generation], args=[_random_start()])

    async def changed(self, user_id: uuid.UUID) -> None:
        """The user's list changed: their cached pages must go, before the change is
        answered. If Redis cannot be told now, keep trying in the background until the pages
        would have expired anyway."""
        try:
            await self.drop(user_id)
        except RedisError:
            logger.warning("pages not dropped yet (Redis unavailable); retrying")
            task = asyncio.create_task(self._drop_later(user_id))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)

    async def stop(self, _: object = None) -> None:
        """At shutdown: stop retrying (a page not dropped expires with its TTL)."""
        retries, self._retries = self._retries, set()
        for task in retries:
            task.cancel()
        if retries:
            await asyncio.wait(retries, timeout=1.0)

    async def _drop_later(self, user_id: uuid.UUID) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ttl_s
        while loop.time() < deadline:
            await asyncio.sleep(_RETRY_DROP_EVERY_S)
            try:
                await self.drop(user_id)
                return
            except RedisError:
                continue


class PageReads:
    """The gateway's reads of cached pages, any route's: those asked for while one is in
    flight go together in the next script call (`ReadBatches`), one round trip and one
    command's client work for a batch instead of each. A RedisError reaches each caller."""

    def __init__(self, redis: Redis, *, max_batch: int = 128) -> None:
        self._get_many = redis.register_script(_GET_MANY_CURRENT)
        self._reads: ReadBatches[tuple[UserPageCache, uuid.UUID, str], PageLookup] = ReadBatches(
            self._read, failure=as_redis_error, max_batch=max_batch
        )

    async def close(self) -> None:
        await self._reads.close()

    def submit(
        self, cache: UserPageCache, user_id: uuid.UUID, field: str
    ) -> "asyncio.Future[PageLookup]":
        """The page and generations of `field` in the user's pages of `cache`, to await."""
        return self._reads.submit((cache, user_id, field))

    async def _read(
        self, asked: list[tuple[UserPageCache, uuid.UUID, str]]
    ) -> list[PageLookup | Exception]:
        values = await self._get_many(
            keys=[key for cache, user_id, _ in asked for key in cache.keys(user_id)],
            args=[field for _, _, field in asked],
        )
        return [PageLookup.read(values[2 * i], values[2 * i + 1]) for i in range(len(asked))]
