"""A user's ratings: plain functions over a database session, no HTTP here."""

import uuid

from sqlalchemy import func, select, text
from sqlmodel import Session, col

from library.events import PRODUCER
from library.ratings.models import Rating
from shared.db import utcnow
from shared.events import RatingRemoved, RatingSet
from shared.outbox import add_event, event_params, staged, with_event

_FIRST_RATING = with_event(
    "INSERT INTO rating (user_id, movie_id, score, rated_at) "
    "VALUES (CAST(:user_id AS uuid), :movie_id, :score, :at) "
    "ON CONFLICT DO NOTHING RETURNING movie_id"
)
_LOCK = text(
    "SELECT score FROM rating WHERE user_id = CAST(:user_id AS uuid) AND movie_id = :movie_id "
    "FOR UPDATE"
)
_CHANGE = text(
    "UPDATE rating SET score = :score, rated_at = :at "
    "WHERE user_id = CAST(:user_id AS uuid) AND movie_id = :movie_id"
)
_REMOVE = text(
    "DELETE FROM rating WHERE user_id = CAST(:user_id AS uuid) AND movie_id = :movie_id "
    "RETURNING score"
)


def rate(session: Session, *, user_id: uuid.UUID, movie_id: int, score: float) -> Rating:
    """Set or change the user's rating; the event carries the score it replaced.

    A first rating is decided by one statement, INSERT ... ON CONFLICT DO NOTHING with its
    event (no previous score) staged only if the row was inserted: of concurrent first ratings
    exactly one announces "no previous score" (a SELECT ... FOR UPDATE locks nothing while
    there is no row, which let each of them count the user once more in the community rating).
    A change locks the row, so concurrent changes each carry the score just before, and takes
    its time once it holds the lock: the events' times follow the order the changes were
    committed in, which is how the consumers (the taste profile) tell the newest score.
    Statements are plain SQL built once (the write path's cost was the ORM's, not the
    database's: measured).
    """
    key = {"user_id": str(user_id), "movie_id": movie_id}
    rated_at = utcnow()
    first = RatingSet(user_id=user_id, movie_id=movie_id, score=score, at=rated_at)
    parameters = key | {"score": score, "at": rated_at} | event_params(first, producer=PRODUCER)
    if session.execute(_FIRST_RATING, parameters).first() is not None:
        staged(session)
        session.commit()
        return Rating(user_id=user_id, movie_id=movie_id, score=score, rated_at=rated_at)
    previous = session.scalar(_LOCK, key)
    if previous is None:  # removed between the two statements: decide again
        session.rollback()
        return rate(session, user_id=user_id, movie_id=movie_id, score=score)
    rated_at = utcnow()
    session.execute(_CHANGE, key | {"score": score, "at": rated_at})
    add_event(
        session,
        RatingSet(
            user_id=user_id,
            movie_id=movie_id,
            score=score,
            previous_score=float(previous),
            at=rated_at,
        ),
        producer=PRODUCER,
    )
    session.commit()
    return Rating(user_id=user_id, movie_id=movie_id, score=score, rated_at=rated_at)


def unrate(session: Session, *, user_id: uuid.UUID, movie_id: int) -> bool:
    """Remove the user's rating; False if there was none. The event carries the score removed
    (the community rating takes it back out)."""
    removed = session.scalar(_REMOVE, {"user_id": str(user_id), "movie_id": movie_id})
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
