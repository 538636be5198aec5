"""Favorites routes; a user only ever sees and changes their own."""

import uuid

from fastapi import Response, status
from sqlalchemy import Engine

from library.catalog_client import LibraryCatalogClient
from library.deps import CatalogDep, LimitQuery, MovieId, PageQuery, PagesDep, PageStamp
from library.favorites import service
from library.favorites.models import FavoriteIn, FavoritePublic, FavoritesPage, FavoriteWithMovie
from library.lists import page_of
from shared.app import API_PREFIX, service_router
from shared.deps import CurrentPrincipal, EngineDep, SessionDep
from shared.errors import ProblemError, problem_responses
from shared.fastroutes import NO_CONTENT, Answer, as_response, json_answer
from shared.pagecache import UserPageCache, page_field
from shared.threads import run_sync

router = service_router(prefix=API_PREFIX, tags=["favorites"])
NOT_A_FAVORITE = "This movie is not one of your favorites"


@router.get(
    "/favorites",
    operation_id="favorites_list",
    response_model=FavoritesPage,
    responses=problem_responses(401, 422, 503),
    summary="Your favorites, newest first, each with the movie's summary",
)
async def list_favorites(
    principal: CurrentPrincipal,
    session: SessionDep,
    catalog: CatalogDep,
    pages: PagesDep,
    stamp: PageStamp = None,
    page: PageQuery = 1,
    limit: LimitQuery = 20,
) -> Response:
    field = page_field(page, limit)
    lookup = await pages.lookup(principal.user_id, field, stamp=stamp)
    if lookup is not None and lookup.body is not None:
        return Response(lookup.body, media_type="application/json")
    rows, total = await run_sync(
        service.page, session, user_id=principal.user_id, page=page, limit=limit
    )
    movies, complete = await catalog.described(
        [row.movie_id for row in rows], viewer=principal.user_id
    )
    listed = page_of(
        FavoritesPage,
        rows,
        movies,
        lambda movie, row: FavoriteWithMovie(movie=movie, added_at=row.added_at),
        total=total,
        page=page,
        limit=limit,
    )
    body = listed.model_dump_json().encode()
    if complete:  # a page with a placeholder is not kept: the next read asks again
        await pages.store(principal.user_id, lookup, {field: body})
    return Response(body, media_type="application/json")


@router.post(
    "/favorites",
    operation_id="favorites_add",
    response_model=FavoritePublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": FavoritePublic, "description": "Already a favorite"},
        201: {"description": "Added", "headers": {"Location": {"schema": {"type": "string"}}}},
        **problem_responses(401, 404, 413, 422, 503),
    },
    summary="Add a movie to your favorites",
)
async def add_favorite(
    body: FavoriteIn,
    principal: CurrentPrincipal,
    engine: EngineDep,
    catalog: CatalogDep,
    pages: PagesDep,
) -> Response:
    return as_response(
        await favorite_added(engine, catalog, pages, user_id=principal.user_id, body=body)
    )


async def favorite_added(
    engine: Engine,
    catalog: LibraryCatalogClient,
    pages: UserPageCache,
    *,
    user_id: uuid.UUID,
    body: FavoriteIn,
) -> Answer:
    """The answer to adding a favorite (the route's, and its fast door's: library/fastwrites.py)."""
    await catalog.require(body.movie_id, viewer=user_id)
    favorite, created = await service.add_favorite(
        engine, pages, user_id=user_id, movie_id=body.movie_id
    )
    return json_answer(
        status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        FavoritePublic(movie_id=favorite.movie_id, added_at=favorite.added_at),
        [(b"location", f"{API_PREFIX}/favorites/{favorite.movie_id}".encode())],
    )


@router.get(
    "/favorites/{movie_id}",
    operation_id="favorites_get",
    response_model=FavoritePublic,
    responses=problem_responses(401, 404, 422),
    summary="One of your favorites",
)
async def get_favorite(
    movie_id: MovieId, principal: CurrentPrincipal, session: SessionDep
) -> FavoritePublic:
    favorite = await run_sync(service.get, session, user_id=principal.user_id, movie_id=movie_id)
    if favorite is None:
        raise ProblemError(404, NOT_A_FAVORITE)
    return FavoritePublic(movie_id=favorite.movie_id, added_at=favorite.added_at)


@router.delete(
    "/favorites/{movie_id}",
    operation_id="favorites_remove",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 422),
    summary="Remove a movie from your favorites",
)
async def remove_favorite(
    movie_id: MovieId, principal: CurrentPrincipal, engine: EngineDep, pages: PagesDep
) -> Response:
    return as_response(
        await favorite_removed(engine, pages, user_id=principal.user_id, movie_id=movie_id)
    )


async def favorite_removed(
    engine: Engine, pages: UserPageCache, *, user_id: uuid.UUID, movie_id: int
) -> Answer:
    """The answer to removing a favorite (the route's, and its fast door's)."""
    if not await service.remove_favorite(engine, pages, user_id=user_id, movie_id=movie_id):
        raise ProblemError(404, NOT_A_FAVORITE)
    return NO_CONTENT
