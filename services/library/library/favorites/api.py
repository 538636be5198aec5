"""Favorites routes; a user only ever sees and changes their own."""

from fastapi import APIRouter, Response, status

from library.deps import CatalogDep, LimitQuery, MovieId, PageQuery, PagesDep, PageStamp
from library.favorites import service
from library.favorites.models import FavoriteIn, FavoritePublic, FavoritesPage, FavoriteWithMovie
from library.lists import page_of
from shared.app import API_PREFIX
from shared.deps import CurrentPrincipal, EngineDep, SessionDep
from shared.errors import ProblemError, problem_responses
from shared.pagecache import page_field
from shared.threads import run_sync

router = APIRouter(prefix=API_PREFIX, tags=["favorites"])
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
    response: Response,
) -> FavoritePublic:
    await catalog.require(body.movie_id, viewer=principal.user_id)
    favorite, created = await service.add_favorite(
        engine, pages, user_id=principal.user_id, movie_id=body.movie_id
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    response.headers["Location"] = f"{API_PREFIX}/favorites/{favorite.movie_id}"
    return FavoritePublic(movie_id=favorite.movie_id, added_at=favorite.added_at)


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
    if not await service.remove_favorite(
        engine, pages, user_id=principal.user_id, movie_id=movie_id
    ):
        raise ProblemError(404, NOT_A_FAVORITE)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
