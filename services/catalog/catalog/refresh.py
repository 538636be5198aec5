"""Scheduled refresh of trending and genres: once per interval across replicas.

When the last refresh was is the database's (`trending_snapshot.refreshed_at`): every replica
checks it and refreshes once the interval has passed since it, holding a short Redis lease
only while it refreshes, so two replicas do not refresh together. The lease is released when
the refresh ends and on shutdown (only if it is still ours), and expires `REFRESH_LEASE_S`
after a crash: a restart, a deploy or a changed interval never waits out an old lease. A
refresh that saved nothing (TMDb down) keeps the lease for `FAILED_REFRESH_PAUSE_S`, so the
replicas retry about once a minute instead of at every check.

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
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Column, DateTime, Engine, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, Session, SQLModel, select

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
# Held only while a refresh runs; when the last refresh was is the database's.
LEASE_KEY = "catalog:refresh:running"
REFRESH_LEASE_S = 60  # longer than a refresh takes (a few TMDb calls with their timeouts)
FAILED_REFRESH_PAUSE_S = 60
MAX_CHECK_INTERVAL_S = 30.0  # a shortened interval or a replica's crash is noticed this soon
WINDOWS = ("day", "week")
# Delete the lease only if it still names this replica (it may have expired and been taken).
_RELEASE_IF_OURS = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
_PAUSE_IF_OURS = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) "
    "end return 0"
)
LEASE_CALL_TIMEOUT_S = 2.0


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
        """Refresh whenever it is due, for the process's lifetime."""
        while True:
            try:
                wait_s = await self.refresh_if_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("trending refresh failed")
                wait_s = self._check_interval_s()
            # A little jitter, so replicas started together do not all ask at once.
            await asyncio.sleep(wait_s + random.uniform(0, min(1.0, wait_s / 10)))

    async def refresh_if_due(self) -> float:
        """Refresh if the interval has passed since the last refresh by any replica; returns
        how long to wait before looking again."""
        due_in_s = await self._due_in_s()
        if due_in_s > 0:
            return min(due_in_s, self._check_interval_s())
        if not await self._take_lease():
            return self._check_interval_s()  # another replica is refreshing (or Redis is down)
        pause_s: int | None = FAILED_REFRESH_PAUSE_S  # unless it saves a refresh
        try:
            if await self._due_in_s() == 0:  # else refreshed by another replica meanwhile
                await self.refresh_once(trigger="schedule")
            if await self._due_in_s() > 0:
                pause_s = None
            return self._check_interval_s()
        except asyncio.CancelledError:
            pause_s = None  # shutting down: another replica may refresh at once
            raise
        finally:
            await self._end_lease(pause_s=pause_s)

    def _check_interval_s(self) -> float:
        return float(min(self.settings.refresh_interval_s, MAX_CHECK_INTERVAL_S))

    async def _due_in_s(self) -> float:
        last = await asyncio.to_thread(self._last_refreshed_at)
        if last is None:
            return 0.0
        elapsed_s = (datetime.now(UTC) - last).total_seconds()
        return max(0.0, self.settings.refresh_interval_s - elapsed_s)

    def _last_refreshed_at(self) -> datetime | None:
        with Session(self.engine) as session:
            return session.exec(select(func.max(TrendingSnapshot.refreshed_at))).one()

    async def _take_lease(self) -> bool:
        try:
            async with asyncio.timeout(LEASE_CALL_TIMEOUT_S):
                taken = await self.redis.set(
                    LEASE_KEY, self.replica_id, nx=True, ex=REFRESH_LEASE_S
                )
        except (RedisError, TimeoutError):
            logger.warning("refresh skipped: Redis unavailable for the lease")
            return False
        return bool(taken)

    async def _end_lease(self, *, pause_s: int | None) -> None:
        """Release the lease if it is still ours, or keep it `pause_s` more after a failure."""
        try:
            async with asyncio.timeout(LEASE_CALL_TIMEOUT_S):
                if pause_s is None:
                    await self.redis.eval(_RELEASE_IF_OURS, 1, LEASE_KEY, self.replica_id)
                else:
                    await self.redis.eval(
                        _PAUSE_IF_OURS, 1, LEASE_KEY, self.replica_id, str(pause_s)
                    )
        except (RedisError, TimeoutError):
            logger.warning("refresh lease not released (it expires in %d s)", REFRESH_LEASE_S)

    async def release_lease(self) -> None:
        """At shutdown: free the lease if this replica holds it, so others need not wait."""
        await self._end_lease(pause_s=None)

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
