"""Notifications: subscribers, fan-out, listing and read marking. No HTTP here.

Fan-out is set-based: one INSERT ... SELECT per event writes every subscriber's notification
(a refresh never costs a round trip per user), idempotent through a unique key on
(user, source event, type); each user keeps only their newest `history_per_user`.

A user's notifications become visible in the order of their seqs (`in_turn`), so a stream or
a resume that has seen one seq has seen every lower one of that user.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from notifications import webhooks
from notifications.models import (
    IMPORT_FINISHED,
    RECOMMENDATIONS_NEW,
    TRENDING_NEW,
    WEBHOOK_DISABLED,
    Notification,
    NotificationTurn,
    ReleaseAlert,
    Subscriber,
    TrendingRefresh,
    Watchlisted,
)
from shared.db import user_lock, utcnow
from shared.events import UserPreferences


@dataclass(frozen=True)
class Delivered:
    """A notification just written, for the live stream."""

    user_id: uuid.UUID
    seq: int
    payload: bytes
    notification_id: uuid.UUID


# A user's account against its deletion: a deletion (`forget`) takes the lock alone, and a
# write that would bring the user back (a subscription, preferences, a watchlist copy) takes it
# shared, then writes only if the account is not forgotten. An event that comes after the
# deletion, or while it runs, writes nothing.
HOLD_USER_SHARED = user_lock(7402, shared=True)
_HOLD_USER = user_lock(7402)
_FORGOTTEN_TURN = (
    "SELECT 1 FROM notification_turn WHERE user_id = :user_id AND forgotten_at IS NOT NULL"
)
NOT_FORGOTTEN = f"NOT EXISTS ({_FORGOTTEN_TURN})"
_FORGOTTEN = text(f"SELECT EXISTS ({_FORGOTTEN_TURN})")


def _forgotten(session: Session, user_id: uuid.UUID) -> bool:
    """Whether the account was deleted; holds it against a deletion until the transaction
    ends (the check runs after the lock is held, so it sees a deletion that just ended)."""
    session.execute(HOLD_USER_SHARED, {"user_id": user_id})
    return bool(session.execute(_FORGOTTEN, {"user_id": user_id}).scalar_one())


def subscribe(session: Session, *, user_id: uuid.UUID, at: datetime) -> None:
    """A new user, registered `at`: notified of everything until they say otherwise. Their
    preferences may have arrived first; then only the subscription time is set."""
    if _forgotten(session, user_id):
        return
    statement = insert(Subscriber).values(
        user_id=user_id,
        notify_trending=True,
        notify_recommendations=True,
        genres=[],
        updated_at=at,
        subscribed_at=at,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id"],
            set_={
                "subscribed_at": func.least(
                    col(Subscriber.subscribed_at), statement.excluded.subscribed_at
                )
            },
        )
    )


def update_preferences(
    session: Session, *, user_id: uuid.UUID, preferences: UserPreferences, at: datetime
) -> None:
    """Take the user's notify flags, genres, language, region and services; an older change
    arriving late changes nothing."""
    if _forgotten(session, user_id):
        return
    statement = insert(Subscriber).values(
        user_id=user_id,
        notify_trending=preferences.notify.trending,
        notify_recommendations=preferences.notify.recommendations,
        notify_releases=preferences.notify.releases,
        genres=list(preferences.genres),
        language=preferences.language,
        region=preferences.region,
        providers=sorted(set(preferences.providers)),
        updated_at=at,
        subscribed_at=at,  # a change comes after the registration; that one lowers it
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id"],
            set_={
                "notify_trending": statement.excluded.notify_trending,
                "notify_recommendations": statement.excluded.notify_recommendations,
                "notify_releases": statement.excluded.notify_releases,
                "genres": statement.excluded.genres,
                "language": statement.excluded.language,
                "region": statement.excluded.region,
                "providers": statement.excluded.providers,
                "updated_at": statement.excluded.updated_at,
            },
            where=col(Subscriber.updated_at) < statement.excluded.updated_at,
        )
    )


def trending_languages(session: Session) -> list[str]:
    """The languages of the subscribers who want trending notifications."""
    try:
        return list(
            session.scalars(
                select(col(Subscriber.language))
                .where(col(Subscriber.notify_trending), col(Subscriber.language).is_not(None))
                .distinct()
                .order_by(col(Subscriber.language))
            )
        )
    finally:
        session.rollback()


def _describe(movies: list[dict[str, Any]], suffix: str) -> str:
    titles = [m["title"] for m in movies if m.get("title")]
    if not titles:
        return suffix.capitalize()
    if len(titles) == 1:
        return f"{titles[0]} {suffix}"
    if len(titles) == 2:
        return f"{titles[0]} and {titles[1]} {suffix}"
    return f"{titles[0]}, {titles[1]} and {len(titles) - 2} more {suffix}"


RETURNING = "RETURNING user_id, seq, id, type, title, body, movie_ids, created_at, read_at"


def in_turn(users: str) -> str:
    """A `turn` CTE (`user_id`) over the users of `users` (a CTE with a `user_id` column, one
    row per user) that waits for each user's turn to be given notifications: their row of
    `notification_turn`, locked until the transaction ends, taken in user order (two
    transactions never wait on each other in a circle over one statement's users).

    A notification's seq is drawn when its row is formed, and an INSERT that joins `turn`
    forms a user's row only after taking their turn: a second transaction writing to a user
    draws its seqs after the first has committed or rolled back. Without this, a lower seq
    could commit after a higher one, and a stream that had sent the higher one would never
    send it.

    A deleted account's turn is never given (`forget`): its user is left out of `turn`, so
    nothing is written for them, even by a fan-out that read them as a subscriber before the
    deletion committed."""
    return (
        "turn AS ("
        "  INSERT INTO notification_turn (user_id)"
        f"  SELECT user_id FROM {users} ORDER BY user_id"
        "  ON CONFLICT (user_id) DO UPDATE SET user_id = excluded.user_id"
        "  WHERE notification_turn.forgotten_at IS NULL"
        "  RETURNING user_id"
        ")"
    )


TRENDING_CATCH_UP = timedelta(days=1)


def remember_refresh(
    session: Session, *, event_id: uuid.UUID, refreshed_at: datetime, movies: list[dict[str, Any]]
) -> None:
    """Keep a refresh's new titles a day, for subscribers this service learns of later."""
    session.execute(
        insert(TrendingRefresh)
        .values(event_id=event_id, refreshed_at=refreshed_at, movies=movies)
        .on_conflict_do_nothing()
    )
    session.execute(
        delete(TrendingRefresh).where(
            col(TrendingRefresh.refreshed_at) < utcnow() - TRENDING_CATCH_UP
        )
    )


def catch_up(session: Session, *, user_id: uuid.UUID, keep: int) -> list[Delivered]:
    """The notifications of refreshes since the user subscribed that reached this service
    before their registration did (the two travel on different producers' outboxes)."""
    delivered: list[Delivered] = []
    refreshes = session.scalars(
        select(TrendingRefresh)
        .join(Subscriber, col(Subscriber.user_id) == user_id)
        .where(col(TrendingRefresh.refreshed_at) >= col(Subscriber.subscribed_at))
        .order_by(col(TrendingRefresh.refreshed_at))
    ).all()
    for refresh in refreshes:
        delivered += fan_out_trending(
            session,
            event_id=refresh.event_id,
            refreshed_at=refresh.refreshed_at,
            movies=list(refresh.movies),
            keep=keep,
            user_id=user_id,
        )
    return delivered


def fan_out_trending(
    session: Session,
    *,
    event_id: uuid.UUID,
    refreshed_at: datetime,
    movies: list[dict[str, Any]],
    keep: int,
    user_id: uuid.UUID | None = None,
) -> list[Delivered]:
    """One trending.new notification per interested subscriber who had subscribed by the
    refresh (or for `user_id` alone), naming the new titles in their preferred genres (all of
    them for subscribers with no preferred genres); a single statement for every subscriber.
    Each movie may carry `titles`, its title by language: a subscriber reads their language's
    one where it is there, else `title`."""
    if not movies:
        return []
    rows = session.execute(
        text(
            "WITH new_movie AS ("
            "  SELECT * FROM jsonb_to_recordset(CAST(:movies AS jsonb))"
            "  AS m(id int, title text, titles jsonb, genre_ids int[], position int)"
            "), picked AS ("
            "  SELECT s.user_id, array_agg(m.id ORDER BY m.position) AS ids,"
            "         array_agg(coalesce(m.titles ->> s.language, m.title) ORDER BY m.position)"
            "           AS titles"
            "  FROM subscriber s JOIN new_movie m"
            "    ON cardinality(s.genres) = 0 OR s.genres && m.genre_ids"
            "  WHERE s.notify_trending AND s.subscribed_at <= :refreshed_at"
            "    AND (CAST(:user_id AS uuid) IS NULL OR s.user_id = CAST(:user_id AS uuid))"
            "  GROUP BY s.user_id"
            "), " + in_turn("picked") + " "
            "INSERT INTO notification"
            " (id, user_id, type, title, body, movie_ids, created_at, source_event_id) "
            "SELECT gen_random_uuid(), user_id, :type, :title, "
            "  CASE cardinality(titles)"
            "    WHEN 1 THEN titles[1] || :suffix"
            "    WHEN 2 THEN titles[1] || ' and ' || titles[2] || :suffix"
            "    ELSE titles[1] || ', ' || titles[2] || ' and '"
            "         || (cardinality(titles) - 2) || ' more' || :suffix"
            "  END, ids, now(), :event_id FROM picked JOIN turn USING (user_id) "
            "ON CONFLICT (user_id, source_event_id, type) DO NOTHING " + RETURNING
        ),
        {
            "type": TRENDING_NEW,
            "title": "New in trending",
            "event_id": event_id,
            "refreshed_at": refreshed_at,
            "user_id": str(user_id) if user_id else None,
            "suffix": " entered trending this week",
            "movies": orjson.dumps(
                [
                    {
                        "id": m["id"],
                        "title": m.get("title") or f"Movie {m['id']}",
                        "titles": m.get("titles") or {},
                        "genre_ids": m.get("genre_ids") or [],
                        "position": i,
                    }
                    for i, m in enumerate(movies)
                ]
            ).decode(),
        },
    ).all()
    delivered = [delivered_row(row) for row in rows]
    prune(session, user_ids=[d.user_id for d in delivered], keep=keep)
    return delivered


def notify_recommendations(
    session: Session,
    *,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    movies: list[dict[str, Any]],
    keep: int,
) -> list[Delivered]:
    """A recommendations.new notification, if the user wants them."""
    if not movies:
        return []
    body = _describe(movies, "joined your recommendations")
    rows = session.execute(
        text(
            "WITH wanted AS ("
            "  SELECT user_id FROM subscriber"
            "  WHERE user_id = :user_id AND notify_recommendations"
            "), " + in_turn("wanted") + " "
            "INSERT INTO notification"
            " (id, user_id, type, title, body, movie_ids, created_at, source_event_id) "
            "SELECT gen_random_uuid(), user_id, :type, :title, :body,"
            " CAST(:movie_ids AS int[]), now(), :event_id FROM turn "
            "ON CONFLICT (user_id, source_event_id, type) DO NOTHING " + RETURNING
        ),
        {
            "type": RECOMMENDATIONS_NEW,
            "title": "New picks for you",
            "body": body,
            "event_id": event_id,
            "movie_ids": [m["id"] for m in movies],
            "user_id": user_id,
        },
    ).all()
    delivered = [delivered_row(row) for row in rows]
    prune(session, user_ids=[user_id], keep=keep)
    return delivered


_SOURCES = {"letterboxd": "Letterboxd", "imdb": "IMDb", "trakt": "Trakt"}


def import_finished(
    session: Session,
    *,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    source: str,
    succeeded: bool,
    matched: int,
    unmatched: int,
    keep: int,
) -> list[Delivered]:
    """The end of the user's import (whatever their notify flags: they asked for it)."""
    name = _SOURCES.get(source, source)
    if succeeded:
        body = f"{matched} brought over" + (
            f", {unmatched} not found: see the import's report" if unmatched else ""
        )
    else:
        body = "It could not finish: see the import's report"
    title = f"Your {name} import is {'done' if succeeded else 'stopped'}"
    return _one(
        session, user_id=user_id, type_=IMPORT_FINISHED, title=title, body=body,
        source_id=event_id, keep=keep,
    )  # fmt: skip


def webhook_disabled(
    session: Session, *, user_id: uuid.UUID, webhook_id: uuid.UUID, url: str, keep: int
) -> list[Delivered]:
    """Tell the owner their webhook was disabled (every delivery failed for three days)."""
    delivered = _one(
        session,
        user_id=user_id,
        type_=WEBHOOK_DISABLED,
        title="A webhook was turned off",
        body=f"Nothing reached {url[:200]} for three days; add it again when it is back",
        source_id=webhook_id,
        keep=keep,
    )
    session.commit()
    return delivered


_ONE = text(
    "WITH named AS (SELECT CAST(:user_id AS uuid) AS user_id), " + in_turn("named") + " "
    "INSERT INTO notification"
    " (id, user_id, type, title, body, movie_ids, created_at, source_event_id) "
    "SELECT gen_random_uuid(), user_id, :type, :title, :body, '{}', now(), :source_id "
    "FROM turn "
    "ON CONFLICT (user_id, source_event_id, type) DO NOTHING " + RETURNING
)


def _one(
    session: Session,
    *,
    user_id: uuid.UUID,
    type_: str,
    title: str,
    body: str,
    source_id: uuid.UUID,
    keep: int,
) -> list[Delivered]:
    """One notification for one user about no title, once per source (whatever their notify
    flags: these are about something they did)."""
    rows = session.execute(
        _ONE,
        {"user_id": user_id, "type": type_, "title": title, "body": body, "source_id": source_id},
    ).all()
    prune(session, user_ids=[user_id], keep=keep)
    return [delivered_row(row) for row in rows]


def delivered_row(row: Any) -> Delivered:
    public = {
        "id": str(row.id),
        "type": row.type,
        "title": row.title,
        "body": row.body,
        "movie_ids": list(row.movie_ids),
        "created_at": row.created_at.isoformat(),
        "read_at": None,
    }
    return Delivered(
        user_id=row.user_id, seq=int(row.seq), payload=orjson.dumps(public), notification_id=row.id
    )


def prune(session: Session, *, user_ids: list[uuid.UUID], keep: int) -> None:
    if not user_ids:
        return
    session.execute(
        text(
            "DELETE FROM notification n USING ("
            "  SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY seq DESC) AS position"
            "  FROM notification WHERE user_id = ANY(:user_ids)"
            ") old WHERE n.id = old.id AND old.position > :keep"
        ),
        {"user_ids": user_ids, "keep": keep},
    )


def page(
    session: Session, *, user_id: uuid.UUID, unread_only: bool, page: int, limit: int
) -> tuple[list[Notification], int]:
    """One page of the user's notifications, newest first."""
    mine = col(Notification.user_id) == user_id
    conditions = [mine, col(Notification.read_at).is_(None)] if unread_only else [mine]
    total = session.scalar(select(func.count()).select_from(Notification).where(*conditions))
    rows = session.scalars(
        select(Notification)
        .where(*conditions)
        .order_by(col(Notification.seq).desc())
        .offset((page - 1) * limit)
        .limit(limit)
    ).all()
    return list(rows), int(total or 0)


def newest_seq(session: Session, *, user_id: uuid.UUID) -> int:
    """The user's last notification's seq (0 if none): where a new stream starts."""
    found = session.scalar(
        select(func.max(col(Notification.seq))).where(col(Notification.user_id) == user_id)
    )
    return int(found or 0)


def since(
    session: Session, *, user_id: uuid.UUID, after_seq: int, limit: int = 200
) -> list[Notification]:
    """What the user missed after `after_seq`, oldest first (for a reconnecting stream)."""
    return list(
        session.scalars(
            select(Notification)
            .where(col(Notification.user_id) == user_id, col(Notification.seq) > after_seq)
            .order_by(col(Notification.seq))
            .limit(limit)
        )
    )


def mark_read(session: Session, *, user_id: uuid.UUID, notification_id: uuid.UUID) -> bool:
    """Mark one of the user's notifications read; False if it is not theirs or unknown."""
    found = session.execute(
        update(Notification)
        .where(col(Notification.id) == notification_id, col(Notification.user_id) == user_id)
        .values(read_at=func.coalesce(col(Notification.read_at), utcnow()))
        .returning(col(Notification.id))
    ).first()
    session.commit()
    return found is not None


def mark_all_read(session: Session, *, user_id: uuid.UUID) -> None:
    session.execute(
        update(Notification)
        .where(col(Notification.user_id) == user_id, col(Notification.read_at).is_(None))
        .values(read_at=utcnow())
    )
    session.commit()


def everything(session: Session, *, user_id: uuid.UUID) -> list[Notification]:
    """All of the user's notifications, oldest first (for an export)."""
    try:
        return list(
            session.scalars(
                select(Notification)
                .where(col(Notification.user_id) == user_id)
                .order_by(col(Notification.seq))
            ).all()
        )
    finally:
        session.rollback()


def forget(session: Session, *, user_id: uuid.UUID) -> None:
    """A deleted account's notifications and subscription go (in the caller's transaction).
    Its turn is taken first and kept, marked forgotten: a transaction writing to the user
    just now is waited for (and what it wrote goes too), and none is written after."""
    session.execute(_HOLD_USER, {"user_id": user_id})
    statement = insert(NotificationTurn).values(user_id=user_id, forgotten_at=utcnow())
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id"],
            set_={"forgotten_at": func.coalesce(
                col(NotificationTurn.forgotten_at), statement.excluded.forgotten_at
            )},
        )
    )  # fmt: skip
    session.execute(delete(Notification).where(col(Notification.user_id) == user_id))
    session.execute(delete(Subscriber).where(col(Subscriber.user_id) == user_id))
    session.execute(delete(Watchlisted).where(col(Watchlisted.user_id) == user_id))
    session.execute(delete(ReleaseAlert).where(col(ReleaseAlert.user_id) == user_id))
    webhooks.forget(session, user_id=user_id)
