"""Marking a title "not interested" (and taking the mark back)."""

from fastapi import Response, status

from library.deps import CatalogDep, MovieId
from library.not_interested import service as not_interested
from shared.app import API_PREFIX, service_router
from shared.deps import CurrentPrincipal, SessionDep
from shared.errors import ProblemError, problem_responses
from shared.threads import run_sync

router = service_router(prefix=API_PREFIX, tags=["library"])


@router.put(
    "/movies/{movie_id}/not-interested",
    operation_id="library_not_interested_mark",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 422, 503),
    summary="Never suggest this title to me (marking twice changes nothing)",
)
async def mark_not_interested(
    movie_id: MovieId, principal: CurrentPrincipal, session: SessionDep, catalog: CatalogDep
) -> Response:
    await catalog.require(movie_id, viewer=principal.user_id)
    await run_sync(not_interested.add, session, user_id=principal.user_id, movie_id=movie_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/movies/{movie_id}/not-interested",
    operation_id="library_not_interested_unmark",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 422),
    summary="Let this title be suggested again",
)
async def unmark_not_interested(
    movie_id: MovieId, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    if not await run_sync(
        not_interested.remove, session, user_id=principal.user_id, movie_id=movie_id
    ):
        raise ProblemError(404, "This movie is not marked as not interesting to you")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
