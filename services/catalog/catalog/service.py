"""The catalog: cached TMDb data with single-flight fetches and stale-if-error. No HTTP here."""

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from catalog.cache import CACHE_REQUESTS, CatalogCache, Entry
from catalog.config import CatalogSettings
from catalog.models import (
    CommunityRating,
    Genre,
    MovieDetail,
    MovieSummary,
    TmdbGenreList,
    TmdbMovie,
    TmdbMovieDetail,
    TmdbPage,
)
from catalog.tmdb import TmdbClient, TmdbNotFound, TmdbUnavailable

logger = logging.getLogger(__name__)

MAX_PAGE = 500
OTHER_REPLICA_POLL_S = 0.05
SUMMARY_FIELDS = tuple(MovieSummary.model_fields)


class MovieNotFound(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Served:
    entry: Entry
    cache_status: str  # HIT, MISS or STALE
    companions: tuple[bytes | None, ...] = ()  # raw values read with the entry


def trending_key(window: str, page: int) -> str:
    return f"catalog:v1:trending:{window}:{page}"


def movie_key(movie_id: int) -> str:
    return f"catalog:v2:movie:{movie_id}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class Catalog:
    def __init__(self, *, tmdb: TmdbClient, cache: CatalogCache, settings: CatalogSettings) -> None:
        self.tmdb = tmdb
        self.cache = cache
        self.settings = settings
        self._inflight: dict[str, asyncio.Task[Entry]] = {}

    # --- public reads ----------------------------------------------------------------------
    async def trending(self, window: str, page: int) -> Served:
        return await self._serve(
            trending_key(window, page),
            self.settings.trending_ttl_s,
            lambda: self._page(
                "trending",
                f"/trending/movie/{window}",
                {"page": page},
                self.settings.trending_ttl_s,
            ),
        )

    async def movie(self, movie_id: int, *, companions: tuple[str, ...] = ()) -> Served:
        """A movie's details (without community_rating); `companions` are read in the same MGET."""
        return await self._serve(
            movie_key(movie_id),
            self.settings.movie_ttl_s,
            lambda: self._detail(movie_id),
            companions=companions,
        )

    async def similar(self, movie_id: int, page: int) -> Served:
        await self.movie(movie_id)  # 404 for an unknown movie, from the cache when possible
        return await self._similar_page(movie_id, page)

    async def recommendations(self, movie_id: int, page: int) -> Served:
        return await self._serve(
            f"catalog:v1:recommendations:{movie_id}:{page}",
            self.settings.movie_ttl_s,
            lambda: self._page(
                "recommendations",
                f"/movie/{movie_id}/recommendations",
                {"page": page},
                self.settings.movie_ttl_s,
            ),
        )

    async def search(self, query: str, page: int) -> Served:
        normalized = " ".join(query.split()).casefold()
        params = {"query": normalized, "page": page, "include_adult": "true"}
        return await self._serve(
            f"catalog:v1:search:{_digest(normalized)}:{page}",
            self.settings.search_ttl_s,
            lambda: self._page("search", "/search/movie", params, self.settings.search_ttl_s),
        )

    async def discover(
        self, *, genre_ids: list[int], page: int, sort_by: str = "popularity.desc"
    ) -> Served:
        params: dict[str, Any] = {"page": page, "sort_by": sort_by, "include_adult": "true"}
        if genre_ids:
            params["with_genres"] = "|".join(str(g) for g in sorted(genre_ids))
        canonical = orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode()
        key = f"catalog:v1:discover:{_digest(canonical)}"
        return await self._serve(
            key,
            self.settings.trending_ttl_s,
            lambda: self._page("discover", "/discover/movie", params, self.settings.trending_ttl_s),
        )

    async def genres(self) -> Served:
        return await self._serve("catalog:v1:genres", self.settings.genres_ttl_s, self.fetch_genres)

    async def movies(self, movie_ids: list[int]) -> dict[str, list[Any]]:
        """Summaries for many movies: one MGET, then the misses fetched together."""
        keys = [movie_key(movie_id) for movie_id in movie_ids]
        entries = await self.cache.get_many(keys)
        missing = [
            (movie_id, entry)
            for movie_id, entry in zip(movie_ids, entries, strict=True)
            if entry is None or not entry.is_fresh()
        ]
        fetched = await asyncio.gather(
            *(self.movie(movie_id) for movie_id, _ in missing), return_exceptions=True
        )
        by_id = {movie_id: entry for movie_id, entry in zip(movie_ids, entries, strict=True)}
        unavailable: list[int] = []
        for (movie_id, _), result in zip(missing, fetched, strict=True):
            if isinstance(result, Served):
                by_id[movie_id] = result.entry
            elif isinstance(result, MovieNotFound):
                by_id[movie_id] = None
            else:
                unavailable.append(movie_id)
        results, not_found, adult = [], [], []
        for movie_id in movie_ids:
            entry = by_id.get(movie_id)
            if movie_id in unavailable:
                continue
            if entry is None or entry.not_found:
                not_found.append(movie_id)
            else:
                results.append(summary_from_detail(entry.body))
                if entry.adult_ids:
                    adult.append(movie_id)
        return {
            "results": results,
            "missing": not_found,
            "unavailable": unavailable,
            "adult_ids": adult,
        }

    async def collected(self, pages: list[Awaitable[Served]]) -> dict[str, Any]:
        """Several cached pages as one list, with the ids of adult titles among them.

        A page TMDb cannot give right now is left out; one it does not know is empty."""
        results: list[Any] = []
        adult: set[int] = set()
        unavailable = False
        for outcome in await asyncio.gather(*pages, return_exceptions=True):
            if isinstance(outcome, Served):
                results.extend(orjson.loads(outcome.entry.body)["results"])
                adult.update(outcome.entry.adult_ids)
            elif not isinstance(outcome, MovieNotFound):
                unavailable = True
        return {"results": results, "adult_ids": sorted(adult), "complete": not unavailable}

    async def related(self, movie_ids: list[int], *, kind: str, pages: int) -> dict[str, Any]:
        """TMDb's recommendations (or similar titles) for many movies at once."""
        fetch = self.recommendations if kind == "recommendations" else self._similar_page
        lists = await asyncio.gather(
            *(
                self.collected([fetch(movie_id, page) for page in range(1, pages + 1)])
                for movie_id in movie_ids
            )
        )
        return {
            "lists": {
                str(movie_id): found["results"]
                for movie_id, found in zip(movie_ids, lists, strict=True)
            },
            "adult_ids": sorted({i for found in lists for i in found["adult_ids"]}),
        }

    async def _similar_page(self, movie_id: int, page: int) -> Served:
        return await self._serve(
            f"catalog:v1:similar:{movie_id}:{page}",
            self.settings.movie_ttl_s,
            lambda: self._page(
                "similar", f"/movie/{movie_id}/similar", {"page": page}, self.settings.movie_ttl_s
            ),
        )

    # --- refreshes (scheduler) ---------------------------------------------------------------
    async def refetch(self, key: str, ttl_s: int, fetch: Callable[[], Awaitable[Entry]]) -> Entry:
        """Fetch from TMDb now, whatever the cache holds, and store the result."""
        return await asyncio.shield(self._flight(key, ttl_s, fetch))

    def trending_fetcher(self, window: str) -> Callable[[], Awaitable[Entry]]:
        return lambda: self._page(
            "trending", f"/trending/movie/{window}", {"page": 1}, self.settings.trending_ttl_s
        )

    # --- core ------------------------------------------------------------------------------
    async def _serve(
        self,
        key: str,
        ttl_s: int,
        fetch: Callable[[], Awaitable[Entry]],
        *,
        companions: tuple[str, ...] = (),
    ) -> Served:
        cached, extras = await self.cache.get_with(key, companions)
        found = tuple(extras)
        if cached is not None and cached.is_fresh():
            CACHE_REQUESTS.labels("hit").inc()
            return self._checked(key, Served(cached, "HIT", found))
        flight = self._flight(key, ttl_s, fetch)
        try:
            if cached is None:
                fresh = await asyncio.shield(flight)
            else:  # a stale copy can be served: wait for TMDb only briefly
                fresh = await asyncio.wait_for(asyncio.shield(flight), self.settings.stale_wait_s)
        except (TmdbUnavailable, TimeoutError):
            if cached is None:
                CACHE_REQUESTS.labels("miss").inc()
                raise
            CACHE_REQUESTS.labels("stale").inc()
            return self._checked(key, Served(cached, "STALE", found))
        CACHE_REQUESTS.labels("miss").inc()
        return self._checked(key, Served(fresh, "MISS", found))

    def _checked(self, key: str, served: Served) -> Served:
        if served.cache_status != "STALE":
            self.cache.remember(key, served.entry)
        if served.entry.not_found:
            raise MovieNotFound
        return served

    def _flight(
        self, key: str, ttl_s: int, fetch: Callable[[], Awaitable[Entry]]
    ) -> asyncio.Task[Entry]:
        """One fetch per key in this process, however many requests want it."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch_and_store(key, ttl_s, fetch))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return task

    def _finished(self, key: str, task: asyncio.Task[Entry]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here so a fetch nobody awaits any more is not logged

    async def _fetch_and_store(
        self, key: str, ttl_s: int, fetch: Callable[[], Awaitable[Entry]]
    ) -> Entry:
        lock_ms = int(self.settings.tmdb_retry_budget_s * 1000) + 1000
        locked = await self.cache.try_lock(key, lock_ms)
        if (
            not locked
            and (entry := await self._await_other_replica(key, lock_ms / 1000)) is not None
        ):
            return entry
        try:
            try:
                entry = await fetch()
            except TmdbNotFound:
                not_found = Entry(b"", time.time() + self.settings.not_found_ttl_s, not_found=True)
                await self.cache.put(key, not_found, keep_s=self.settings.not_found_ttl_s)
                return not_found
            await self.cache.put(key, entry, keep_s=ttl_s * 1.1 + self.settings.stale_ttl_s)
            return entry
        finally:
            if locked:
                await self.cache.unlock(key)

    async def _await_other_replica(self, key: str, timeout_s: float) -> Entry | None:
        """The entry another replica is fetching, once stored; None when it gave up (its lock
        is gone and nothing fresh was stored) or took too long: then this one fetches."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await asyncio.sleep(OTHER_REPLICA_POLL_S)
            entry = await self.cache.get(key)
            if entry is not None and entry.is_fresh():
                return entry
            if not await self.cache.is_locked(key):
                # released: it stored the entry just now, or failed to
                entry = await self.cache.get(key)
                return entry if entry is not None and entry.is_fresh() else None
        return None

    # --- TMDb calls and normalisation ---------------------------------------------------------
    def _fresh_until(self, ttl_s: int) -> float:
        return time.time() + ttl_s * random.uniform(0.9, 1.1)

    def _image(self, path: str | None) -> str | None:
        return f"{self.settings.tmdb_image_base_url.rstrip('/')}{path}" if path else None

    def summary(self, movie: TmdbMovie) -> MovieSummary:
        return MovieSummary(
            id=movie.id,
            title=movie.title,
            overview=movie.overview or "",
            release_date=movie.release_date,  # type: ignore[arg-type]
            genre_ids=movie.genre_ids,
            vote_average=movie.vote_average,
            vote_count=movie.vote_count,
            popularity=movie.popularity,
            poster_url=self._image(movie.poster_path),
        )

    async def _page(self, endpoint: str, path: str, params: dict[str, Any], ttl_s: int) -> Entry:
        page = await self.tmdb.get(endpoint, path, TmdbPage, params)
        body = {
            "page": page.page,
            "total_pages": min(page.total_pages, MAX_PAGE),
            "total_results": page.total_results,
            "results": [self.summary(movie).model_dump(mode="json") for movie in page.results],
        }
        adult_ids = frozenset(movie.id for movie in page.results if movie.adult)
        return Entry(orjson.dumps(body), self._fresh_until(ttl_s), adult_ids=adult_ids)

    async def _detail(self, movie_id: int) -> Entry:
        movie = await self.tmdb.get("movie", f"/movie/{movie_id}", TmdbMovieDetail)
        detail = MovieDetail(
            id=movie.id,
            title=movie.title,
            overview=movie.overview or "",
            release_date=movie.release_date,  # type: ignore[arg-type]
            genre_ids=[genre.id for genre in movie.genres],
            vote_average=movie.vote_average,
            vote_count=movie.vote_count,
            popularity=movie.popularity,
            poster_url=self._image(movie.poster_path),
            genres=[Genre(id=genre.id, name=genre.name) for genre in movie.genres],
            runtime=movie.runtime,
            tagline=movie.tagline or None,
            status=movie.status,
            original_language=movie.original_language,
            backdrop_url=self._image(movie.backdrop_path),
            community_rating=CommunityRating(average=None, count=0),
        )
        adult_ids = frozenset({movie.id}) if movie.adult else frozenset()
        # community_rating is joined in per request (community.py), so it is not cached here.
        return Entry(
            orjson.dumps(detail.model_dump(mode="json", exclude={"community_rating"})),
            self._fresh_until(self.settings.movie_ttl_s),
            adult_ids=adult_ids,
        )

    async def fetch_genres(self) -> Entry:
        genres = await self.tmdb.get("genres", "/genre/movie/list", TmdbGenreList)
        body = [{"id": genre.id, "name": genre.name} for genre in genres.genres]
        return Entry(orjson.dumps(body), self._fresh_until(self.settings.genres_ttl_s))


def summary_from_detail(body: bytes) -> dict[str, Any]:
    detail = orjson.loads(body)
    return {name: detail[name] for name in SUMMARY_FIELDS}


def without_adult(entry: Entry) -> bytes:
    """The body with adult titles removed (rare: only pages that contain any)."""
    payload = orjson.loads(entry.body)
    kept = [movie for movie in payload["results"] if movie["id"] not in entry.adult_ids]
    payload["total_results"] = max(
        0, payload["total_results"] - (len(payload["results"]) - len(kept))
    )
    payload["results"] = kept
    return orjson.dumps(payload)
