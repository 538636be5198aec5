"""Watch history: one entry per user and movie, the latest viewing kept."""

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session, col

from library.events import PRODUCER
from library.history.models import WatchEntry
from library.watchlist.service import WATCHLIST
from shared.db import utcnow
from shared.events import HistoryAdded, HistoryRemoved
from shared.outbox import event_params, staged, with_event

_ADD = with_event(
    "INSERT INTO watch_entry (user_id, movie_id, watched_at) "
    "VALUES (CAST(:user_id AS uuid), :movie_id, :watched_at) "
    "ON CONFLICT (user_id, movie_id) "
    "DO UPDATE SET watched_at = greatest(watch_entry.watched_at, EXCLUDED.watched_at) "
    "RETURNING watched_at",
    "SELECT changed.watched_at, coalesce(setting.remove_when_watched, false) FROM changed "
    "LEFT JOIN watchlist_setting setting ON setting.user_id = CAST(:user_id AS uuid)",
)
_REMOVE = with_event(
    "DELETE FROM watch_entry WHERE user_id = CAST(:user_id AS uuid) AND movie_id = :movie_id "
    "RETURNING movie_id"
)


def add(
    session: Session, *, user_id: uuid.UUID, movie_id: int, watched_at: datetime | None
) -> WatchEntry:
    """Record a viewing (now, unless told when); a later viewing replaces an earlier one. The
    title leaves the watchlist in the same transaction when the user wants that.

    The entry, its event and the user's watchlist setting in one statement built once; the
    watchlist is touched only when the setting says so."""
    when = watched_at or utcnow()
    event = HistoryAdded(user_id=user_id, movie_id=movie_id, watched_at=when)
    parameters = {"user_id": str(user_id), "movie_id": movie_id, "watched_at": when}
    stored, leaves_watchlist = session.execute(
        _ADD, parameters | event_params(event, producer=PRODUCER)
    ).one()
    staged(session)
    if leaves_watchlist:
        WATCHLIST.discard(session, user_id=user_id, movie_id=movie_id)
    session.commit()
    return WatchEntry(user_id=user_id, movie_id=movie_id, watched_at=stored)


def remove(session: Session, *, user_id: uuid.UUID, movie_id: int) -> bool:
    """Forget that the user watched a movie; False if it was not in their history."""
    event = HistoryRemoved(user_id=user_id, movie_id=movie_id, at=utcnow())
    parameters = {"user_id": str(user_id), "movie_id": movie_id}
    parameters |= event_params(event, producer=PRODUCER)
    if session.execute(_REMOVE, parameters).first() is None:
        session.rollback()
        return False
    staged(session)
    session.commit()
    return True


def page(
    session: Session, *, user_id: uuid.UUID, page: int, limit: int
) -> tuple[list[WatchEntry], int]:
    """One page of the user's history, most recently watched first."""
    total = session.scalar(
        select(func.count()).select_from(WatchEntry).where(col(WatchEntry.user_id) == user_id)
    )
    rows = session.scalars(
        select(WatchEntry)
        .where(col(WatchEntry.user_id) == user_id)
        .order_by(col(WatchEntry.watched_at).desc(), col(WatchEntry.movie_id).desc())
        .offset((page - 1) * limit)
        .limit(limit)
    ).all()
    return list(rows), int(total or 0)
