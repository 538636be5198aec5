"""The catalog: cached TMDb data with single-flight fetches and stale-if-error. No HTTP here."""

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from redis.exceptions import RedisError

from catalog.cache import CACHE_REQUESTS, CatalogCache, Entry
from catalog.config import CatalogSettings
from catalog.details import APPEND_TO_RESPONSE, base_of, build_parts, pack
from catalog.keys import MAX_PAGE, CacheKeys
from catalog.locale import DEFAULT_LOCALE, Locale
from catalog.models import (
    Collection,
    CommunityRating,
    Genre,
    MovieDetail,
    MovieSummary,
    Person,
    PersonCredit,
    PersonResult,
    TmdbCastCredit,
    TmdbCollection,
    TmdbCrewCredit,
    TmdbGenreList,
    TmdbMovie,
    TmdbMovieDetail,
    TmdbPage,
    TmdbPeoplePage,
    TmdbPerson,
    TmdbPersonCredits,
)
from catalog.tmdb import TmdbClient, TmdbNotFound, TmdbUnavailable

logger = logging.getLogger(__name__)

TMDB_PAGE_SIZE = 20
OTHER_REPLICA_POLL_S = 0.05
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


class MovieNotFound(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Served:
    entry: Entry
    cache_status: str  # HIT, MISS or STALE
    companions: tuple[bytes | None, ...] = ()  # raw values read with the entry


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
        self._inflight: dict[str, asyncio.Task[Entry]] = {}
        # When each locale is next to be written to the Redis set of cached locales again (so
        # a set lost to a flush or an eviction is whole again within a minute of traffic).
        self._locales_due: dict[str, float] = {}

    # --- public reads ----------------------------------------------------------------------
    async def trending(self, window: str, page: int, locale: Locale = DEFAULT_LOCALE) -> Served:
        await self._note(locale)
        return await self._serve(
            self.keys.trending(window, page, locale.language),
            self.settings.trending_ttl_s,
            lambda: self._page(
                "trending",
                f"/trending/movie/{window}",
                {"page": page, "language": locale.language},
                self.settings.trending_ttl_s,
            ),
            locale=locale,
        )

    async def movie_list(self, name: str, page: int, locale: Locale = DEFAULT_LOCALE) -> Served:
        """TMDb's popular, top-rated, upcoming and now-playing lists, for the region."""
        await self._note(locale)
        params = {"page": page, "language": locale.language, "region": locale.region}
        return await self._serve(
            self.keys.movie_list(name, page, locale),
            self.settings.lists_ttl_s,
            lambda: self._page(
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
            lambda: self._detail(movie_id, locale),
            companions=companions,
            locale=locale,
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
            lambda: self._page("search", "/search/movie", params, self.settings.search_ttl_s),
        )

    async def search_people(self, query: str, page: int, locale: Locale = DEFAULT_LOCALE) -> Served:
        normalized = " ".join(query.split()).casefold()
        params = {"query": normalized, "page": page, "language": locale.language}
        return await self._serve(
            self.keys.search("person", normalized, page, locale.language),
            self.settings.search_ttl_s,
            lambda: self._people_page(params),
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
            lambda: self._page("discover", "/discover/movie", params, self.settings.trending_ttl_s),
        )

    async def person(self, person_id: int, locale: Locale = DEFAULT_LOCALE) -> Served:
        return await self._serve(
            self.keys.person(person_id, locale.language),
            self.settings.movie_ttl_s,
            lambda: self._person(person_id, locale),
        )

    async def person_credits(self, person_id: int, locale: Locale = DEFAULT_LOCALE) -> Served:
        """Everything a person was in or worked on, newest first, as one list (paged by the
        route: a filmography is a few dozen titles)."""
        return await self._serve(
            self.keys.person_credits(person_id, locale.language),
            self.settings.movie_ttl_s,
            lambda: self._person_credits(person_id, locale),
        )

    async def genres(self, locale: Locale = DEFAULT_LOCALE) -> Served:
        return await self._serve(
            self.keys.genres(locale.language),
            self.settings.genres_ttl_s,
            lambda: self.fetch_genres(locale),
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
            lambda: self._page(
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
        return await asyncio.shield(self._flight(key, ttl_s, fetch))

    def trending_fetcher(self, window: str) -> Callable[[], Awaitable[Entry]]:
        params = {"page": 1, "language": DEFAULT_LOCALE.language}
        return lambda: self._page(
            "trending", f"/trending/movie/{window}", params, self.settings.trending_ttl_s
        )

    # --- core ------------------------------------------------------------------------------
    async def _serve(
        self,
        key: str,
        ttl_s: int,
        fetch: Callable[[], Awaitable[Entry]],
        *,
        companions: tuple[str, ...] = (),
        locale: Locale | None = None,
    ) -> Served:
        """The cached entry, or TMDb's answer stored for the next; an entry cached in a
        `locale` other than the default names it in the set of cached locales in the same
        Redis transaction, so an invalidation that reads the set finds every locale an entry
        survives in (rewriting the set now and then, as `_note` does, left a minute after a
        lost set in which an invalidation missed the entries stored meanwhile)."""
        cached, extras = await self.cache.get_with(key, companions)
        found = tuple(extras)
        if cached is not None and cached.is_fresh():
            CACHE_REQUESTS.labels("hit").inc()
            return self._checked(key, Served(cached, "HIT", found))
        note = None
        if locale is not None and locale != DEFAULT_LOCALE:
            note = (self.keys.locales, locale.tag)
        flight = self._flight(key, ttl_s, fetch, note)
        try:
            if cached is None:
                fresh = await asyncio.shield(flight)
            else:  # a stale copy can be served: wait for TMDb only briefly
                async with asyncio.timeout(self.settings.stale_wait_s):
                    fresh = await asyncio.shield(flight)
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
        self,
        key: str,
        ttl_s: int,
        fetch: Callable[[], Awaitable[Entry]],
        note: tuple[str, str] | None = None,
    ) -> asyncio.Task[Entry]:
        """One fetch per key in this process, however many requests want it."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch_and_store(key, ttl_s, fetch, note))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return task

    def _finished(self, key: str, task: asyncio.Task[Entry]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here so a fetch nobody awaits any more is not logged

    async def _fetch_and_store(
        self,
        key: str,
        ttl_s: int,
        fetch: Callable[[], Awaitable[Entry]],
        note: tuple[str, str] | None,
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
                await self.cache.put(
                    key, not_found, keep_s=self.settings.not_found_ttl_s, note=note
                )
                return not_found
            await self.cache.put(
                key, entry, keep_s=ttl_s * 1.1 + self.settings.stale_ttl_s, note=note
            )
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
            **_page_counts(page.total_pages, page.total_results),
            "results": [self.summary(movie).model_dump(mode="json") for movie in page.results],
        }
        adult_ids = frozenset(movie.id for movie in page.results if movie.adult)
        return Entry(orjson.dumps(body), self._fresh_until(ttl_s), adult_ids=adult_ids)

    async def _people_page(self, params: dict[str, Any]) -> Entry:
        page = await self.tmdb.get("search", "/search/person", TmdbPeoplePage, params)
        results = [
            PersonResult(
                id=person.id,
                name=person.name,
                profile_url=self._image(person.profile_path),
                known_for_department=person.known_for_department,
            ).model_dump(mode="json")
            for person in page.results
            if not person.adult
        ]
        body = {
            "page": page.page,
            **_page_counts(page.total_pages, page.total_results),
            "results": results,
        }
        return Entry(orjson.dumps(body), self._fresh_until(self.settings.search_ttl_s))

    async def _detail(self, movie_id: int, locale: Locale) -> Entry:
        params = {
            "append_to_response": APPEND_TO_RESPONSE,
            "language": locale.language,
            "include_video_language": f"{locale.language},en,null",
        }
        movie = await self.tmdb.get("movie", f"/movie/{movie_id}", TmdbMovieDetail, params)
        collection = None
        if movie.belongs_to_collection is not None:
            collection = await self._collection(movie.belongs_to_collection.id, locale)
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
            runtime=movie.runtime or None,  # TMDb sends 0 when it does not know
            tagline=movie.tagline or None,
            status=movie.status,
            original_language=movie.original_language,
            backdrop_url=self._image(movie.backdrop_path),
            community_rating=CommunityRating(average=None, count=0),
        )
        adult_ids = frozenset({movie.id}) if movie.adult else frozenset()
        # community_rating is joined in per request (community.py), so it is not cached here.
        base = orjson.dumps(detail.model_dump(mode="json", include=set(MovieDetail.base_fields())))
        parts = build_parts(movie, locale=locale, image=self._image, collection=collection)
        return Entry(
            pack(base, parts),
            self._fresh_until(self.settings.movie_ttl_s),
            adult_ids=adult_ids,
        )

    async def _collection(self, collection_id: int, locale: Locale) -> Collection | None:
        """The collection a movie belongs to, cached apart (its parts share it)."""

        async def fetch() -> Entry:
            found = await self.tmdb.get(
                "collection",
                f"/collection/{collection_id}",
                TmdbCollection,
                {"language": locale.language},
            )
            parts = sorted(found.parts, key=lambda m: (m.release_date or "9999", m.id))
            collection = Collection(
                id=found.id, name=found.name, parts=[self.summary(m) for m in parts]
            )
            return Entry(
                orjson.dumps(collection.model_dump(mode="json")),
                self._fresh_until(self.settings.movie_ttl_s),
            )

        try:
            served = await self._serve(
                self.keys.collection(collection_id, locale.language),
                self.settings.movie_ttl_s,
                fetch,
            )
        except MovieNotFound:
            return None  # TMDb names a collection it no longer has
        return Collection.model_validate_json(served.entry.body)

    async def _person(self, person_id: int, locale: Locale) -> Entry:
        found = await self.tmdb.get(
            "people", f"/person/{person_id}", TmdbPerson, {"language": locale.language}
        )
        person = Person(
            id=found.id,
            name=found.name,
            biography=found.biography or "",
            birthday=found.birthday,  # type: ignore[arg-type]
            place_of_birth=found.place_of_birth or None,
            profile_url=self._image(found.profile_path),
            known_for_department=found.known_for_department,
        )
        return Entry(
            orjson.dumps(person.model_dump(mode="json")),
            self._fresh_until(self.settings.movie_ttl_s),
        )

    async def _person_credits(self, person_id: int, locale: Locale) -> Entry:
        found = await self.tmdb.get(
            "people",
            f"/person/{person_id}/movie_credits",
            TmdbPersonCredits,
            {"language": locale.language},
        )
        credits: dict[int, PersonCredit] = {}
        adult: set[int] = set()
        for credit in [*found.cast, *found.crew]:
            if credit.adult:
                adult.add(credit.id)
            entry = credits.get(credit.id)
            if entry is None:
                entry = PersonCredit(**self.summary(credit).model_dump())
                credits[credit.id] = entry
            if isinstance(credit, TmdbCastCredit) and credit.character and not entry.character:
                entry.character = credit.character
            if isinstance(credit, TmdbCrewCredit) and credit.job and not entry.job:
                entry.job = credit.job
        ordered = sorted(  # newest first, undated last
            credits.values(),
            key=lambda c: (
                c.release_date is None,
                -c.release_date.toordinal() if c.release_date else 0,
                c.id,
            ),
        )
        body = [credit.model_dump(mode="json") for credit in ordered]
        return Entry(
            orjson.dumps(body),
            self._fresh_until(self.settings.movie_ttl_s),
            adult_ids=frozenset(adult),
        )

    async def fetch_genres(self, locale: Locale = DEFAULT_LOCALE) -> Entry:
        genres = await self.tmdb.get(
            "genres", "/genre/movie/list", TmdbGenreList, {"language": locale.language}
        )
        body = [{"id": genre.id, "name": genre.name} for genre in genres.genres]
        return Entry(orjson.dumps(body), self._fresh_until(self.settings.genres_ttl_s))


def _page_counts(total_pages: int, total_results: int) -> dict[str, int]:
    """TMDb serves at most 500 pages of 20: both totals say what can be paged through."""
    pages = min(total_pages, MAX_PAGE)
    results = total_results if total_pages <= MAX_PAGE else pages * TMDB_PAGE_SIZE
    return {"total_pages": pages, "total_results": min(total_results, results)}


def summary_from_detail(body: bytes) -> dict[str, Any]:
    detail = orjson.loads(base_of(body))
    return {name: detail[name] for name in SUMMARY_FIELDS}
