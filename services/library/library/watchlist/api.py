"""Watchlist routes: add, list and remove what a user wants to watch."""

import uuid

from fastapi import Response, status
from sqlalchemy import Engine

from library.catalog_client import LibraryCatalogClient
from library.deps import CatalogDep, LimitQuery, MovieId, PageQuery
from library.lists import page_of
from library.watchlist import service as watchlist
from library.watchlist.models import WatchlistIn, WatchlistPage, WatchlistPublic, WatchlistWithMovie
from shared.app import API_PREFIX, service_router
from shared.db import in_session
from shared.deps import CurrentPrincipal, EngineDep, SessionDep
from shared.errors import ProblemError, problem_responses
from shared.fastroutes import NO_CONTENT, Answer, as_response, json_answer
from shared.threads import run_sync

router = service_router(prefix=API_PREFIX, tags=["watchlist"])


@router.get(
    "/watchlist",
    operation_id="watchlist_list",
    response_model=WatchlistPage,
    responses=problem_responses(401, 422, 503),
    summary="What you want to watch, newest first, each with the movie's summary",
)
async def list_watchlist(
    principal: CurrentPrincipal,
    session: SessionDep,
    catalog: CatalogDep,
    page: PageQuery = 1,
    limit: LimitQuery = 20,
) -> WatchlistPage:
    rows, total = await run_sync(
        watchlist.page, session, user_id=principal.user_id, page=page, limit=limit
    )
    movies = await catalog.summaries([row.movie_id for row in rows], viewer=principal.user_id)
    return page_of(
        WatchlistPage,
        rows,
        movies,
        lambda movie, row: WatchlistWithMovie(movie=movie, added_at=row.added_at),
        total=total,
        page=page,
        limit=limit,
    )


@router.post(
    "/watchlist",
    operation_id="watchlist_add",
    response_model=WatchlistPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": WatchlistPublic, "description": "Already on the watchlist"},
        201: {"description": "Added", "headers": {"Location": {"schema": {"type": "string"}}}},
        **problem_responses(401, 404, 413, 422, 503),
    },
    summary="Put a movie on your watchlist",
)
async def add_to_watchlist(
    body: WatchlistIn, principal: CurrentPrincipal, engine: EngineDep, catalog: CatalogDep
) -> Response:
    return as_response(await watchlist_added(engine, catalog, user_id=principal.user_id, body=body))


async def watchlist_added(
    engine: Engine, catalog: LibraryCatalogClient, *, user_id: uuid.UUID, body: WatchlistIn
) -> Answer:
    """The answer to putting a movie on the watchlist (the route's and its fast door's)."""
    await catalog.require(body.movie_id, viewer=user_id)
    entry, created = await run_sync(
        in_session, engine, watchlist.add, user_id=user_id, movie_id=body.movie_id
    )
    return json_answer(
        status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        WatchlistPublic(movie_id=entry.movie_id, added_at=entry.added_at),
        [(b"location", f"{API_PREFIX}/watchlist/{entry.movie_id}".encode())],
    )


@router.delete(
    "/watchlist/{movie_id}",
    operation_id="watchlist_remove",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 422),
    summary="Take a movie off your watchlist",
)
async def remove_from_watchlist(
    movie_id: MovieId, principal: CurrentPrincipal, engine: EngineDep
) -> Response:
    return as_response(
        await watchlist_removed(engine, user_id=principal.user_id, movie_id=movie_id)
    )


async def watchlist_removed(engine: Engine, *, user_id: uuid.UUID, movie_id: int) -> Answer:
    """The answer to taking a movie off the watchlist (the route's and its fast door's)."""
    if not await run_sync(in_session, engine, watchlist.remove, user_id=user_id, movie_id=movie_id):
        raise ProblemError(404, "This movie is not on your watchlist")
    return NO_CONTENT
