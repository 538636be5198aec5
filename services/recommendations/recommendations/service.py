"""Recommendations for one user: load the taste profile, gather candidates from the catalog
in parallel, rank them with the engine, cache the result. No HTTP handlers here."""

import asyncio
import uuid
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlmodel import Session

from recommendations import profile as profiles
from recommendations.catalog_client import RecommendationsCatalogClient
from recommendations.engine import (
    Profile,
    Scored,
    Weights,
    choose_seeds,
    finalize,
    rerank,
    score_candidates,
)
from shared.catalog_models import MovieSummary, RelatedLists, page_count
from shared.pagecache import UserPageCache, page_field

MAX_RESULTS = 100
RANKED_FIELD = "all"  # beside the pages, the whole ranked list they are cut from


class Recommender:
    def __init__(
        self,
        *,
        engine: Engine,
        catalog: RecommendationsCatalogClient,
        cache: UserPageCache,
        related_pages: int = 1,
        trending_pages: int = 2,
    ) -> None:
        self.engine = engine
        self.catalog = catalog
        self.cache = cache
        self.related_pages = related_pages
        self.trending_pages = trending_pages

    async def page(
        self, user_id: uuid.UUID, *, page: int, limit: int, stamp: str | None = None
    ) -> bytes:
        """The response bytes for one page (the gateway serves cached ones itself; `stamp`
        is what it saw on a miss). The ranked list is kept beside the pages, so another page
        of the same list is cut from it rather than computed again."""
        field = page_field(page, limit)
        lookup = await self.cache.lookup(user_id, field, RANKED_FIELD, stamp=stamp)
        if lookup is not None and lookup.body is not None:
            return lookup.body
        if lookup is not None and lookup.extras[0] is not None:
            ranked: list[dict[str, Any]] = orjson.loads(lookup.extras[0])
        else:
            ranked = await self.compute(user_id)
        body = orjson.dumps(
            {
                "page": page,
                "total_pages": page_count(len(ranked), limit),
                "total_results": len(ranked),
                "results": ranked[(page - 1) * limit : page * limit],
            }
        )
        await self.cache.store(user_id, lookup, {RANKED_FIELD: orjson.dumps(ranked), field: body})
        return body

    async def compute(self, user_id: uuid.UUID) -> list[dict[str, Any]]:
        profile = await asyncio.to_thread(self._load, user_id)
        seeds = choose_seeds(profile)
        seed_ids = [seed.movie_id for seed in seeds]
        viewer = str(user_id)  # the titles in the user's language and region
        seed_movies, related, trending, genre_picks = await asyncio.gather(
            self.catalog.movies(seed_ids, viewer=viewer),
            self.catalog.related(seed_ids, pages=self.related_pages, viewer=viewer),
            self.catalog.trending(pages=self.trending_pages, viewer=viewer),
            self.catalog.discover(profile.preferred_genres, viewer=viewer),
        )
        trending_movies = _plain(trending.results)
        if not seeds and profile.preferred_genres:
            # A new user: trending, narrowed to the genres they said they like.
            liked = set(profile.preferred_genres)
            trending_movies = [m for m in trending_movies if liked & set(m["genre_ids"])]
        scored = score_candidates(
            profile,
            seeds=seeds,
            seed_movies={movie["id"]: movie for movie in _plain(seed_movies.results)},
            related=_plain_lists(related),
            trending=trending_movies,
            genre_picks=_plain(genre_picks.results),
            adult_ids=frozenset(related.adult_ids + trending.adult_ids + genre_picks.adult_ids),
        )
        if seeds:
            head = [int(item.movie["id"]) for item in scored[: Weights().rerank_top]]
            neighbours = await self.catalog.related_ids(head, pages=self.related_pages)
            scored = rerank(profile, scored, neighbours.lists)
        return [_public(item) for item in finalize(scored, limit=MAX_RESULTS)]

    def _load(self, user_id: uuid.UUID) -> Profile:
        with Session(self.engine) as session:
            return profiles.load(session, user_id=user_id)


def _plain(movies: list[MovieSummary]) -> list[dict[str, Any]]:
    """The engine ranks plain mappings (the offline evaluation feeds it MovieLens rows): each
    movie's own field dict, read only, no copy (a dump of every candidate measured a fifth of
    a cold computation); orjson writes its date as the public answer has it."""
    return [vars(movie) for movie in movies]


def _plain_lists(related: RelatedLists) -> dict[int, list[dict[str, Any]]]:
    return {movie_id: _plain(movies) for movie_id, movies in related.lists.items()}


def _public(item: Scored) -> dict[str, Any]:
    return {**item.movie, "score": item.score, "reasons": item.reasons}
