"""A deleted account stays deleted: a write already under way when the deletion is applied
is removed with the rest, and any later write for the user is refused (the tombstone and its
trigger, migration 0006), whether it comes from a request or a late event."""

import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from library.account import service as account
from library.favorites.service import FAVORITES
from library.handlers import subscription
from library.history import service as history
from library.ratings import service as ratings
from shared.db import in_session
from shared.errors import is_forgotten_account
from shared.events import UserPreferencesChanged, UserRegistered, wrap
from shared.pagecache import FAVORITES_PAGES, UserPageCache
from shared.redis import make_redis
from testsupport.infra import Infra
from testsupport.transactions import rows_of


def _forget(engine: Engine, user: uuid.UUID) -> None:
    with Session(engine) as session:
        account.forget(session, user_id=user)
        session.commit()


def test_every_write_for_a_deleted_account_is_refused(favorites_engine: Engine) -> None:
    user = uuid.uuid4()
    in_session(favorites_engine, FAVORITES.add, user_id=user, movie_id=1)
    _forget(favorites_engine, user)
    assert rows_of(favorites_engine, "favorite", user) == 0
    writes = [
        lambda: in_session(favorites_engine, FAVORITES.add, user_id=user, movie_id=2),
        lambda: in_session(favorites_engine, ratings.rate, user_id=user, movie_id=2, score=8.0),
        lambda: in_session(
            favorites_engine, history.add, user_id=user, movie_id=2, watched_at=None
        ),
    ]
    for write in writes:
        with pytest.raises(DBAPIError) as refused:
            write()
        assert is_forgotten_account(refused.value)
    for table in ("favorite", "rating", "watch_entry"):
        assert rows_of(favorites_engine, table, user) == 0


def test_a_deletion_waits_for_a_write_under_way_and_removes_it(favorites_engine: Engine) -> None:
    user = uuid.uuid4()
    with Session(favorites_engine) as writer:
        writer.execute(
            text(
                "INSERT INTO favorite (user_id, movie_id, added_at) "
                "VALUES (CAST(:u AS uuid), 5, now())"
            ),
            {"u": str(user)},
        )  # a request's write, not committed yet
        deletion = threading.Thread(target=_forget, args=(favorites_engine, user))
        deletion.start()
        time.sleep(0.5)
        assert deletion.is_alive()  # the deletion waits for the write under way...
        writer.commit()
    deletion.join(timeout=10)
    assert not deletion.is_alive()
    assert rows_of(favorites_engine, "favorite", user) == 0  # ...and removes what it wrote


async def test_a_late_event_does_not_bring_a_deleted_user_back(
    infra: Infra, favorites_engine: Engine
) -> None:
    user = uuid.uuid4()
    _forget(favorites_engine, user)
    pages = UserPageCache(make_redis(infra.redis_url), FAVORITES_PAGES, ttl_s=60)
    handlers = subscription(engine=favorites_engine, pages=pages).handlers
    registered = UserRegistered(user_id=user, display_name="Late", registered_at=datetime.now(UTC))
    changed = UserPreferencesChanged(
        user_id=user,
        preferences={"remove_watched_from_watchlist": True},
        display_name="Late again",
    )
    for event in (registered, changed):  # handled (acknowledged), and nothing written
        await handlers[event.event_type](event, wrap(event, producer="auth"))
    for table in ("user_directory", "watchlist_setting"):
        assert rows_of(favorites_engine, table, user) == 0
