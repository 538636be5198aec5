"""Favorites on the real PostgreSQL: one row and one event per real change, even under races."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from library.favorites import service
from shared.pagecache import FAVORITES_PAGES, UserPageCache
from shared.redis import make_redis
from testsupport.infra import Infra

pytestmark = pytest.mark.usefixtures("clean_favorites_db")


def _events(engine: Engine) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    import json

    with engine.connect() as connection:
        rows = connection.execute(text("SELECT type, content FROM outbox_event ORDER BY id"))
        return [(row[0], json.loads(bytes(row[1]))["data"]) for row in rows]


def test_add_is_created_once(favorites_engine: Engine) -> None:
    user = uuid.uuid4()
    with Session(favorites_engine) as session:
        first, created = service.add(session, user_id=user, movie_id=10)
        again, created_again = service.add(session, user_id=user, movie_id=10)
    assert (created, created_again) == (True, False)
    assert again.added_at == first.added_at
    events = _events(favorites_engine)
    assert [t for t, _ in events] == ["favorite.added"]
    assert events[0][1]["user_id"] == str(user) and events[0][1]["movie_id"] == 10


def test_twenty_concurrent_adds_make_one_row_and_one_event(favorites_engine: Engine) -> None:
    user = uuid.uuid4()

    def add() -> bool:
        with Session(favorites_engine) as session:
            return service.add(session, user_id=user, movie_id=77)[1]

    with ThreadPoolExecutor(max_workers=20) as pool:
        created = list(pool.map(lambda _: add(), range(20)))
    assert created.count(True) == 1 and created.count(False) == 19
    with favorites_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM favorite")).scalar_one() == 1
    assert [t for t, _ in _events(favorites_engine)] == ["favorite.added"]


def test_remove(favorites_engine: Engine) -> None:
    user = uuid.uuid4()
    with Session(favorites_engine) as session:
        service.add(session, user_id=user, movie_id=5)
        assert service.remove(session, user_id=user, movie_id=5)
        assert not service.remove(session, user_id=user, movie_id=5)
        assert service.get(session, user_id=user, movie_id=5) is None
    assert [t for t, _ in _events(favorites_engine)] == ["favorite.added", "favorite.removed"]


def test_pages_are_newest_first_and_per_user(favorites_engine: Engine) -> None:
    user, other = uuid.uuid4(), uuid.uuid4()
    with Session(favorites_engine) as session:
        for movie_id in (1, 2, 3, 4, 5):
            service.add(session, user_id=user, movie_id=movie_id)
        service.add(session, user_id=other, movie_id=99)
        first, total = service.page(session, user_id=user, page=1, limit=2)
        second, _ = service.page(session, user_id=user, page=2, limit=2)
        last, _ = service.page(session, user_id=user, page=3, limit=2)
    assert total == 5
    assert [f.movie_id for f in first + second + last] == [5, 4, 3, 2, 1]


async def test_every_favorite_write_drops_the_users_cached_pages(
    favorites_engine: Engine, infra: Infra
) -> None:
    """The write path owns the invalidation: add and remove drop the pages once committed,
    before they return, so no route can answer a write and leave the old page behind."""
    pages = UserPageCache(make_redis(infra.redis_url), FAVORITES_PAGES, ttl_s=60)
    user = uuid.uuid4()

    async def cached() -> bytes | None:
        return (await pages.get(user, "1:20")).body

    async def cache_a_page() -> None:
        await pages.store(user, await pages.lookup(user, "1:20"), {"1:20": b"the old page"})
        assert await cached() == b"the old page"

    engine = favorites_engine
    await cache_a_page()
    assert (await service.add_favorite(engine, pages, user_id=user, movie_id=3))[1]
    assert await cached() is None
    await cache_a_page()
    assert not (await service.add_favorite(engine, pages, user_id=user, movie_id=3))[1]
    assert await cached() == b"the old page"  # nothing changed: the page stays
    assert await service.remove_favorite(engine, pages, user_id=user, movie_id=3)
    assert await cached() is None
