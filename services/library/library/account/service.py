"""One user's whole library: a title's state in one read, the export of everything, and the
removal of everything when the account is deleted. No HTTP here."""

import uuid
from typing import Any

from sqlalchemy import delete, select, text
from sqlmodel import Session, col

from library.account.models import TitleState
from library.events import PRODUCER
from library.favorites.models import Favorite
from library.favorites.service import FAVORITES
from library.history.models import WatchEntry
from library.imports import service as imports
from library.movie_set import MovieSet
from library.not_interested.models import NotInterestedEntry
from library.not_interested.service import NOT_INTERESTED
from library.ratings.models import Rating
from library.reviews.models import Review, UserDirectoryEntry
from library.user_lists import service as user_lists
from library.user_lists.models import ListItem, UserList
from library.watchlist.models import WatchlistEntry, WatchlistSetting
from library.watchlist.service import WATCHLIST
from shared.account_export import (
    ImportExport,
    LibraryExport,
    ListedExport,
    ListExport,
    ListItemExport,
    RatingExport,
    ReviewExport,
    WatchExport,
)
from shared.db import user_lock, utcnow
from shared.events import RatingRemoved, ReviewDeleted
from shared.outbox import add_event


def title_state(session: Session, *, user_id: uuid.UUID, movie_id: int) -> TitleState:
    """Everything the user has of one title, read in one transaction."""
    try:
        key = (user_id, movie_id)
        rating = session.get(Rating, key)
        watch = session.get(WatchEntry, key)
        review_id = session.scalar(
            select(col(Review.id)).where(
                col(Review.user_id) == user_id, col(Review.movie_id) == movie_id
            )
        )
        return TitleState(
            movie_id=movie_id,
            favorite=session.get(Favorite, key) is not None,
            on_watchlist=session.get(WatchlistEntry, key) is not None,
            rating=float(rating.score) if rating else None,
            watched_at=watch.watched_at if watch else None,
            review_id=review_id,
            not_interested=session.get(NotInterestedEntry, key) is not None,
            list_ids=user_lists.lists_holding(session, user_id=user_id, movie_id=movie_id),
        )
    finally:
        session.rollback()


def export(session: Session, *, user_id: uuid.UUID) -> LibraryExport:
    """Everything the library holds of the user."""
    try:

        def listed(movie_set: MovieSet[Any]) -> list[ListedExport]:
            rows = movie_set.everything(session, user_id=user_id)
            return [ListedExport(movie_id=row.movie_id, added_at=row.added_at) for row in rows]

        ratings = session.scalars(
            select(Rating).where(col(Rating.user_id) == user_id).order_by(col(Rating.rated_at))
        ).all()
        reviews = session.scalars(
            select(Review).where(col(Review.user_id) == user_id).order_by(col(Review.created_at))
        ).all()
        history = session.scalars(
            select(WatchEntry)
            .where(col(WatchEntry.user_id) == user_id)
            .order_by(col(WatchEntry.watched_at))
        ).all()
        return LibraryExport(
            favorites=listed(FAVORITES),
            watchlist=listed(WATCHLIST),
            not_interested=listed(NOT_INTERESTED),
            ratings=[
                RatingExport(movie_id=r.movie_id, score=float(r.score), rated_at=r.rated_at)
                for r in ratings
            ],
            reviews=[
                ReviewExport(
                    id=r.id,
                    movie_id=r.movie_id,
                    body=r.body,
                    score=float(r.score) if r.score is not None else None,
                    created_at=r.created_at,
                    updated_at=r.updated_at,
                )
                for r in reviews
            ],
            history=[WatchExport(movie_id=w.movie_id, watched_at=w.watched_at) for w in history],
            lists=_lists(session, user_id=user_id),
            imports=[
                ImportExport.model_validate(job.model_dump())
                for job in imports.everything(session, user_id=user_id)
            ],
        )
    finally:
        session.rollback()


def _lists(session: Session, *, user_id: uuid.UUID) -> list[ListExport]:
    rows = session.scalars(
        select(UserList).where(col(UserList.user_id) == user_id).order_by(col(UserList.created_at))
    ).all()
    items = session.scalars(
        select(ListItem).where(col(ListItem.user_id) == user_id).order_by(col(ListItem.position))
    ).all()
    by_list: dict[uuid.UUID, list[ListItemExport]] = {row.id: [] for row in rows}
    for item in items:
        by_list[item.list_id].append(
            ListItemExport(
                movie_id=item.movie_id,
                position=item.position,
                note=item.note,
                added_at=item.added_at,
            )
        )
    return [
        ListExport(
            id=row.id,
            name=row.name,
            description=row.description,
            public=row.public,
            created_at=row.created_at,
            updated_at=row.updated_at,
            items=by_list[row.id],
        )
        for row in rows
    ]


_HOLD_USER = user_lock(7401)  # the tombstone trigger takes it shared (migration 0006)
_TOMBSTONE = text(
    "INSERT INTO forgotten_user (user_id, forgotten_at) "
    "VALUES (CAST(:user_id AS uuid), :at) ON CONFLICT DO NOTHING"
)


def forget(session: Session, *, user_id: uuid.UUID) -> None:
    """Remove everything the user holds, in the caller's transaction. Ratings and reviews
    leave with their own events, so what others derived from them (community ratings) follows;
    the rest goes with the account's own event, which every consumer also takes.

    The user stays deleted: this waits for writes for them already under way (they hold the
    user's lock shared, taken by a trigger, migration 0006) and removes what they wrote, and
    the tombstone it leaves makes the trigger refuse any later write for them."""
    now = utcnow()
    session.execute(_HOLD_USER, {"user_id": str(user_id)})
    session.execute(_TOMBSTONE, {"user_id": str(user_id), "at": now})
    removed_ratings = session.execute(
        delete(Rating)
        .where(col(Rating.user_id) == user_id)
        .returning(col(Rating.movie_id), col(Rating.score))
    ).all()
    for movie_id, score in removed_ratings:
        add_event(
            session,
            RatingRemoved(user_id=user_id, movie_id=movie_id, score=float(score), at=now),
            producer=PRODUCER,
        )
    removed_reviews = session.execute(
        delete(Review)
        .where(col(Review.user_id) == user_id)
        .returning(col(Review.id), col(Review.movie_id))
    ).all()
    for review_id, movie_id in removed_reviews:
        add_event(
            session,
            ReviewDeleted(review_id=review_id, user_id=user_id, movie_id=movie_id, at=now),
            producer=PRODUCER,
        )
    user_lists.forget(session, user_id=user_id)
    imports.forget(session, user_id=user_id)
    for table in (
        Favorite,
        WatchlistEntry,
        NotInterestedEntry,
        WatchEntry,
        WatchlistSetting,
        UserDirectoryEntry,
    ):
        session.execute(delete(table).where(col(table.user_id) == user_id))  # type: ignore[attr-defined]
