"""Recommendations routes."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from pydantic import Field
from starlette.responses import Response

from recommendations import profile
from recommendations.service import Recommender
from shared.account_export import TasteSignalExport
from shared.app import API_PREFIX, service_router
from shared.catalog_models import MovieSummary, Page
from shared.deps import CurrentPrincipal, InternalOnly, SessionDep
from shared.errors import problem_responses
from shared.pagecache import PAGE_STAMP_HEADER
from shared.threads import run_sync

router = service_router(prefix=API_PREFIX, tags=["recommendations"])


class RecommendedMovie(MovieSummary):
    score: float = Field(description="Higher is a better match")
    reasons: list[str] = Field(min_length=1, description='e.g. "Because you liked Heat"')


class RecommendationsPage(Page[RecommendedMovie]):
    pass


async def get_recommender(request: Request) -> Recommender:
    recommender: Recommender = request.app.state.recommender
    return recommender


@router.get(
    "/recommendations",
    operation_id="recommendations_list",
    response_model=None,
    responses={
        200: {"model": RecommendationsPage, "description": "Movies chosen for you"},
        **problem_responses(401, 422, 503),
    },
    summary="Movies chosen for you, each with the reasons it was picked",
)
async def recommendations(
    principal: CurrentPrincipal,
    recommender: Annotated[Recommender, Depends(get_recommender)],
    stamp: Annotated[str | None, Header(alias=PAGE_STAMP_HEADER, include_in_schema=False)] = None,
    page: Annotated[int, Query(ge=1, le=500)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    body = await recommender.page(principal.user_id, page=page, limit=limit, stamp=stamp)
    return Response(body, media_type="application/json")


internal_router = service_router(
    prefix="/internal", include_in_schema=False, dependencies=[InternalOnly]
)


@internal_router.get("/users/{user_id}/export", response_model=dict[str, list[TasteSignalExport]])
async def export(user_id: uuid.UUID, session: SessionDep) -> dict[str, list[TasteSignalExport]]:
    """The taste profile's part of an account export (auth assembles the whole)."""

    def read() -> list[TasteSignalExport]:
        try:
            return [
                TasteSignalExport(
                    movie_id=signal.movie_id,
                    kind=signal.kind,
                    score=signal.score,
                    at=datetime.fromtimestamp(signal.at, UTC),
                )
                for signal in profile.signals(session, user_id=user_id)
            ]
        finally:
            session.rollback()

    return {"taste_signals": await run_sync(read)}
