"""Ratings, reviews and watch history on the real PostgreSQL, with their events."""

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from library.history import service as history
from library.ratings import service as ratings
from library.reviews import service as reviews
from library.reviews.models import ReviewUpdate, UserDirectoryEntry

pytestmark = pytest.mark.usefixtures("clean_favorites_db")


def _events(engine: Engine) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT type, content FROM outbox_event ORDER BY id"))
        return [(row[0], json.loads(bytes(row[1]))["data"]) for row in rows]


def test_rating_events_carry_the_replaced_score(favorites_engine: Engine) -> None:
    user = uuid.uuid4()
    with Session(favorites_engine) as session:
        ratings.rate(session, user_id=user, movie_id=5, score=7.5)
        ratings.rate(session, user_id=user, movie_id=5, score=9.0)
        assert ratings.unrate(session, user_id=user, movie_id=5)
        assert not ratings.unrate(session, user_id=user, movie_id=5)
    events = _events(favorites_engine)
    assert [t for t, _ in events] == ["rating.set", "rating.set", "rating.removed"]
    assert (events[0][1]["previous_score"], events[1][1]["previous_score"]) == (None, 7.5)
    assert events[2][1]["score"] == 9.0


def test_one_review_per_user_and_movie_and_only_the_author_edits(favorites_engine: Engine) -> None:
    author, other = uuid.uuid4(), uuid.uuid4()
    with Session(favorites_engine) as session:
        session.add(
            UserDirectoryEntry(user_id=author, display_name="Ann", updated_at=datetime.now(UTC))
        )
        session.commit()
        created = reviews.create(session, user_id=author, movie_id=3, body="Good", score=None)
        assert created.author_name == "Ann"
        with pytest.raises(reviews.AlreadyReviewed):
            reviews.create(session, user_id=author, movie_id=3, body="Again", score=7)
        with pytest.raises(reviews.NotTheAuthor):
            reviews.update(
                session, review_id=created.review.id, user_id=other, changes=ReviewUpdate(body="x")
            )
        with pytest.raises(reviews.NotTheAuthor):
            reviews.delete(session, review_id=created.review.id, user_id=other)
        edited = reviews.update(
            session, review_id=created.review.id, user_id=author, changes=ReviewUpdate(score=8)
        )
        assert (
            edited is not None
            and edited.review.body == "Good"
            and float(edited.review.score or 0) == 8
        )
        listed, total = reviews.page(session, movie_id=3, page=1, limit=10)
        assert total == 1 and listed[0].author_name == "Ann"
        assert reviews.delete(session, review_id=created.review.id, user_id=author)
        assert (
            reviews.update(
                session, review_id=created.review.id, user_id=author, changes=ReviewUpdate()
            )
            is None
        )
    assert [t for t, _ in _events(favorites_engine)] == ["review.created", "review.deleted"]


def test_history_keeps_the_latest_viewing(favorites_engine: Engine) -> None:
    user = uuid.uuid4()
    later = datetime(2024, 5, 1, tzinfo=UTC)
    with Session(favorites_engine) as session:
        history.add(session, user_id=user, movie_id=8, watched_at=later)
        entry = history.add(
            session, user_id=user, movie_id=8, watched_at=later - timedelta(days=30)
        )
        assert entry.watched_at == later
        rows, total = history.page(session, user_id=user, page=1, limit=10)
        assert total == 1 and rows[0].watched_at == later
        assert history.remove(session, user_id=user, movie_id=8)
        assert not history.remove(session, user_id=user, movie_id=8)
    assert [t for t, _ in _events(favorites_engine)] == [
        "history.added",
        "history.added",
        "history.removed",
    ]


def test_a_rating_change_waiting_for_another_is_dated_after_it(favorites_engine: Engine) -> None:
    """Two changes of one rating at once: the one that commits last carries the later time
    (it used to take its time before waiting for the row, so the taste profile, which keeps
    the newest, could keep the score the library had already replaced)."""
    user = uuid.uuid4()
    with Session(favorites_engine) as session:
        ratings.rate(session, user_id=user, movie_id=6, score=5.0)
    holder = favorites_engine.connect()
    transaction = holder.begin()
    holder.execute(
        text("SELECT 1 FROM rating WHERE user_id = :u AND movie_id = 6 FOR UPDATE"), {"u": user}
    )
    waiting = threading.Thread(target=_rate, args=(favorites_engine, user, 8.0))
    waiting.start()
    time.sleep(0.3)  # the change above is now waiting for the row
    holder.execute(
        text("UPDATE rating SET score = 6.0, rated_at = now() WHERE user_id = :u AND movie_id = 6"),
        {"u": user},
    )
    held_until = datetime.now(UTC)
    transaction.commit()
    holder.close()
    waiting.join()
    last = _events(favorites_engine)[-1][1]
    assert last["score"] == 8.0 and last["previous_score"] == 6.0
    assert datetime.fromisoformat(last["at"]) >= held_until


def _rate(engine: Engine, user: uuid.UUID, score: float) -> None:
    with Session(engine) as session:
        ratings.rate(session, user_id=user, movie_id=6, score=score)
