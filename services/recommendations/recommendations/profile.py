"""Changes to the taste profile, applied inside the consumer's inbox transaction."""

import uuid
from datetime import datetime

from sqlalchemy import delete, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from recommendations.engine import Profile, Signal
from recommendations.models import TastePreference, TasteSignal, TopPick
from shared.db import user_lock
from shared.inbox import execute_later

FAVORITE, RATING, WATCHED, WATCHLIST = "favorite", "rating", "watched", "watchlist"
LISTED = "listed"  # on one of the user's own lists at least
NOT_INTERESTED = "not_interested"  # no taste signal, only never recommended


# A user's account against its deletion: the deletion (`forget`) takes the lock alone and
# leaves a tombstone; a write that would bring the user back takes it shared and writes only
# for a user not forgotten, so an event that comes after the deletion (a retry, another
# replica's) or meets it under way writes nothing.
_HOLD_USER_SHARED = user_lock(7403, shared=True)
_HOLD_USER = user_lock(7403)
_IS_FORGOTTEN = "SELECT 1 FROM forgotten_user WHERE user_id = CAST(:user_id AS uuid)"
_NOT_FORGOTTEN = f"NOT EXISTS ({_IS_FORGOTTEN})"
_FORGOTTEN = text(f"SELECT EXISTS ({_IS_FORGOTTEN})")
_FORGET = text(
    "INSERT INTO forgotten_user (user_id, forgotten_at) VALUES (CAST(:user_id AS uuid), now()) "
    "ON CONFLICT DO NOTHING"
)

# Plain SQL built once: the expression language's statement, built for every event, cost
# the consumer more than running it. Each SET sees the row as it was.
_SIGNAL_ADDED = text(
    "INSERT INTO taste_signal (user_id, movie_id, kind, score, added_at) "
    "SELECT CAST(:user_id AS uuid), :movie_id, :kind, CAST(:score AS numeric),"
    " CAST(:at AS timestamptz) WHERE " + _NOT_FORGOTTEN + " "
    "ON CONFLICT (user_id, movie_id, kind) DO UPDATE SET "
    "added_at = greatest(taste_signal.added_at, excluded.added_at), "
    "score = CASE WHEN taste_signal.added_at IS NULL OR taste_signal.added_at < excluded.added_at "
    "THEN excluded.score ELSE taste_signal.score END"
)
_SIGNAL_REMOVED = text(
    "INSERT INTO taste_signal (user_id, movie_id, kind, removed_at) "
    "SELECT CAST(:user_id AS uuid), :movie_id, :kind, CAST(:at AS timestamptz)"
    " WHERE " + _NOT_FORGOTTEN + " "
    "ON CONFLICT (user_id, movie_id, kind) DO UPDATE SET "
    "removed_at = greatest(taste_signal.removed_at, excluded.removed_at)"
)


def signal_added(
    session: Session,
    *,
    user_id: uuid.UUID,
    movie_id: int,
    kind: str,
    at: datetime,
    score: float | None = None,
) -> None:
    """Record an add (or a new rating); one older than what is recorded changes nothing."""
    execute_later(session, _HOLD_USER_SHARED, {"user_id": str(user_id)})
    execute_later(
        session,
        _SIGNAL_ADDED,
        {"user_id": str(user_id), "movie_id": movie_id, "kind": kind, "score": score, "at": at},
    )


def signal_removed(
    session: Session, *, user_id: uuid.UUID, movie_id: int, kind: str, at: datetime
) -> None:
    """Record a removal; it only hides adds that happened before it."""
    execute_later(session, _HOLD_USER_SHARED, {"user_id": str(user_id)})
    execute_later(
        session,
        _SIGNAL_REMOVED,
        {"user_id": str(user_id), "movie_id": movie_id, "kind": kind, "at": at},
    )


def signals(session: Session, *, user_id: uuid.UUID, kind: str | None = None) -> list[Signal]:
    """The user's current signals, newest first."""
    statement = select(TasteSignal).where(
        col(TasteSignal.user_id) == user_id,
        col(TasteSignal.added_at).is_not(None),
        or_(
            col(TasteSignal.removed_at).is_(None),
            col(TasteSignal.added_at) > col(TasteSignal.removed_at),
        ),
    )
    if kind is not None:
        statement = statement.where(col(TasteSignal.kind) == kind)
    rows = session.scalars(statement.order_by(col(TasteSignal.added_at).desc())).all()
    return [
        Signal(
            row.movie_id,
            row.kind,
            row.added_at.timestamp() if row.added_at else 0.0,
            float(row.score) if row.score is not None else None,
        )
        for row in rows
    ]


def favorites(session: Session, *, user_id: uuid.UUID) -> list[int]:
    """The ids of the user's current favorites, newest first."""
    return [signal.movie_id for signal in signals(session, user_id=user_id, kind=FAVORITE)]


def preferences_changed(
    session: Session, *, user_id: uuid.UUID, genres: list[int], include_adult: bool, at: datetime
) -> None:
    """Keep the newest preferences; an older change arriving late changes nothing."""
    session.execute(_HOLD_USER_SHARED, {"user_id": str(user_id)})
    if session.execute(_FORGOTTEN, {"user_id": str(user_id)}).scalar_one():
        return  # the account was deleted
    statement = insert(TastePreference).values(
        user_id=user_id, genres=genres, include_adult=include_adult, updated_at=at
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id"],
            set_={
                "genres": statement.excluded.genres,
                "include_adult": statement.excluded.include_adult,
                "updated_at": statement.excluded.updated_at,
            },
            where=col(TastePreference.updated_at) < statement.excluded.updated_at,
        )
    )


def load(session: Session, *, user_id: uuid.UUID) -> Profile:
    """Everything the engine needs to know about one user."""
    preference = session.get(TastePreference, user_id)
    return Profile(
        signals=signals(session, user_id=user_id),
        preferred_genres=list(preference.genres) if preference else [],
        include_adult=preference.include_adult if preference else False,
    )


def forget(session: Session, *, user_id: uuid.UUID) -> None:
    """Everything known of a deleted account goes, and a tombstone stays (nothing of the
    user is written again). Writes of the user under way are waited for first."""
    session.execute(_HOLD_USER, {"user_id": str(user_id)})
    session.execute(_FORGET, {"user_id": str(user_id)})
    for table in (TasteSignal, TastePreference, TopPick):
        session.execute(delete(table).where(col(table.user_id) == user_id))  # type: ignore[attr-defined]
