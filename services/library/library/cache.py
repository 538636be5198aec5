"""Pages of each user's favorites, enriched with movie summaries, as response bytes in Redis.

Dropped when the user adds or removes a favorite (before the change is answered, so a user
reads their own writes) and when any movie's data changes (`catalog.movie.updated`).
"""

import asyncio
import logging
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.app import API_PREFIX
from shared.pagecache import FAVORITES_PAGES, PageLookup, UserPageCache, page_field

logger = logging.getLogger(__name__)
FAVORITES_PATH = f"{API_PREFIX}/favorites"
_RETRY_DROP_EVERY_S = 1.0


class FavoritePages(UserPageCache):
    def __init__(self, redis: Redis, *, ttl_s: int) -> None:
        super().__init__(redis, prefix=FAVORITES_PAGES, ttl_s=ttl_s)
        self._retries: set[asyncio.Task[None]] = set()

    async def cached(self, user_id: uuid.UUID, page: int, limit: int) -> bytes | None:
        """The fast path's lookup: the page's bytes, or None."""
        return (await self.get(user_id, page_field(page, limit))).body

    async def lookup(self, user_id: uuid.UUID, page: int, limit: int) -> PageLookup | None:
        """For the route: None when Redis cannot be asked (the page is then just computed)."""
        try:
            return await self.get(user_id, page_field(page, limit))
        except RedisError:
            return None

    async def store(
        self, user_id: uuid.UUID, lookup: PageLookup | None, page: int, limit: int, body: bytes
    ) -> None:
        if lookup is None:
            return
        try:
            await self.put(user_id, lookup, page_field(page, limit), body)
        except RedisError:
            logger.warning("favorites page not cached (Redis unavailable)")

    async def changed(self, user_id: uuid.UUID) -> None:
        """The user's favorites changed: their cached pages must go. If Redis cannot be told
        now, keep trying in the background until the pages would have expired anyway."""
        try:
            await self.drop(user_id)
        except RedisError:
            logger.warning("favorites pages not dropped yet (Redis unavailable); retrying")
            task = asyncio.create_task(self._drop_later(user_id))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)

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
