"""The watchlist: a user's set of movies (library/movie_set.py), apart from favorites, no
HTTP here. Adding twice changes nothing and announces nothing. Watching a title can take it
off (the user's preference, kept here as a setting)."""

import uuid
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from library.movie_set import MovieSet
from library.watchlist.models import WatchlistEntry, WatchlistSetting
from shared.events import WatchlistAdded, WatchlistRemoved

WATCHLIST = MovieSet(WatchlistEntry, WatchlistAdded, WatchlistRemoved)
add, remove, page = WATCHLIST.add, WATCHLIST.remove, WATCHLIST.page


def set_remove_when_watched(
    session: Session, *, user_id: uuid.UUID, enabled: bool, at: datetime
) -> None:
    """Record the preference (an older change arriving late changes nothing); not committed."""
    statement = insert(WatchlistSetting).values(
        user_id=user_id, remove_when_watched=enabled, changed_at=at
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id"],
            set_={"remove_when_watched": enabled, "changed_at": at},
            where=col(WatchlistSetting.changed_at) < statement.excluded.changed_at,
        )
    )


def watched(session: Session, *, user_id: uuid.UUID, movie_id: int) -> bool:
    """Take a title the user just watched off their watchlist if they asked for that, in the
    caller's transaction; True if it was taken off."""
    setting = session.get(WatchlistSetting, user_id)
    if setting is None or not setting.remove_when_watched:
        return False
    return WATCHLIST.discard(session, user_id=user_id, movie_id=movie_id)
