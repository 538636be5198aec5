"""Recommendations routes."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import Field
from starlette.responses import Response

from recommendations.service import Recommender
from shared.app import API_PREFIX
from shared.catalog_models import MovieSummary, Page
from shared.deps import CurrentPrincipal
from shared.errors import problem_responses
from shared.pagecache import PAGE_STAMP_HEADER

router = APIRouter(prefix=API_PREFIX, tags=["recommendations"])


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
