"""Review routes: write, edit, delete, and a movie's reviews."""

import uuid
from typing import Annotated

from fastapi import Path, Response, status

from library.deps import CatalogDep, LimitQuery, MovieId, PageQuery
from library.reviews import service as reviews
from library.reviews.models import Author, ReviewIn, ReviewPublic, ReviewsPage, ReviewUpdate
from shared.app import API_PREFIX, service_router
from shared.catalog_models import paginate
from shared.deps import CurrentPrincipal, OptionalPrincipal, SessionDep
from shared.errors import ProblemError, problem_responses
from shared.threads import run_sync

router = service_router(prefix=API_PREFIX)
ReviewId = Annotated[uuid.UUID, Path(description="The review's id")]


def _review(authored: reviews.AuthoredReview) -> ReviewPublic:
    review = authored.review
    return ReviewPublic(
        id=review.id,
        movie_id=review.movie_id,
        author=Author(id=review.user_id, display_name=authored.author_name),
        body=review.body,
        score=float(review.score) if review.score is not None else None,
        created_at=review.created_at,
        updated_at=review.updated_at,
    )


@router.post(
    "/movies/{movie_id}/reviews",
    operation_id="reviews_create",
    response_model=ReviewPublic,
    status_code=status.HTTP_201_CREATED,
    tags=["reviews"],
    responses=problem_responses(401, 404, 409, 413, 422, 503),
    summary="Review a movie (one review per user and movie)",
)
async def create_review(
    movie_id: MovieId,
    body: ReviewIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    catalog: CatalogDep,
) -> ReviewPublic:
    await catalog.require(movie_id, viewer=principal.user_id)
    try:
        authored = await run_sync(
            reviews.create,
            session,
            user_id=principal.user_id,
            movie_id=movie_id,
            body=body.body,
            score=body.score,
        )
    except reviews.AlreadyReviewed as exc:
        raise ProblemError(
            409, "You have already reviewed this movie; edit that review instead"
        ) from exc
    return _review(authored)


@router.get(
    "/movies/{movie_id}/reviews",
    operation_id="reviews_list",
    response_model=ReviewsPage,
    tags=["reviews"],
    responses=problem_responses(404, 422, 503),
    summary="A movie's reviews, newest first (public)",
)
async def movie_reviews(
    movie_id: MovieId,
    session: SessionDep,
    catalog: CatalogDep,
    principal: OptionalPrincipal,
    page: PageQuery = 1,
    limit: LimitQuery = 20,
) -> ReviewsPage:
    await catalog.require(movie_id, viewer=principal.user_id if principal else None)
    rows, total = await run_sync(reviews.page, session, movie_id=movie_id, page=page, limit=limit)
    return paginate(
        ReviewsPage,
        total=total,
        page=page,
        limit=limit,
        results=[_review(r) for r in rows],
    )


@router.patch(
    "/reviews/{review_id}",
    operation_id="reviews_update",
    response_model=ReviewPublic,
    tags=["reviews"],
    responses=problem_responses(401, 403, 404, 413, 422),
    summary="Edit your review",
)
async def update_review(
    review_id: ReviewId, body: ReviewUpdate, principal: CurrentPrincipal, session: SessionDep
) -> ReviewPublic:
    try:
        authored = await run_sync(
            reviews.update, session, review_id=review_id, user_id=principal.user_id, changes=body
        )
    except reviews.NotTheAuthor as exc:
        raise ProblemError(403, "Only the author can change a review") from exc
    if authored is None:
        raise ProblemError(404, "No review with this id")
    return _review(authored)


@router.delete(
    "/reviews/{review_id}",
    operation_id="reviews_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["reviews"],
    responses=problem_responses(401, 403, 404, 422),
    summary="Delete your review",
)
async def delete_review(
    review_id: ReviewId, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    try:
        deleted = await run_sync(
            reviews.delete, session, review_id=review_id, user_id=principal.user_id
        )
    except reviews.NotTheAuthor as exc:
        raise ProblemError(403, "Only the author can delete a review") from exc
    if not deleted:
        raise ProblemError(404, "No review with this id")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
