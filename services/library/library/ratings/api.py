"""Rating routes: set, remove and list a user's ratings."""

import uuid

from fastapi import Response, status
from sqlalchemy import Engine

from library.catalog_client import LibraryCatalogClient
from library.deps import CatalogDep, LimitQuery, MovieId, PageQuery
from library.ratings import service as ratings
from library.ratings.models import RatingIn, RatingPublic, RatingsPage
from shared.app import API_PREFIX, service_router
from shared.catalog_models import paginate
from shared.db import in_session
from shared.deps import CurrentPrincipal, EngineDep, SessionDep
from shared.errors import ProblemError, problem_responses
from shared.fastroutes import NO_CONTENT, Answer, as_response, json_answer
from shared.threads import run_sync

router = service_router(prefix=API_PREFIX)


@router.put(
    "/movies/{movie_id}/rating",
    operation_id="ratings_set",
    response_model=RatingPublic,
    tags=["ratings"],
    responses=problem_responses(401, 404, 413, 422, 503),
    summary="Rate a movie (0.5 to 10, steps of 0.5)",
)
async def rate(
    movie_id: MovieId,
    body: RatingIn,
    principal: CurrentPrincipal,
    engine: EngineDep,
    catalog: CatalogDep,
) -> Response:
    return as_response(
        await rated(engine, catalog, user_id=principal.user_id, movie_id=movie_id, body=body)
    )


async def rated(
    engine: Engine,
    catalog: LibraryCatalogClient,
    *,
    user_id: uuid.UUID,
    movie_id: int,
    body: RatingIn,
) -> Answer:
    """The answer to rating a movie (the route's and its fast door's)."""
    await catalog.require(movie_id, viewer=user_id)
    rating = await run_sync(
        in_session, engine, ratings.rate, user_id=user_id, movie_id=movie_id, score=body.score
    )
    return json_answer(
        status.HTTP_200_OK,
        RatingPublic(movie_id=movie_id, score=float(rating.score), rated_at=rating.rated_at),
    )


@router.delete(
    "/movies/{movie_id}/rating",
    operation_id="ratings_remove",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["ratings"],
    responses=problem_responses(401, 404, 422),
    summary="Remove your rating",
)
async def unrate(movie_id: MovieId, principal: CurrentPrincipal, engine: EngineDep) -> Response:
    return as_response(await unrated(engine, user_id=principal.user_id, movie_id=movie_id))


async def unrated(engine: Engine, *, user_id: uuid.UUID, movie_id: int) -> Answer:
    """The answer to removing a rating (the route's and its fast door's)."""
    if not await run_sync(in_session, engine, ratings.unrate, user_id=user_id, movie_id=movie_id):
        raise ProblemError(404, "You have not rated this movie")
    return NO_CONTENT


@router.get(
    "/me/ratings",
    operation_id="ratings_list",
    response_model=RatingsPage,
    tags=["ratings"],
    responses=problem_responses(401, 422),
    summary="Your ratings, newest first",
)
async def my_ratings(
    principal: CurrentPrincipal, session: SessionDep, page: PageQuery = 1, limit: LimitQuery = 20
) -> RatingsPage:
    rows, total = await run_sync(
        ratings.page, session, user_id=principal.user_id, page=page, limit=limit
    )
    return paginate(
        RatingsPage,
        total=total,
        page=page,
        limit=limit,
        results=[
            RatingPublic(movie_id=r.movie_id, score=float(r.score), rated_at=r.rated_at)
            for r in rows
        ],
    )
