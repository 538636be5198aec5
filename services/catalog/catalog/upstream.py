"""TMDb's answers made the catalog's: each call, and the normalisation of what it returns into
the entries the cache keeps (summaries with image URLs, details packed with their parts,
people and their credits, genres), with the ids of adult titles marked on each entry."""

import random
import time
from typing import Any

import orjson

from catalog.cache import Entry
from catalog.config import CatalogSettings
from catalog.details import APPEND_TO_RESPONSE, build_parts, pack
from catalog.freshness import Freshness, NotInTmdb
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
    TmdbFind,
    TmdbGenreList,
    TmdbMovie,
    TmdbMovieDetail,
    TmdbPage,
    TmdbPeoplePage,
    TmdbPerson,
    TmdbPersonCredits,
)
from catalog.tmdb import TmdbClient

TMDB_PAGE_SIZE = 20


class Upstream:
    def __init__(
        self, *, tmdb: TmdbClient, settings: CatalogSettings, keys: CacheKeys, freshness: Freshness
    ) -> None:
        self.tmdb = tmdb
        self.settings = settings
        self.keys = keys
        self.freshness = freshness

    def fresh_until(self, ttl_s: int) -> float:
        return time.time() + ttl_s * random.uniform(0.9, 1.1)

    def image(self, path: str | None) -> str | None:
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
            poster_url=self.image(movie.poster_path),
        )

    async def page(self, endpoint: str, path: str, params: dict[str, Any], ttl_s: int) -> Entry:
        page = await self.tmdb.get(endpoint, path, TmdbPage, params)
        body = {
            "page": page.page,
            **_page_counts(page.total_pages, page.total_results),
            "results": [self.summary(movie).model_dump(mode="json") for movie in page.results],
        }
        adult_ids = frozenset(movie.id for movie in page.results if movie.adult)
        return Entry(orjson.dumps(body), self.fresh_until(ttl_s), adult_ids=adult_ids)

    async def find_imdb(self, imdb_id: str) -> Entry:
        """The movies TMDb knows by this IMDb id (none, or one), as a list of summaries."""
        params = {"external_source": "imdb_id"}
        found = await self.tmdb.get("find", f"/find/{imdb_id}", TmdbFind, params)
        body = {"results": [self.summary(m).model_dump(mode="json") for m in found.movie_results]}
        adult_ids = frozenset(movie.id for movie in found.movie_results if movie.adult)
        return Entry(
            orjson.dumps(body), self.fresh_until(self.settings.movie_ttl_s), adult_ids=adult_ids
        )

    async def people_page(self, params: dict[str, Any]) -> Entry:
        page = await self.tmdb.get("search", "/search/person", TmdbPeoplePage, params)
        results = [
            PersonResult(
                id=person.id,
                name=person.name,
                profile_url=self.image(person.profile_path),
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
        return Entry(orjson.dumps(body), self.fresh_until(self.settings.search_ttl_s))

    async def detail(self, movie_id: int, locale: Locale) -> Entry:
        params = {
            "append_to_response": APPEND_TO_RESPONSE,
            "language": locale.language,
            "include_video_language": f"{locale.language},en,null",
        }
        movie = await self.tmdb.get("movie", f"/movie/{movie_id}", TmdbMovieDetail, params)
        collection = None
        if movie.belongs_to_collection is not None:
            collection = await self.collection(movie.belongs_to_collection.id, locale)
        detail = MovieDetail(
            id=movie.id,
            title=movie.title,
            overview=movie.overview or "",
            release_date=movie.release_date,  # type: ignore[arg-type]
            genre_ids=[genre.id for genre in movie.genres],
            vote_average=movie.vote_average,
            vote_count=movie.vote_count,
            popularity=movie.popularity,
            poster_url=self.image(movie.poster_path),
            genres=[Genre(id=genre.id, name=genre.name) for genre in movie.genres],
            runtime=movie.runtime or None,  # TMDb sends 0 when it does not know
            tagline=movie.tagline or None,
            status=movie.status,
            original_language=movie.original_language,
            backdrop_url=self.image(movie.backdrop_path),
            community_rating=CommunityRating(average=None, count=0),
        )
        adult_ids = frozenset({movie.id}) if movie.adult else frozenset()
        # community_rating is joined in per request (community.py), so it is not cached here.
        base = orjson.dumps(detail.model_dump(mode="json", include=set(MovieDetail.base_fields())))
        parts = build_parts(movie, locale=locale, image=self.image, collection=collection)
        return Entry(
            pack(base, parts),
            self.fresh_until(self.settings.movie_ttl_s),
            adult_ids=adult_ids,
        )

    async def collection(self, collection_id: int, locale: Locale) -> Collection | None:
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
                self.fresh_until(self.settings.movie_ttl_s),
            )

        try:
            served = await self.freshness.serve(
                self.keys.collection(collection_id, locale.language),
                self.settings.movie_ttl_s,
                fetch,
            )
        except NotInTmdb:
            return None  # TMDb names a collection it no longer has
        return Collection.model_validate_json(served.entry.body)

    async def person(self, person_id: int, locale: Locale) -> Entry:
        found = await self.tmdb.get(
            "people", f"/person/{person_id}", TmdbPerson, {"language": locale.language}
        )
        person = Person(
            id=found.id,
            name=found.name,
            biography=found.biography or "",
            birthday=found.birthday,  # type: ignore[arg-type]
            place_of_birth=found.place_of_birth or None,
            profile_url=self.image(found.profile_path),
            known_for_department=found.known_for_department,
        )
        return Entry(
            orjson.dumps(person.model_dump(mode="json")),
            self.fresh_until(self.settings.movie_ttl_s),
        )

    async def person_credits(self, person_id: int, locale: Locale) -> Entry:
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
            self.fresh_until(self.settings.movie_ttl_s),
            adult_ids=frozenset(adult),
        )

    async def fetch_genres(self, locale: Locale = DEFAULT_LOCALE) -> Entry:
        genres = await self.tmdb.get(
            "genres", "/genre/movie/list", TmdbGenreList, {"language": locale.language}
        )
        body = [{"id": genre.id, "name": genre.name} for genre in genres.genres]
        return Entry(orjson.dumps(body), self.fresh_until(self.settings.genres_ttl_s))


def _page_counts(total_pages: int, total_results: int) -> dict[str, int]:
    """TMDb serves at most 500 pages of 20: both totals say what can be paged through."""
    pages = min(total_pages, MAX_PAGE)
    results = total_results if total_pages <= MAX_PAGE else pages * TMDB_PAGE_SIZE
    return {"total_pages": pages, "total_results": min(total_results, results)}
