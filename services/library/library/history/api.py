"""Watch history routes: record, list and remove what a user watched."""

import uuid

from fastapi import Response, status
from sqlalchemy import Engine

from library.catalog_client import LibraryCatalogClient
from library.deps import CatalogDep, LimitQuery, MovieId, PageQuery
from library.history import service as history
from library.history.models import HistoryIn, HistoryPage, HistoryPublic, HistoryWithMovie
from library.lists import page_of
from shared.app import API_PREFIX, service_router
from shared.db import in_session
from shared.deps import CurrentPrincipal, EngineDep, SessionDep
from shared.errors import ProblemError, problem_responses
from shared.fastroutes import NO_CONTENT, Answer, as_response, json_answer
from shared.threads import run_sync

router = service_router(prefix=API_PREFIX)


@router.post(
    "/me/history",
    operation_id="history_add",
    response_model=HistoryPublic,
    status_code=status.HTTP_201_CREATED,
    tags=["history"],
    responses=problem_responses(401, 404, 413, 422, 503),
    summary="Record that you watched a movie",
)
async def add_to_history(
    body: HistoryIn, principal: CurrentPrincipal, engine: EngineDep, catalog: CatalogDep
) -> Response:
    return as_response(await watched(engine, catalog, user_id=principal.user_id, body=body))


async def watched(
    engine: Engine, catalog: LibraryCatalogClient, *, user_id: uuid.UUID, body: HistoryIn
) -> Answer:
    """The answer to recording a viewing (the route's and its fast door's)."""
    await catalog.require(body.movie_id, viewer=user_id)
    entry = await run_sync(
        in_session,
        engine,
        history.add,
        user_id=user_id,
        movie_id=body.movie_id,
        watched_at=body.watched_at,
    )
    return json_answer(
        status.HTTP_201_CREATED, HistoryPublic(movie_id=entry.movie_id, watched_at=entry.watched_at)
    )


@router.get(
    "/me/history",
    operation_id="history_list",
    response_model=HistoryPage,
    tags=["history"],
    responses=problem_responses(401, 422, 503),
    summary="What you watched, most recent first",
)
async def my_history(
    principal: CurrentPrincipal,
    session: SessionDep,
    catalog: CatalogDep,
    page: PageQuery = 1,
    limit: LimitQuery = 20,
) -> HistoryPage:
    rows, total = await run_sync(
        history.page, session, user_id=principal.user_id, page=page, limit=limit
    )
    movies = await catalog.summaries([row.movie_id for row in rows], viewer=principal.user_id)
    return page_of(
        HistoryPage,
        rows,
        movies,
        lambda movie, row: HistoryWithMovie(movie=movie, watched_at=row.watched_at),
        total=total,
        page=page,
        limit=limit,
    )


@router.delete(
    "/me/history/{movie_id}",
    operation_id="history_remove",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["history"],
    responses=problem_responses(401, 404, 422),
    summary="Remove a movie from your history",
)
async def remove_from_history(
    movie_id: MovieId, principal: CurrentPrincipal, engine: EngineDep
) -> Response:
    return as_response(await unwatched(engine, user_id=principal.user_id, movie_id=movie_id))


async def unwatched(engine: Engine, *, user_id: uuid.UUID, movie_id: int) -> Answer:
    """The answer to removing a movie from the history (the route's and its fast door's)."""
    if not await run_sync(in_session, engine, history.remove, user_id=user_id, movie_id=movie_id):
        raise ProblemError(404, "This movie is not in your history")
    return NO_CONTENT
