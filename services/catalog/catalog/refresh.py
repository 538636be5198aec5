"""Scheduled refresh of trending and genres by one replica at a time (a Redis lease).

Each refresh announces itself with `catalog.trending.refreshed` (naming the titles new since
the last refresh), and `catalog.movie.updated` for every trending title whose data changed, so
every cache holding the old data drops it.

What the last refresh saw (its titles and each title's data) is kept in the catalog's own
database, `trending_snapshot`, and read, compared and replaced in the same transaction that
writes the events to the outbox: a cache flush cannot make a refresh miss what is new, and two
replicas (should the lease ever be lost) cannot both announce the same change.
"""

import asyncio
import hashlib
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Column, DateTime, Engine, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, Session, SQLModel

import shared.db  # noqa: F401  (the naming convention, before any table is defined)
from catalog.config import CatalogSettings
from catalog.events import PRODUCER
from catalog.locale import DEFAULT_LOCALE
from catalog.service import Catalog
from catalog.tmdb import TmdbError
from shared.catalog_models import MovieBrief
from shared.events import CatalogMovieUpdated, CatalogTrendingRefreshed, IntegrationEvent
from shared.outbox import add_event

logger = logging.getLogger(__name__)
LEASE_KEY = "catalog:refresh:lease"
WINDOWS = ("day", "week")


class TrendingSnapshot(SQLModel, table=True):
    """What the last refresh of a window saw: its titles in order, and a digest of each one's
    data."""

    __tablename__ = "trending_snapshot"
    window: str = Field(sa_column=Column(String(8), primary_key=True))
    movie_ids: list[int] = Field(sa_column=Column(JSONB, nullable=False))
    digests: dict[str, str] = Field(sa_column=Column(JSONB, nullable=False))
    refreshed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


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
                    await self.refresh_once(trigger="schedule")
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

    async def refresh_once(self, *, trigger: str) -> list[IntegrationEvent]:
        """Refresh every window and the genres; `trigger` ("schedule" or "request") is logged,
        so the scheduled refreshes of all replicas can be counted apart from asked-for ones."""
        events: list[IntegrationEvent] = []
        for window in WINDOWS:
            try:
                events.extend(await self._refresh_window(window, trigger))
            except TmdbError as exc:
                logger.warning("trending %s not refreshed: %s", window, exc)
        try:
            await self.catalog.refetch(
                self.catalog.keys.genres(DEFAULT_LOCALE.language),
                self.settings.genres_ttl_s,
                self.catalog.fetch_genres,
            )
        except TmdbError as exc:
            logger.warning("genres not refreshed: %s", exc)
        return events

    async def _refresh_window(self, window: str, trigger: str) -> list[IntegrationEvent]:
        entry = await self.catalog.refetch(
            self.catalog.keys.trending(window, 1, DEFAULT_LOCALE.language),
            self.settings.trending_ttl_s,
            self.catalog.trending_fetcher(window),
        )
        movies = orjson.loads(entry.body)["results"]
        events = await asyncio.to_thread(self._record, window, movies)
        logger.info(
            "trending refreshed",
            extra={
                "window": window,
                "movies": len(movies),
                "events": len(events),
                "trigger": trigger,
            },
        )
        return events

    def _record(self, window: str, movies: list[dict[str, Any]]) -> list[IntegrationEvent]:
        """Compare with the last snapshot, replace it and write the events, in one transaction."""
        movie_ids = [movie["id"] for movie in movies]
        digests = {
            str(movie["id"]): hashlib.sha256(
                orjson.dumps(movie, option=orjson.OPT_SORT_KEYS)
            ).hexdigest()
            for movie in movies
        }
        now = datetime.now(UTC)
        with Session(self.engine) as session:
            snapshot = session.get(TrendingSnapshot, window, with_for_update=True)
            previous = set(snapshot.movie_ids) if snapshot else None
            known = dict(snapshot.digests) if snapshot else {}
            new_ids = [m for m in movie_ids if previous is not None and m not in previous]
            changed = [
                int(movie_id)
                for movie_id, digest in digests.items()
                if movie_id in known and known[movie_id] != digest
            ]
            by_id = {movie["id"]: movie for movie in movies}
            events: list[IntegrationEvent] = [
                CatalogTrendingRefreshed(
                    window=window,
                    movie_ids=movie_ids,
                    new_movie_ids=new_ids,
                    new_movies=[MovieBrief.model_validate(by_id[m]) for m in new_ids],
                    refreshed_at=now,
                ),
                *(CatalogMovieUpdated(movie_id=movie_id, updated_at=now) for movie_id in changed),
            ]
            if snapshot is None:
                snapshot = TrendingSnapshot(
                    window=window, movie_ids=[], digests={}, refreshed_at=now
                )
            snapshot.movie_ids = movie_ids
            snapshot.digests = {**known, **digests}
            snapshot.refreshed_at = now
            session.add(snapshot)
            for event in events:
                add_event(session, event, producer=PRODUCER)
            session.commit()
        return events
