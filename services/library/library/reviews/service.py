"""Reviews: one per user and movie, public, edited and deleted by their author only."""

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from library.events import PRODUCER
from library.reviews.models import Review, ReviewUpdate, UserDirectoryEntry
from shared.db import utcnow
from shared.events import ReviewCreated, ReviewDeleted
from shared.outbox import add_event

UNKNOWN_AUTHOR = "A movie fan"


class AlreadyReviewed(Exception):
    pass


class NotTheAuthor(Exception):
    pass


@dataclass(frozen=True)
class AuthoredReview:
    review: Review
    author_name: str


def _author_name(session: Session, user_id: uuid.UUID) -> str:
    entry = session.get(UserDirectoryEntry, user_id)
    return entry.display_name if entry else UNKNOWN_AUTHOR


def create(
    session: Session, *, user_id: uuid.UUID, movie_id: int, body: str, score: float | None
) -> AuthoredReview:
    """Write the user's review of a movie; AlreadyReviewed if there is one."""
    review = Review(user_id=user_id, movie_id=movie_id, body=body, score=score)
    session.add(review)
    add_event(
        session,
        ReviewCreated(
            review_id=review.id,
            user_id=user_id,
            movie_id=movie_id,
            score=score,
            at=review.created_at,
        ),
        producer=PRODUCER,
    )
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise AlreadyReviewed from exc
    return AuthoredReview(review, _author_name(session, user_id))


def _owned(session: Session, *, review_id: uuid.UUID, user_id: uuid.UUID) -> Review | None:
    review = session.get(Review, review_id, with_for_update=True)
    if review is not None and review.user_id != user_id:
        session.rollback()
        raise NotTheAuthor
    return review


def update(
    session: Session, *, review_id: uuid.UUID, user_id: uuid.UUID, changes: ReviewUpdate
) -> AuthoredReview | None:
    """Edit a review; None if it does not exist, NotTheAuthor if it is someone else's."""
    review = _owned(session, review_id=review_id, user_id=user_id)
    if review is None:
        return None
    fields = changes.model_dump(exclude_unset=True)
    if "body" in fields and fields["body"] is not None:
        review.body = fields["body"]
    if "score" in fields:
        review.score = fields["score"]
    review.updated_at = utcnow()
    session.add(review)
    session.commit()
    return AuthoredReview(review, _author_name(session, user_id))


def delete(session: Session, *, review_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Delete a review; False if it does not exist, NotTheAuthor if it is someone else's."""
    review = _owned(session, review_id=review_id, user_id=user_id)
    if review is None:
        return False
    session.delete(review)
    add_event(
        session,
        ReviewDeleted(review_id=review.id, user_id=user_id, movie_id=review.movie_id, at=utcnow()),
        producer=PRODUCER,
    )
    session.commit()
    return True


def page(
    session: Session, *, movie_id: int, page: int, limit: int
) -> tuple[list[AuthoredReview], int]:
    """One page of a movie's reviews, newest first, with their authors' names."""
    total = session.scalar(
        select(func.count()).select_from(Review).where(col(Review.movie_id) == movie_id)
    )
    rows = session.execute(
        select(Review, func.coalesce(col(UserDirectoryEntry.display_name), UNKNOWN_AUTHOR))
        .outerjoin(UserDirectoryEntry, col(UserDirectoryEntry.user_id) == col(Review.user_id))
        .where(col(Review.movie_id) == movie_id)
        .order_by(col(Review.created_at).desc(), col(Review.id))
        .offset((page - 1) * limit)
        .limit(limit)
    ).all()
    return [AuthoredReview(review, name) for review, name in rows], int(total or 0)
