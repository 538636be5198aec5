"""Ratings, reviews and watch history routes."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from fastapi.concurrency import run_in_threadpool

from favorites import history, ratings, reviews
from favorites.deps import CatalogDep, LimitQuery, PageQuery
from favorites.models import (
    Author,
    HistoryIn,
    HistoryPage,
    HistoryPublic,
    HistoryWithMovie,
    RatingIn,
    RatingPublic,
    RatingsPage,
    ReviewIn,
    ReviewPublic,
    ReviewsPage,
    ReviewUpdate,
)
from shared.app import API_PREFIX
from shared.catalog_models import paginate
from shared.deps import CurrentPrincipal, OptionalPrincipal, SessionDep
from shared.errors import ProblemError, problem_responses

router = APIRouter(prefix=API_PREFIX)
MovieId = Annotated[int, Path(ge=1, le=2**31 - 1, description="TMDb movie id")]
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


# --- ratings --------------------------------------------------------------------------------
@router.put(
    "/movies/{movie_id}/rating",
    response_model=RatingPublic,
    tags=["ratings"],
    responses=problem_responses(401, 404, 413, 422, 503),
    summary="Rate a movie (0.5 to 10, steps of 0.5)",
)
async def rate(
    movie_id: MovieId,
    body: RatingIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    catalog: CatalogDep,
) -> RatingPublic:
    await catalog.require(movie_id, viewer=principal.user_id)
    rating = await run_in_threadpool(
        ratings.rate, session, user_id=principal.user_id, movie_id=movie_id, score=body.score
    )
    return RatingPublic(movie_id=movie_id, score=float(rating.score), rated_at=rating.rated_at)


@router.delete(
    "/movies/{movie_id}/rating",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["ratings"],
    responses=problem_responses(401, 404, 422),
    summary="Remove your rating",
)
async def unrate(movie_id: MovieId, principal: CurrentPrincipal, session: SessionDep) -> Response:
    if not await run_in_threadpool(
        ratings.unrate, session, user_id=principal.user_id, movie_id=movie_id
    ):
        raise ProblemError(404, "You have not rated this movie")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me/ratings",
    response_model=RatingsPage,
    tags=["ratings"],
    responses=problem_responses(401, 422),
    summary="Your ratings, newest first",
)
async def my_ratings(
    principal: CurrentPrincipal, session: SessionDep, page: PageQuery = 1, limit: LimitQuery = 20
) -> RatingsPage:
    rows, total = await run_in_threadpool(
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


# --- reviews --------------------------------------------------------------------------------
@router.post(
    "/movies/{movie_id}/reviews",
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
        authored = await run_in_threadpool(
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
    rows, total = await run_in_threadpool(
        reviews.page, session, movie_id=movie_id, page=page, limit=limit
    )
    return paginate(
        ReviewsPage,
        total=total,
        page=page,
        limit=limit,
        results=[_review(r) for r in rows],
    )


@router.patch(
    "/reviews/{review_id}",
    response_model=ReviewPublic,
    tags=["reviews"],
    responses=problem_responses(401, 403, 404, 413, 422),
    summary="Edit your review",
)
async def update_review(
    review_id: ReviewId, body: ReviewUpdate, principal: CurrentPrincipal, session: SessionDep
) -> ReviewPublic:
    try:
        authored = await run_in_threadpool(
            reviews.update, session, review_id=review_id, user_id=principal.user_id, changes=body
        )
    except reviews.NotTheAuthor as exc:
        raise ProblemError(403, "Only the author can change a review") from exc
    if authored is None:
        raise ProblemError(404, "No review with this id")
    return _review(authored)


@router.delete(
    "/reviews/{review_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["reviews"],
    responses=problem_responses(401, 403, 404, 422),
    summary="Delete your review",
)
async def delete_review(
    review_id: ReviewId, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    try:
        deleted = await run_in_threadpool(
            reviews.delete, session, review_id=review_id, user_id=principal.user_id
        )
    except reviews.NotTheAuthor as exc:
        raise ProblemError(403, "Only the author can delete a review") from exc
    if not deleted:
        raise ProblemError(404, "No review with this id")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- watch history --------------------------------------------------------------------------
@router.post(
    "/me/history",
    response_model=HistoryPublic,
    status_code=status.HTTP_201_CREATED,
    tags=["history"],
    responses=problem_responses(401, 404, 413, 422, 503),
    summary="Record that you watched a movie",
)
async def add_to_history(
    body: HistoryIn, principal: CurrentPrincipal, session: SessionDep, catalog: CatalogDep
) -> HistoryPublic:
    await catalog.require(body.movie_id, viewer=principal.user_id)
    entry = await run_in_threadpool(
        history.add,
        session,
        user_id=principal.user_id,
        movie_id=body.movie_id,
        watched_at=body.watched_at,
    )
    return HistoryPublic(movie_id=entry.movie_id, watched_at=entry.watched_at)


@router.get(
    "/me/history",
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
    rows, total = await run_in_threadpool(
        history.page, session, user_id=principal.user_id, page=page, limit=limit
    )
    movies = await catalog.summaries([row.movie_id for row in rows], viewer=principal.user_id)
    return paginate(
        HistoryPage,
        total=total,
        page=page,
        limit=limit,
        results=[
            HistoryWithMovie(movie=movies[row.movie_id], watched_at=row.watched_at)
            for row in rows
            if row.movie_id in movies  # not hidden from this viewer
        ],
    )


@router.delete(
    "/me/history/{movie_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["history"],
    responses=problem_responses(401, 404, 422),
    summary="Remove a movie from your history",
)
async def remove_from_history(
    movie_id: MovieId, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    if not await run_in_threadpool(
        history.remove, session, user_id=principal.user_id, movie_id=movie_id
    ):
        raise ProblemError(404, "This movie is not in your history")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
