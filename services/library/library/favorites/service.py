"""Favorites: plain functions over a database session, no HTTP here.

`add_favorite` and `remove_favorite` are the write path: the transaction (`add`, `remove`),
then, once it is committed and before the caller answers, the user's cached pages dropped, so
no write can leave a page showing the list before it."""

import uuid
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool

from library.events import PRODUCER
from library.favorites.models import Favorite
from shared.db import utcnow
from shared.events import FavoriteAdded, FavoriteRemoved
from shared.outbox import add_event
from shared.pagecache import UserPageCache


class FavoriteRow(NamedTuple):
    """A listed favorite: plain values, cheaper than ORM objects for a page of them."""

    movie_id: int
    added_at: datetime


def get(session: Session, *, user_id: uuid.UUID, movie_id: int) -> Favorite | None:
    """The user's favorite for this movie."""
    return session.get(Favorite, (user_id, movie_id))


def add(session: Session, *, user_id: uuid.UUID, movie_id: int) -> tuple[Favorite, bool]:
    """Add a favorite; (the favorite, True) if it is new, (the existing one, False) if not.

    One INSERT ... ON CONFLICT DO NOTHING decides, so concurrent adds give exactly one row
    and exactly one `favorite.added` event.
    """
    added_at = utcnow()
    inserted = session.execute(
        insert(Favorite)
        .values(user_id=user_id, movie_id=movie_id, added_at=added_at)
        .on_conflict_do_nothing()
        .returning(col(Favorite.added_at))
    ).first()
    if inserted is None:
        session.rollback()
        existing = get(session, user_id=user_id, movie_id=movie_id)
        if existing is None:  # removed between the two statements: try once more
            return add(session, user_id=user_id, movie_id=movie_id)
        return existing, False
    add_event(
        session, FavoriteAdded(user_id=user_id, movie_id=movie_id, at=added_at), producer=PRODUCER
    )
    session.commit()
    return Favorite(user_id=user_id, movie_id=movie_id, added_at=added_at), True


def remove(session: Session, *, user_id: uuid.UUID, movie_id: int) -> bool:
    """Remove a favorite; False if it was not one."""
    removed = session.execute(
        delete(Favorite)
        .where(col(Favorite.user_id) == user_id, col(Favorite.movie_id) == movie_id)
        .returning(col(Favorite.movie_id))
    ).first()
    if removed is None:
        session.rollback()
        return False
    add_event(
        session, FavoriteRemoved(user_id=user_id, movie_id=movie_id, at=utcnow()), producer=PRODUCER
    )
    session.commit()
    return True


async def add_favorite(
    session: Session, pages: UserPageCache, *, user_id: uuid.UUID, movie_id: int
) -> tuple[Favorite, bool]:
    favorite, created = await run_in_threadpool(add, session, user_id=user_id, movie_id=movie_id)
    if created:
        await pages.changed(user_id)
    return favorite, created


async def remove_favorite(
    session: Session, pages: UserPageCache, *, user_id: uuid.UUID, movie_id: int
) -> bool:
    removed = await run_in_threadpool(remove, session, user_id=user_id, movie_id=movie_id)
    if removed:
        await pages.changed(user_id)
    return removed


def page(
    session: Session, *, user_id: uuid.UUID, page: int, limit: int
) -> tuple[list[FavoriteRow], int]:
    """One page of the user's favorites, newest first, and how many there are in all.

    One query carries both (a window count); only a page past the end needs a second. The
    transaction is ended here so the connection goes back to the pool before the caller
    waits on the catalog (held across that wait, it starved the pool under load)."""
    try:
        found = session.execute(
            select(col(Favorite.movie_id), col(Favorite.added_at), func.count().over())
            .where(col(Favorite.user_id) == user_id)
            .order_by(col(Favorite.added_at).desc(), col(Favorite.movie_id).desc())
            .offset((page - 1) * limit)
            .limit(limit)
        ).all()
        if found:
            rows = [FavoriteRow(row[0], row[1]) for row in found]
            return rows, int(found[0][2])
        total = session.scalar(
            select(func.count()).select_from(Favorite).where(col(Favorite.user_id) == user_id)
        )
        return [], int(total or 0)
    finally:
        session.rollback()
