"""The titles a user's calendar covers: their watchlist and favorites (the dates are the
catalog's)."""

import uuid

from sqlalchemy import select
from sqlmodel import Session, col

from library.favorites.models import Favorite
from library.watchlist.models import WatchlistEntry

MAX_TITLES = 1_000  # of each list, the newest, if a user keeps more


def watched_titles(session: Session, *, user_id: uuid.UUID) -> list[int]:
    try:
        titles: dict[int, None] = {}
        for table in (WatchlistEntry, Favorite):
            titles.update(
                dict.fromkeys(
                    session.scalars(
                        select(col(table.movie_id))
                        .where(col(table.user_id) == user_id)
                        .order_by(col(table.added_at).desc())
                        .limit(MAX_TITLES)
                    )
                )
            )
        return list(titles)
    finally:
        session.rollback()
