"""Release alerts: the titles on subscribers' watchlists (a copy kept from the library's
events) and the fan-out of the catalog's `catalog.release.available` to the users waiting for
that title, one set-based statement per event.

A user is alerted once per title and kind (`release_alert`), if they want release alerts, live
in the event's region (no region: the catalog's default, US), had the title on their watchlist
before the catalog saw it become available, and, for streaming, have that service among their
providers.
"""

import uuid
from datetime import datetime

import orjson
from sqlalchemy import text
from sqlmodel import Session

from notifications.models import RELEASE_AVAILABLE
from notifications.service import (
    HOLD_USER_SHARED,
    NOT_FORGOTTEN,
    RETURNING,
    Delivered,
    delivered_row,
    in_turn,
    prune,
)
from shared.inbox import execute_later

DEFAULT_REGION = "US"
HEADINGS = {"theatrical": "Out now", "digital": "Out now", "streaming": "Now streaming"}


# Plain SQL built once: every watchlist change in the system passes through here (built with
# the ORM's insert() and delete() per event, these cost more than running them).
_WATCHLISTED = text(
    "INSERT INTO watchlisted (user_id, movie_id, added_at) "
    "SELECT :user_id, :movie_id, :at WHERE " + NOT_FORGOTTEN + " "
    "ON CONFLICT (user_id, movie_id) DO UPDATE SET added_at = excluded.added_at"
)
_UNWATCHLISTED = text(
    "DELETE FROM watchlisted WHERE user_id = :user_id AND movie_id = :movie_id AND added_at <= :at"
)


def watchlisted(session: Session, *, user_id: uuid.UUID, movie_id: int, at: datetime) -> None:
    """The title is on the user's watchlist (unless the account was deleted)."""
    execute_later(session, HOLD_USER_SHARED, {"user_id": user_id})
    execute_later(session, _WATCHLISTED, {"user_id": user_id, "movie_id": movie_id, "at": at})


def unwatchlisted(session: Session, *, user_id: uuid.UUID, movie_id: int, at: datetime) -> None:
    """The title left the watchlist (unless it was added again after `at`)."""
    execute_later(session, _UNWATCHLISTED, {"user_id": user_id, "movie_id": movie_id, "at": at})


def waiting_languages(session: Session, *, movie_id: int) -> list[str]:
    """The languages of the subscribers with the title on their watchlist."""
    try:
        return list(
            session.scalars(
                text(
                    "SELECT DISTINCT s.language FROM watchlisted w"
                    " JOIN subscriber s ON s.user_id = w.user_id"
                    " WHERE w.movie_id = :movie_id AND s.notify_releases"
                    " AND s.language IS NOT NULL ORDER BY 1"
                ),
                {"movie_id": movie_id},
            )
        )
    finally:
        session.rollback()


_FAN_OUT = text(
    "WITH due AS ("
    "  SELECT s.user_id, coalesce(CAST(:titles AS jsonb) ->> s.language, :title) AS title"
    "  FROM watchlisted w JOIN subscriber s ON s.user_id = w.user_id"
    "  WHERE w.movie_id = :movie_id AND s.notify_releases"
    "    AND coalesce(s.region, :default_region) = :region"
    "    AND w.added_at < :observed_at"
    "    AND (:kind <> 'streaming' OR CAST(:provider_id AS int) = ANY(s.providers))"
    "), alerted AS ("
    "  INSERT INTO release_alert (user_id, movie_id, kind, created_at)"
    "  SELECT user_id, :movie_id, :kind, now() FROM due"
    "  ON CONFLICT DO NOTHING RETURNING user_id"
    "), " + in_turn("alerted") + " "
    "INSERT INTO notification"
    " (id, user_id, type, title, body, movie_ids, created_at, source_event_id) "
    "SELECT gen_random_uuid(), due.user_id, :type, :heading, due.title || :suffix,"
    " ARRAY[CAST(:movie_id AS int)], now(), :event_id"
    " FROM turn JOIN due ON due.user_id = turn.user_id "
    "ON CONFLICT (user_id, source_event_id, type) DO NOTHING " + RETURNING
)


def fan_out(
    session: Session,
    *,
    event_id: uuid.UUID,
    movie_id: int,
    title: str,
    titles: dict[str, str],
    region: str,
    kind: str,
    provider_id: int | None,
    provider_name: str | None,
    observed_at: datetime,
    keep: int,
) -> list[Delivered]:
    """A `release.available` notification for each user waiting for this title here."""
    rows = session.execute(
        _FAN_OUT,
        {
            "event_id": event_id,
            "movie_id": movie_id,
            "title": title,
            "titles": orjson.dumps(titles).decode(),
            "default_region": DEFAULT_REGION,
            "region": region,
            "kind": kind,
            "provider_id": provider_id,
            "observed_at": observed_at,
            "type": RELEASE_AVAILABLE,
            "heading": HEADINGS[kind],
            "suffix": _suffix(kind, provider_name),
        },
    ).all()
    delivered = [delivered_row(row) for row in rows]
    prune(session, user_ids=[d.user_id for d in delivered], keep=keep)
    return delivered


def _suffix(kind: str, provider_name: str | None) -> str:
    if kind == "theatrical":
        return " is out in cinemas"
    if kind == "digital":
        return " is out to rent or buy"
    return f" is now on {provider_name or 'one of your services'}"
