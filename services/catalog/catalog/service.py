"""The catalog: cached TMDb data with single-flight fetches and stale-if-error. No HTTP here."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from redis.exceptions import RedisError

from catalog.cache import CatalogCache, Entry
from catalog.config import CatalogSettings
from catalog.details import base_of
from catalog.freshness import Freshness, NotInTmdb, Served
from catalog.keys import CacheKeys
from catalog.locale import DEFAULT_LOCALE, Locale
from catalog.models import (
    MovieSummary,
)
from catalog.tmdb import TmdbClient
from catalog.upstream import Upstream

logger = logging.getLogger(__name__)

LOCALES_REWRITE_S = 60.0
SUMMARY_FIELDS = tuple(MovieSummary.model_fields)
MOVIE_LISTS = {  # public name -> TMDb's list
    "popular": "popular",
    "top-rated": "top_rated",
    "upcoming": "upcoming",
    "now-playing": "now_playing",
}
DISCOVER_SORTS = {
    "popularity": "popularity",
    "rating": "vote_average",
    "release_date": "primary_release_date",
    "title": "title",
}


@dataclass(frozen=True, slots=True)
class DiscoverFilters:
    """/movies/discover's filters, validated by the route (None: not filtered on)."""

    genres: tuple[int, ...] = ()
    any_genre: bool = False  # genres joined by | instead of ,
    without_genres: tuple[int, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    min_rating: float | None = None
    min_votes: int | None = None
    original_language: str | None = None
    runtime_min: int | None = None
    runtime_max: int | None = None
    providers: tuple[int, ...] = ()
    release_region: str | None = None
    sort: str = "popularity"
    order: str = "desc"

    def tmdb_params(self, locale: Locale) -> dict[str, Any]:
        params: dict[str, Any] = {
            "sort_by": f"{DISCOVER_SORTS[self.sort]}.{self.order}",
            "include_adult": "true",
            "language": locale.language,
        }
        optional: dict[str, Any] = {
            "with_genres": ("|" if self.any_genre else ",").join(map(str, sorted(self.genres))),
            "without_genres": ",".join(map(str, sorted(self.without_genres))),
            "primary_release_date.gte": f"{self.year_from}-01-01" if self.year_from else None,
            "primary_release_date.lte": f"{self.year_to}-12-31" if self.year_to else None,
            "vote_average.gte": self.min_rating,
            "vote_count.gte": self.min_votes,
            "with_original_language": self.original_language,
            "with_runtime.gte": self.runtime_min,
            "with_runtime.lte": self.runtime_max,
            "with_watch_providers": "|".join(map(str, sorted(self.providers))),
            "watch_region": locale.region if self.providers else None,
            "region": self.release_region,
        }
        params.update({k: v for k, v in optional.items() if v not in (None, "")})
        return params


class Catalog:
    def __init__(self, *, tmdb: TmdbClient, cache: CatalogCache, settings: CatalogSettings) -> None:
        self.tmdb = tmdb
        self.cache = cache
        self.settings = settings
        self.keys = CacheKeys(settings.tmdb_base_url, settings.tmdb_image_base_url)
        self.freshness = Freshness(cache, settings)
        self.upstream = Upstream(
            tmdb=tmdb, settings=settings, keys=self.keys, freshness=self.freshness
        )
        # When each locale is next to be written to the Redis set of cached locales again (so
        # a set lost to a flush or an eviction is whole again within a minute of traffic).
        self._locales_due: dict[str, float] = {}

    # --- public reads ----------------------------------------------------------------------
    async def trending(self, window: str, page: int, locale: Locale = DEFAULT_LOCALE) -> Served:
        await self._note(locale)
        return await self._serve(
            self.keys.trending(window, page, locale.language),
            self.settings.trending_ttl_s,
            lambda: self.upstream.page(
                "trending",
                f"/trending/movie/{window}",
                {"page": page, "language": locale.language},
                self.settings.trending_ttl_s,
            ),
            locale=locale,
            recent=True,
        )

    async def movie_list(self, name: str, page: int, locale: Locale = DEFAULT_LOCALE) -> Served:
        """TMDb's popular, top-rated, upcoming and now-playing lists, for the region."""
        await self._note(locale)
        params = {"page": page, "language": locale.language, "region": locale.region}
        return await self._serve(
            self.keys.movie_list(name, page, locale),
            self.settings.lists_ttl_s,
            lambda: self.upstream.page(
                "lists", f"/movie/{MOVIE_LISTS[name]}", params, self.settings.lists_ttl_s
            ),
            locale=locale,
        )

    async def movie(
        self,
        movie_id: int,
        locale: Locale = DEFAULT_LOCALE,
        *,
        companions: tuple[str, ...] = (),
    ) -> Served:
        """A movie's details and parts (without community_rating), packed (details.py);
        `companions` are read in the same MGET."""
        await self._note(locale)
        return await self._serve(
            self.keys.movie(movie_id, locale),
            self.settings.movie_ttl_s,
            lambda: self.upstream.detail(movie_id, locale),
            companions=companions,
            locale=locale,
            recent=True,
        )

    async def similar(self, movie_id: int, page: int, locale: Locale = DEFAULT_LOCALE) -> Served:
        return await self._related_page("similar", movie_id, page, locale)

    async def recommendations(
        self, movie_id: int, page: int, locale: Locale = DEFAULT_LOCALE
    ) -> Served:
        return await self._related_page("recommendations", movie_id, page, locale)

    async def search(self, query: str, page: int, locale: Locale = DEFAULT_LOCALE) -> Served:
        normalized = " ".join(query.split()).casefold()
        params = {
            "query": normalized,
            "page": page,
            "include_adult": "true",
            "language": locale.language,
        }
        return await self._serve(
            self.keys.search("movie", normalized, page, locale.language),
            self.settings.search_ttl_s,
            lambda: self.upstream.page(
                "search", "/search/movie", params, self.settings.search_ttl_s
            ),
        )

    async def find_imdb(self, imdb_id: str) -> Served:
        """What TMDb knows by an IMDb id (`tt0000001`): a list of summaries, empty if none."""
        return await self._serve(
            self.keys.find_imdb(imdb_id),
            self.settings.movie_ttl_s,
            lambda: self.upstream.find_imdb(imdb_id),
        )

    async def search_people(self, query: str, page: int, locale: Locale = DEFAULT_LOCALE) -> Served:
        normalized = " ".join(query.split()).casefold()
        params = {"query": normalized, "page": page, "language": locale.language}
        return await self._serve(
            self.keys.search("person", normalized, page, locale.language),
            self.settings.search_ttl_s,
            lambda: self.upstream.people_page(params),
        )

    async def discover(
        self, *, genre_ids: list[int], page: int, locale: Locale = DEFAULT_LOCALE
    ) -> Served:
        """Popular titles in any of these genres (for the recommendations service)."""
        filters = DiscoverFilters(genres=tuple(genre_ids), any_genre=True)
        return await self.discover_filtered(filters, page=page, locale=locale)

    async def discover_filtered(
        self, filters: DiscoverFilters, *, page: int, locale: Locale = DEFAULT_LOCALE
    ) -> Served:
        params = {**filters.tmdb_params(locale), "page": page}
        canonical = orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode()
        return await self._serve(
            self.keys.discover(canonical),
            self.settings.trending_ttl_s,
            lambda: self.upstream.page(
                "discover", "/discover/movie", params, self.settings.trending_ttl_s
            ),
        )

    async def person(self, person_id: int, locale: Locale = DEFAULT_LOCALE) -> Served:
        return await self._serve(
            self.keys.person(person_id, locale.language),
            self.settings.movie_ttl_s,
            lambda: self.upstream.person(person_id, locale),
        )

    async def person_credits(self, person_id: int, locale: Locale = DEFAULT_LOCALE) -> Served:
        """Everything a person was in or worked on, newest first, as one list (paged by the
        route: a filmography is a few dozen titles)."""
        return await self._serve(
            self.keys.person_credits(person_id, locale.language),
            self.settings.movie_ttl_s,
            lambda: self.upstream.person_credits(person_id, locale),
        )

    async def genres(self, locale: Locale = DEFAULT_LOCALE) -> Served:
        return await self._serve(
            self.keys.genres(locale.language),
            self.settings.genres_ttl_s,
            lambda: self.upstream.fetch_genres(locale),
        )

    async def movies(
        self, movie_ids: list[int], locale: Locale = DEFAULT_LOCALE
    ) -> dict[str, list[Any]]:
        """Summaries for many movies: one MGET, then the misses fetched together."""
        keys = [self.keys.movie(movie_id, locale) for movie_id in movie_ids]
        entries = await self.cache.get_many(keys)
        missing = [
            (movie_id, entry)
            for movie_id, entry in zip(movie_ids, entries, strict=True)
            if entry is None or not entry.is_fresh()
        ]
        fetched = await asyncio.gather(
            *(self.movie(movie_id, locale) for movie_id, _ in missing), return_exceptions=True
        )
        by_id = {movie_id: entry for movie_id, entry in zip(movie_ids, entries, strict=True)}
        unavailable: list[int] = []
        for (movie_id, _), result in zip(missing, fetched, strict=True):
            if isinstance(result, Served):
                by_id[movie_id] = result.entry
            elif isinstance(result, NotInTmdb):
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
            elif not isinstance(outcome, NotInTmdb):
                unavailable = True
        return {"results": results, "adult_ids": sorted(adult), "complete": not unavailable}

    async def related(
        self, movie_ids: list[int], *, kind: str, pages: int, locale: Locale = DEFAULT_LOCALE
    ) -> dict[str, Any]:
        """TMDb's recommendations (or similar titles) for many movies at once."""
        lists = await asyncio.gather(
            *(
                self.collected(
                    [
                        self._related_page(kind, movie_id, page, locale)
                        for page in range(1, pages + 1)
                    ]
                )
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

    async def _related_page(self, kind: str, movie_id: int, page: int, locale: Locale) -> Served:
        key = self.keys.similar if kind == "similar" else self.keys.recommendations
        await self._note(locale)
        return await self._serve(
            key(movie_id, page, locale.language),
            self.settings.movie_ttl_s,
            lambda: self.upstream.page(
                kind,
                f"/movie/{movie_id}/{kind}",
                {"page": page, "language": locale.language},
                self.settings.movie_ttl_s,
            ),
            locale=locale,
        )

    async def _note(self, locale: Locale) -> None:
        """Remember, for invalidations, that answers are cached in this locale (the default
        one always counts), again every minute it is served."""
        if locale == DEFAULT_LOCALE or self._locales_due.get(locale.tag, 0.0) > time.monotonic():
            return
        try:
            await self.cache.redis.sadd(self.keys.locales, locale.tag)
        except RedisError:
            return  # tried again next time; until then an invalidation may miss this locale
        self._locales_due[locale.tag] = time.monotonic() + LOCALES_REWRITE_S

    async def cached_locales(self) -> list[Locale]:
        """Every locale answers were cached in (the default one always)."""
        try:
            tags = await self.cache.redis.smembers(self.keys.locales)
        except RedisError:
            tags = set()
        found = {DEFAULT_LOCALE}
        for tag in tags:
            text = tag.decode() if isinstance(tag, bytes) else str(tag)
            language, _, region = text.partition("-")
            if len(language) == 2 and len(region) == 2:
                found.add(Locale(language, region))
        return sorted(found, key=lambda locale: locale.tag)

    # --- refreshes (scheduler) ---------------------------------------------------------------
    async def refetch(self, key: str, ttl_s: int, fetch: Callable[[], Awaitable[Entry]]) -> Entry:
        """Fetch from TMDb now, whatever the cache holds, and store the result."""
        return await self.freshness.refetch(key, ttl_s, fetch)

    def trending_fetcher(self, window: str) -> Callable[[], Awaitable[Entry]]:
        params = {"page": 1, "language": DEFAULT_LOCALE.language}
        return lambda: self.upstream.page(
            "trending", f"/trending/movie/{window}", params, self.settings.trending_ttl_s
        )

    async def fetch_genres(self, locale: Locale = DEFAULT_LOCALE) -> Entry:
        return await self.upstream.fetch_genres(locale)

    # --- core ------------------------------------------------------------------------------
    async def _serve(
        self,
        key: str,
        ttl_s: int,
        fetch: Callable[[], Awaitable[Entry]],
        *,
        companions: tuple[str, ...] = (),
        locale: Locale | None = None,
        recent: bool = False,
    ) -> Served:
        """The cached entry, or TMDb's answer stored for the next (freshness.py); an entry
        cached in a `locale` other than the default names it in the set of cached locales in
        the same Redis transaction, so an invalidation that reads the set finds every locale an
        entry survives in (rewriting the set now and then, as `_note` does, left a minute after
        a lost set in which an invalidation missed the entries stored meanwhile). With `recent`
        (the kinds the fast path answers), what was served goes into the one-second copy."""
        note = None
        if locale is not None and locale != DEFAULT_LOCALE:
            note = (self.keys.locales, locale.tag)
        since = self.cache.recent.mark()
        served = await self.freshness.serve(key, ttl_s, fetch, companions=companions, note=note)
        if recent and served.cache_status != "STALE":  # a kind the fast path answers
            self.cache.recent.remember_entry(key, served.entry, since=since)
        return served


def summary_from_detail(body: bytes) -> dict[str, Any]:
    detail = orjson.loads(base_of(body))
    return {name: detail[name] for name in SUMMARY_FIELDS}
