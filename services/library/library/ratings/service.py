"""A user's ratings: plain functions over a database session, no HTTP here."""

import uuid

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from library.events import PRODUCER
from library.ratings.models import Rating
from shared.db import utcnow
from shared.events import RatingRemoved, RatingSet
from shared.outbox import add_event


def rate(session: Session, *, user_id: uuid.UUID, movie_id: int, score: float) -> Rating:
    """Set or change the user's rating; the event carries the score it replaced.

    A first rating is decided by one INSERT ... ON CONFLICT DO NOTHING, so of concurrent first
    ratings exactly one announces "no previous score" (a SELECT ... FOR UPDATE locks nothing
    while there is no row, which let each of them count the user once more in the community
    rating). A change locks the row, so concurrent changes each carry the score just before,
    and takes its time once it holds the lock: the events' times follow the order the changes
    were committed in, which is how the consumers (the taste profile) tell the newest score.
    """
    rated_at = utcnow()
    inserted = session.execute(
        insert(Rating)
        .values(user_id=user_id, movie_id=movie_id, score=score, rated_at=rated_at)
        .on_conflict_do_nothing()
        .returning(col(Rating.score))
    ).first()
    previous = None
    if inserted is None:
        previous = session.scalar(
            select(col(Rating.score))
            .where(col(Rating.user_id) == user_id, col(Rating.movie_id) == movie_id)
            .with_for_update()
        )
        if previous is None:  # removed between the two statements: decide again
            session.rollback()
            return rate(session, user_id=user_id, movie_id=movie_id, score=score)
        rated_at = utcnow()
        session.execute(
            update(Rating)
            .where(col(Rating.user_id) == user_id, col(Rating.movie_id) == movie_id)
            .values(score=score, rated_at=rated_at)
        )
    add_event(
        session,
        RatingSet(
            user_id=user_id,
            movie_id=movie_id,
            score=score,
            previous_score=float(previous) if previous is not None else None,
            at=rated_at,
        ),
        producer=PRODUCER,
    )
    session.commit()
    return Rating(user_id=user_id, movie_id=movie_id, score=score, rated_at=rated_at)


def unrate(session: Session, *, user_id: uuid.UUID, movie_id: int) -> bool:
    """Remove the user's rating; False if there was none."""
    removed = session.scalar(
        delete(Rating)
        .where(col(Rating.user_id) == user_id, col(Rating.movie_id) == movie_id)
        .returning(col(Rating.score))
    )
    if removed is None:
        session.rollback()
        return False
    add_event(
        session,
        RatingRemoved(user_id=user_id, movie_id=movie_id, score=float(removed), at=utcnow()),
        producer=PRODUCER,
    )
    session.commit()
    return True


def page(
    session: Session, *, user_id: uuid.UUID, page: int, limit: int
) -> tuple[list[Rating], int]:
    """One page of the user's ratings, newest first, and how many there are."""
    total = session.scalar(
        select(func.count()).select_from(Rating).where(col(Rating.user_id) == user_id)
    )
    rows = session.scalars(
        select(Rating)
        .where(col(Rating.user_id) == user_id)
        .order_by(col(Rating.rated_at).desc(), col(Rating.movie_id).desc())
        .offset((page - 1) * limit)
        .limit(limit)
    ).all()
    return list(rows), int(total or 0)
