"""Watch history: one entry per user and movie, the latest viewing kept."""

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from library.events import PRODUCER
from library.history.models import WatchEntry
from library.watchlist import service as watchlist_service
from shared.db import utcnow
from shared.events import HistoryAdded, HistoryRemoved
from shared.outbox import add_event


def add(
    session: Session, *, user_id: uuid.UUID, movie_id: int, watched_at: datetime | None
) -> WatchEntry:
    """Record a viewing (now, unless told when); a later viewing replaces an earlier one. The
    title leaves the watchlist in the same transaction when the user wants that."""
    when = watched_at or utcnow()
    statement = insert(WatchEntry).values(user_id=user_id, movie_id=movie_id, watched_at=when)
    stored = session.scalar(
        statement.on_conflict_do_update(
            index_elements=["user_id", "movie_id"],
            set_={
                "watched_at": func.greatest(
                    col(WatchEntry.watched_at), statement.excluded.watched_at
                )
            },
        ).returning(col(WatchEntry.watched_at))
    )
    add_event(
        session,
        HistoryAdded(user_id=user_id, movie_id=movie_id, watched_at=when),
        producer=PRODUCER,
    )
    watchlist_service.watched(session, user_id=user_id, movie_id=movie_id)
    session.commit()
    return WatchEntry(user_id=user_id, movie_id=movie_id, watched_at=stored or when)


def remove(session: Session, *, user_id: uuid.UUID, movie_id: int) -> bool:
    """Forget that the user watched a movie; False if it was not in their history."""
    removed = session.scalar(
        delete(WatchEntry)
        .where(col(WatchEntry.user_id) == user_id, col(WatchEntry.movie_id) == movie_id)
        .returning(col(WatchEntry.movie_id))
    )
    if removed is None:
        session.rollback()
        return False
    add_event(
        session, HistoryRemoved(user_id=user_id, movie_id=movie_id, at=utcnow()), producer=PRODUCER
    )
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
