"""Rows of an import applied as the user's own entries, each with its ordinary event and its
original date, in the caller's transaction. Every write is idempotent: importing the same row
again changes nothing, and an imported rating never replaces a newer one made here."""

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlmodel import Session

from library.events import PRODUCER
from library.imports.models import ImportRow
from library.user_lists import service as user_lists
from library.user_lists.models import MAX_ITEMS_PER_LIST, ListItem
from shared.db import utcnow
from shared.events import FavoriteAdded, HistoryAdded, RatingSet, WatchlistAdded
from shared.outbox import add_event

# The score it replaced comes back with it (for the event); nothing when the row here is as
# new or newer.
_RATE = text(
    "WITH previous AS ("
    "  SELECT score FROM rating WHERE user_id = CAST(:user_id AS uuid) AND movie_id = :movie_id"
    "  FOR UPDATE"
    "), written AS ("
    "  INSERT INTO rating (user_id, movie_id, score, rated_at)"
    "  VALUES (CAST(:user_id AS uuid), :movie_id, :score, :at)"
    "  ON CONFLICT (user_id, movie_id) DO UPDATE SET score = EXCLUDED.score,"
    "    rated_at = EXCLUDED.rated_at WHERE rating.rated_at < EXCLUDED.rated_at"
    "  RETURNING movie_id"
    ") SELECT (SELECT score FROM previous) FROM written"
)
_WATCHED = text(
    "INSERT INTO watch_entry (user_id, movie_id, watched_at)"
    " VALUES (CAST(:user_id AS uuid), :movie_id, :at)"
    " ON CONFLICT (user_id, movie_id) DO UPDATE SET watched_at = EXCLUDED.watched_at"
    " WHERE watch_entry.watched_at < EXCLUDED.watched_at"
    " RETURNING (xmax = 0) AS inserted"
)
_KEPT = {
    "watchlist": text(
        "INSERT INTO watchlist_entry (user_id, movie_id, added_at)"
        " VALUES (CAST(:user_id AS uuid), :movie_id, :at) ON CONFLICT DO NOTHING RETURNING 1"
    ),
    "favorite": text(
        "INSERT INTO favorite (user_id, movie_id, added_at)"
        " VALUES (CAST(:user_id AS uuid), :movie_id, :at) ON CONFLICT DO NOTHING RETURNING 1"
    ),
}
_KEPT_EVENTS = {"watchlist": WatchlistAdded, "favorite": FavoriteAdded}
CREATED_KEY = {
    "rating": "ratings",
    "history": "history",
    "watchlist": "watchlist",
    "favorite": "favorites",
}


@dataclass
class Applied:
    """What a batch of rows created, by kind (ImportPublic.created), and rows it could not."""

    created: dict[str, int] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)  # seq -> why

    def count(self, key: str) -> None:
        self.created[key] = self.created.get(key, 0) + 1


def apply(session: Session, row: ImportRow, movie_id: int, applied: Applied) -> None:
    """One matched row, as an entry of the user's (not committed)."""
    at = row.at or utcnow()
    key = {"user_id": str(row.user_id), "movie_id": movie_id, "at": at}
    if row.kind == "rating" and row.score is not None:
        written = session.execute(_RATE, key | {"score": float(row.score)}).first()
        if written is not None:
            previous = float(written[0]) if written[0] is not None else None
            add_event(
                session,
                RatingSet(
                    user_id=row.user_id,
                    movie_id=movie_id,
                    score=float(row.score),
                    previous_score=previous,
                    at=at,
                ),
                producer=PRODUCER,
            )
            applied.count("ratings")
    elif row.kind == "history":
        written = session.execute(_WATCHED, key).first()
        if written is not None:
            add_event(
                session,
                HistoryAdded(user_id=row.user_id, movie_id=movie_id, watched_at=at),
                producer=PRODUCER,
            )
            if written[0]:
                applied.count("history")
    elif row.kind in _KEPT:
        if session.execute(_KEPT[row.kind], key).first() is not None:
            event = _KEPT_EVENTS[row.kind](user_id=row.user_id, movie_id=movie_id, at=at)
            add_event(session, event, producer=PRODUCER)
            applied.count(CREATED_KEY[row.kind])
    elif row.kind == "list":
        _listed(session, row, movie_id, applied)


def _listed(session: Session, row: ImportRow, movie_id: int, applied: Applied) -> None:
    listed, made = user_lists.named(
        session,
        user_id=row.user_id,
        name=row.list_name or "Imported",
        description=row.list_description,
    )
    if made:
        applied.count("lists")
    if listed is None:
        applied.refused[row.seq] = "You have as many lists as there can be"
        return
    if session.get(ListItem, (listed.id, movie_id)) is not None:
        return
    if listed.item_count >= MAX_ITEMS_PER_LIST:
        applied.refused[row.seq] = f"The list {listed.name!r} is full"
        return
    user_lists.insert_item(
        session, listed, movie_id=movie_id, note=row.note, position=None, added_at=row.at
    )
