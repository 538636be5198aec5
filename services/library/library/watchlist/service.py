"""The watchlist: plain functions over a database session, no HTTP here. One row per user and
movie; adding twice changes nothing and announces nothing."""

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from library.events import PRODUCER
from library.watchlist.models import WatchlistEntry
from shared.db import utcnow
from shared.events import WatchlistAdded, WatchlistRemoved
from shared.outbox import add_event


def add(session: Session, *, user_id: uuid.UUID, movie_id: int) -> tuple[WatchlistEntry, bool]:
    """Put a movie on the watchlist; (the entry, True) if it is new, (the existing one, False)
    if it was there. One INSERT ... ON CONFLICT DO NOTHING decides, so concurrent adds give
    one row and one `watchlist.added`."""
    added_at = utcnow()
    inserted = session.execute(
        insert(WatchlistEntry)
        .values(user_id=user_id, movie_id=movie_id, added_at=added_at)
        .on_conflict_do_nothing()
        .returning(col(WatchlistEntry.added_at))
    ).first()
    if inserted is None:
        session.rollback()
        existing = session.get(WatchlistEntry, (user_id, movie_id))
        if existing is None:  # removed between the two statements: try once more
            return add(session, user_id=user_id, movie_id=movie_id)
        return existing, False
    add_event(
        session, WatchlistAdded(user_id=user_id, movie_id=movie_id, at=added_at), producer=PRODUCER
    )
    session.commit()
    return WatchlistEntry(user_id=user_id, movie_id=movie_id, added_at=added_at), True


def remove(session: Session, *, user_id: uuid.UUID, movie_id: int) -> bool:
    """Take a movie off the watchlist; False if it was not on it."""
    removed = session.scalar(
        delete(WatchlistEntry)
        .where(col(WatchlistEntry.user_id) == user_id, col(WatchlistEntry.movie_id) == movie_id)
        .returning(col(WatchlistEntry.movie_id))
    )
    if removed is None:
        session.rollback()
        return False
    add_event(
        session,
        WatchlistRemoved(user_id=user_id, movie_id=movie_id, at=utcnow()),
        producer=PRODUCER,
    )
    session.commit()
    return True


def page(
    session: Session, *, user_id: uuid.UUID, page: int, limit: int
) -> tuple[list[WatchlistEntry], int]:
    """One page of the user's watchlist, newest first, and how many are on it."""
    total = session.scalar(
        select(func.count())
        .select_from(WatchlistEntry)
        .where(col(WatchlistEntry.user_id) == user_id)
    )
    rows = session.scalars(
        select(WatchlistEntry)
        .where(col(WatchlistEntry.user_id) == user_id)
        .order_by(col(WatchlistEntry.added_at).desc(), col(WatchlistEntry.movie_id).desc())
        .offset((page - 1) * limit)
        .limit(limit)
    ).all()
    return list(rows), int(total or 0)
