"""One title as the user has it (GET /movies/{id}/me), and the library's part of an account
export (internal: auth assembles the whole export)."""

import uuid

from library.account import service as account
from library.account.models import TitleState
from library.deps import CatalogDep, MovieId
from shared.account_export import LibraryExport
from shared.app import API_PREFIX, service_router
from shared.deps import CurrentPrincipal, InternalOnly, SessionDep
from shared.errors import problem_responses
from shared.threads import run_sync

router = service_router(prefix=API_PREFIX, tags=["library"])
internal_router = service_router(
    prefix="/internal", include_in_schema=False, dependencies=[InternalOnly]
)


@router.get(
    "/movies/{movie_id}/me",
    operation_id="library_title_state",
    response_model=TitleState,
    responses=problem_responses(401, 404, 422, 503),
    summary="Your state for one title: favorite, watchlist, rating, watched, review, hidden",
)
async def title_state(
    movie_id: MovieId, principal: CurrentPrincipal, session: SessionDep, catalog: CatalogDep
) -> TitleState:
    await catalog.require(movie_id, viewer=principal.user_id)
    return await run_sync(
        account.title_state, session, user_id=principal.user_id, movie_id=movie_id
    )


@internal_router.get("/users/{user_id}/export", response_model=LibraryExport)
async def export(user_id: uuid.UUID, session: SessionDep) -> LibraryExport:
    return await run_sync(account.export, session, user_id=user_id)
