"""Scheduled refresh of trending and genres by one replica at a time (a Redis lease).

Each refresh announces itself with `catalog.trending.refreshed`, and `catalog.movie.updated`
for every trending title whose data changed, so every cache holding the old data drops it.
"""

import asyncio
import logging
import uuid
from datetime import UTC, datetime

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlmodel import Session

from catalog.config import CatalogSettings
from catalog.events import PRODUCER
from catalog.service import Catalog, trending_key
from catalog.tmdb import TmdbError
from shared.events import CatalogMovieUpdated, CatalogTrendingRefreshed, IntegrationEvent
from shared.outbox import add_event

logger = logging.getLogger(__name__)
LEASE_KEY = "catalog:refresh:lease"
WINDOWS = ("day", "week")


def _ids_key(window: str) -> str:
    return f"catalog:trending:ids:{window}"


DIGESTS_KEY = "catalog:trending:digests"


class TrendingRefresher:
    def __init__(
        self, *, catalog: Catalog, redis: Redis, engine: Engine, settings: CatalogSettings
    ) -> None:
        self.catalog = catalog
        self.redis = redis
        self.engine = engine
        self.settings = settings
        self.replica_id = uuid.uuid4().hex

    async def run(self) -> None:
        while True:
            try:
                if await self._take_lease():
                    await self.refresh_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("trending refresh failed")
            await asyncio.sleep(self.settings.refresh_interval_s)

    async def _take_lease(self) -> bool:
        try:
            taken = await self.redis.set(
                LEASE_KEY, self.replica_id, nx=True, ex=max(1, self.settings.refresh_interval_s - 1)
            )
        except RedisError:
            logger.warning("refresh skipped: Redis unavailable for the lease")
            return False
        return bool(taken)

    async def refresh_once(self) -> list[IntegrationEvent]:
        events: list[IntegrationEvent] = []
        for window in WINDOWS:
            try:
                events.extend(await self._refresh_window(window))
            except TmdbError as exc:
                logger.warning("trending %s not refreshed: %s", window, exc)
        try:
            await self.catalog.refetch(
                "catalog:v1:genres", self.settings.genres_ttl_s, self.catalog.fetch_genres
            )
        except TmdbError as exc:
            logger.warning("genres not refreshed: %s", exc)
        if events:
            await asyncio.to_thread(self._publish, events)
        return events

    async def _refresh_window(self, window: str) -> list[IntegrationEvent]:
        entry = await self.catalog.refetch(
            trending_key(window, 1),
            self.settings.trending_ttl_s,
            self.catalog.trending_fetcher(window),
        )
        movies = orjson.loads(entry.body)["results"]
        movie_ids = [movie["id"] for movie in movies]
        previous_raw = await self.redis.get(_ids_key(window))
        previous = set(orjson.loads(previous_raw)) if previous_raw else None
        new_ids = [m for m in movie_ids if previous is not None and m not in previous]
        digests = {
            str(movie["id"]): orjson.dumps(movie, option=orjson.OPT_SORT_KEYS) for movie in movies
        }
        known = await self.redis.hmget(DIGESTS_KEY, list(digests)) if digests else []
        changed = [
            int(movie_id)
            for (movie_id, digest), old in zip(digests.items(), known, strict=True)
            if old is not None and old != digest
        ]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(_ids_key(window), orjson.dumps(movie_ids))
            if digests:
                pipe.hset(DIGESTS_KEY, mapping=digests)  # type: ignore[arg-type]
            await pipe.execute()
        now = datetime.now(UTC)
        logger.info(
            "trending refreshed",
            extra={"window": window, "movies": len(movie_ids), "new": len(new_ids)},
        )
        events: list[IntegrationEvent] = [
            CatalogTrendingRefreshed(
                window=window, movie_ids=movie_ids, new_movie_ids=new_ids, refreshed_at=now
            )
        ]
        events.extend(
            CatalogMovieUpdated(movie_id=movie_id, updated_at=now) for movie_id in changed
        )
        return events

    def _publish(self, events: list[IntegrationEvent]) -> None:
        with Session(self.engine) as session:
            for event in events:
                add_event(session, event, producer=PRODUCER)
            session.commit()
