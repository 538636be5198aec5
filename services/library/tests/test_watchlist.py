"""The watchlist on the real PostgreSQL: one row and one event per real change, even under
races."""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from library.watchlist import service as watchlist

pytestmark = pytest.mark.usefixtures("clean_favorites_db")


def _event_types(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT type, content FROM outbox_event ORDER BY id"))
        return [(row[0], json.loads(bytes(row[1]))["data"]["movie_id"]) for row in rows]


def test_adding_twice_keeps_one_entry_and_announces_once(favorites_engine: Engine) -> None:
    user = uuid.uuid4()
    with Session(favorites_engine) as session:
        first, created = watchlist.add(session, user_id=user, movie_id=12)
        again, created_again = watchlist.add(session, user_id=user, movie_id=12)
    assert (created, created_again) == (True, False) and again.added_at == first.added_at
    assert _event_types(favorites_engine) == [("watchlist.added", 12)]


def test_twenty_concurrent_adds_make_one_row_and_one_event(favorites_engine: Engine) -> None:
    user = uuid.uuid4()

    def add() -> bool:
        with Session(favorites_engine) as session:
            return watchlist.add(session, user_id=user, movie_id=13)[1]

    with ThreadPoolExecutor(max_workers=20) as pool:
        created = list(pool.map(lambda _: add(), range(20)))
    assert created.count(True) == 1
    assert _event_types(favorites_engine) == [("watchlist.added", 13)]


def test_pages_are_newest_first_and_removal_is_announced(favorites_engine: Engine) -> None:
    user, other = uuid.uuid4(), uuid.uuid4()
    with Session(favorites_engine) as session:
        for movie_id in (1, 2, 3):
            watchlist.add(session, user_id=user, movie_id=movie_id)
        watchlist.add(session, user_id=other, movie_id=9)
        rows, total = watchlist.page(session, user_id=user, page=1, limit=2)
        assert ([r.movie_id for r in rows], total) == ([3, 2], 3)
        assert watchlist.remove(session, user_id=user, movie_id=2)
        assert not watchlist.remove(session, user_id=user, movie_id=2)
        rows, total = watchlist.page(session, user_id=user, page=1, limit=20)
        assert ([r.movie_id for r in rows], total) == ([3, 1], 2)
    assert _event_types(favorites_engine)[-1] == ("watchlist.removed", 2)
