"""Movie routes (tag `movies` in the OpenAPI); every answer carries X-Cache: HIT, MISS or STALE."""

import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from catalog.community import CommunityMirror, community_key, with_community
from catalog.deps import CatalogDep, PageQuery
from catalog.models import (
    Genre,
    MovieBatch,
    MovieDetail,
    MovieList,
    MoviePage,
    RelatedIds,
    RelatedLists,
)
from catalog.preferences import allows_adult
from catalog.service import MovieNotFound, Served, without_adult
from catalog.tmdb import TmdbUnavailable
from shared.app import API_PREFIX
from shared.deps import OptionalPrincipal, RuntimeDep, from_gateway
from shared.errors import ProblemError, problem_responses
from shared.events import CatalogTrendingRefreshed

router = APIRouter(prefix=API_PREFIX, tags=["movies"])
internal_router = APIRouter(prefix="/internal", include_in_schema=False)

MovieId = Annotated[int, Path(ge=1, le=2**31 - 1, description="TMDb movie id")]
X_CACHE = {
    "X-Cache": {
        "description": "HIT, MISS or STALE (TMDb failed, last good copy)",
        "schema": {"type": "string"},
    }
}


def _ok(model: type, description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": description, "headers": X_CACHE}}


@asynccontextmanager
async def _upstream_errors() -> AsyncIterator[None]:
    try:
        yield
    except MovieNotFound as exc:
        raise ProblemError(404, "No movie with this id") from exc
    except TmdbUnavailable as exc:
        headers = {"Retry-After": "10"} if exc.status == 503 else {}
        raise ProblemError(
            exc.status, f"The movie database is unavailable: {exc.reason}", headers=headers
        ) from exc


async def _hides_adult(result: Served, principal: OptionalPrincipal, runtime: RuntimeDep) -> bool:
    """True when the answer holds adult titles and the caller has not allowed them."""
    if not result.entry.adult_ids:
        return False
    return not await allows_adult(runtime.redis, principal.user_id if principal else None)


async def _respond(
    served: Awaitable[Served], *, principal: OptionalPrincipal, runtime: RuntimeDep
) -> Response:
    async with _upstream_errors():
        result = await served
    body = (
        without_adult(result.entry)
        if await _hides_adult(result, principal, runtime)
        else result.entry.body
    )
    return Response(body, media_type="application/json", headers={"X-Cache": result.cache_status})


@router.get(
    "/movies/trending",
    operation_id="movies_trending",
    response_model=None,
    summary="Trending movies",
    responses={
        **_ok(MoviePage, "A page of trending movies"),
        **problem_responses(422, 502, 503, 504),
    },
)
async def trending(
    catalog: CatalogDep,
    runtime: RuntimeDep,
    principal: OptionalPrincipal,
    window: Annotated[Literal["day", "week"], Query(description="day or week")] = "day",
    page: PageQuery = 1,
) -> Response:
    return await _respond(catalog.trending(window, page), principal=principal, runtime=runtime)


@router.get(
    "/movies/search",
    operation_id="movies_search",
    response_model=None,
    summary="Search movies by title",
    responses={
        **_ok(MoviePage, "A page of matching movies"),
        **problem_responses(422, 502, 503, 504),
    },
)
async def search(
    catalog: CatalogDep,
    runtime: RuntimeDep,
    principal: OptionalPrincipal,
    query: Annotated[
        str, Query(min_length=1, max_length=200, pattern=r"\S", description="Words of the title")
    ],
    page: PageQuery = 1,
) -> Response:
    return await _respond(catalog.search(query, page), principal=principal, runtime=runtime)


@router.get(
    "/movies/{movie_id}",
    operation_id="movies_get",
    response_model=None,
    summary="A movie's details",
    responses={**_ok(MovieDetail, "The movie"), **problem_responses(404, 422, 502, 503, 504)},
)
async def movie(
    request: Request,
    catalog: CatalogDep,
    runtime: RuntimeDep,
    principal: OptionalPrincipal,
    movie_id: MovieId,
) -> Response:
    mirror: CommunityMirror = request.app.state.community
    async with _upstream_errors():
        served = await catalog.movie(movie_id, companions=(community_key(movie_id),))
    if await _hides_adult(served, principal, runtime):
        raise ProblemError(404, "No movie with this id")
    community = await mirror.resolve(movie_id, served.companions[0])
    catalog.cache.remember(community_key(movie_id), community)
    return Response(
        with_community(served.entry.body, community),
        media_type="application/json",
        headers={"X-Cache": served.cache_status},
    )


@router.get(
    "/movies/{movie_id}/similar",
    operation_id="movies_similar",
    response_model=None,
    summary="Movies similar to this one",
    responses={
        **_ok(MoviePage, "A page of similar movies"),
        **problem_responses(404, 422, 502, 503, 504),
    },
)
async def similar(
    catalog: CatalogDep,
    runtime: RuntimeDep,
    principal: OptionalPrincipal,
    movie_id: MovieId,
    page: PageQuery = 1,
) -> Response:
    async with _upstream_errors():
        title = await catalog.movie(movie_id)
    if await _hides_adult(title, principal, runtime):  # as its details: not there for them
        raise ProblemError(404, "No movie with this id")
    return await _respond(catalog.similar(movie_id, page), principal=principal, runtime=runtime)


@router.get(
    "/genres",
    operation_id="movies_genres",
    response_model=None,
    summary="Movie genres",
    responses={
        200: {"model": list[Genre], "description": "Every genre", "headers": X_CACHE},
        **problem_responses(502, 503, 504),
    },
)
async def genres(
    catalog: CatalogDep, runtime: RuntimeDep, principal: OptionalPrincipal
) -> Response:
    return await _respond(catalog.genres(), principal=principal, runtime=runtime)


def _internal_only(request: Request, runtime: RuntimeDep) -> None:
    if not from_gateway(request, runtime):
        raise ProblemError(403, "Internal endpoint")


IdList = Annotated[str, Query(max_length=2000, pattern=r"^\d{1,10}(,\d{1,10})*$")]
Pages = Annotated[int, Query(ge=1, le=5)]


@internal_router.get("/related", response_model=RelatedLists | RelatedIds)
async def related(
    request: Request,
    catalog: CatalogDep,
    runtime: RuntimeDep,
    ids: IdList,
    kind: Literal["recommendations", "similar"] = "recommendations",
    pages: Pages = 2,
    ids_only: Annotated[bool, Query(description="Each list as movie ids only")] = False,
) -> Response:
    """TMDb's recommendations (or similar titles) for up to 50 movies in one call."""
    _internal_only(request, runtime)
    movie_ids = list(dict.fromkeys(int(i) for i in ids.split(",")))[:50]
    found = await catalog.related(movie_ids, kind=kind, pages=pages)
    if ids_only:
        found["lists"] = {key: [m["id"] for m in movies] for key, movies in found["lists"].items()}
    return Response(orjson.dumps(found), media_type="application/json")


@internal_router.get("/trending", response_model=MovieList)
async def trending_list(
    request: Request,
    catalog: CatalogDep,
    runtime: RuntimeDep,
    window: Literal["day", "week"] = "week",
    pages: Pages = 2,
) -> Response:
    """Several pages of trending as one list, adult titles marked, for other services."""
    _internal_only(request, runtime)
    found = await catalog.collected(
        [catalog.trending(window, page) for page in range(1, pages + 1)]
    )
    return Response(orjson.dumps(found), media_type="application/json")


@internal_router.get("/discover", response_model=MovieList)
async def discover_list(
    request: Request,
    catalog: CatalogDep,
    runtime: RuntimeDep,
    genre_ids: IdList,
    pages: Pages = 1,
) -> Response:
    """Popular titles in any of these genres, for other services."""
    _internal_only(request, runtime)
    genres = [int(g) for g in genre_ids.split(",")][:20]
    found = await catalog.collected(
        [catalog.discover(genre_ids=genres, page=page) for page in range(1, pages + 1)]
    )
    return Response(orjson.dumps(found), media_type="application/json")


@internal_router.post("/refresh")
async def refresh_now(request: Request, runtime: RuntimeDep) -> Response:
    """Run the scheduled refresh now (operators, tests): the same code, the same events."""
    _internal_only(request, runtime)
    events = await request.app.state.refresher.refresh_once(trigger="request")
    new = {
        event.window: event.new_movie_ids
        for event in events
        if isinstance(event, CatalogTrendingRefreshed)
    }
    return Response(
        orjson.dumps({"events": len(events), "new_movie_ids": new}), media_type="application/json"
    )


@internal_router.get("/movies", response_model=MovieBatch)
async def movies_batch(
    request: Request,
    catalog: CatalogDep,
    runtime: RuntimeDep,
    ids: IdList,
    viewer: Annotated[
        uuid.UUID | Literal["anonymous"] | None,
        Query(description="Whose eyes: adult titles they have not allowed are left out"),
    ] = None,
) -> Response:
    """Summaries of many movies at once, for other services (gateway-signed calls only).

    With `viewer`, adult titles that viewer has not allowed are listed in `hidden` instead of
    `results`, so a service acting for a user treats them as it would an unknown id."""
    _internal_only(request, runtime)
    movie_ids = list(dict.fromkeys(int(i) for i in ids.split(",")))[:100]
    found = await catalog.movies(movie_ids)
    hidden: list[int] = []
    if viewer is not None and found["adult_ids"]:
        user_id = viewer if isinstance(viewer, uuid.UUID) else None
        if not await allows_adult(runtime.redis, user_id):
            hidden = list(found["adult_ids"])
            left_out = set(hidden)
            found["results"] = [m for m in found["results"] if m["id"] not in left_out]
    found["hidden"] = hidden
    return Response(orjson.dumps(found), media_type="application/json")
