"""Cached user pages on the real Redis, and the raw fast path that serves them."""

import uuid

import httpx

from shared.fastpath import CachedUserPageFastPath
from shared.middleware import Receive, Scope, Send
from shared.pagecache import UserPageCache
from shared.redis import make_redis
from testsupport.infra import Infra

SECRET = "fast-path-test-secret-0123456789"


def _cache(infra: Infra) -> UserPageCache:
    return UserPageCache(make_redis(infra.redis_url), prefix=f"t{uuid.uuid4().hex}", ttl_s=60)


async def test_a_page_is_served_until_the_user_changes_something(infra: Infra) -> None:
    cache, user = _cache(infra), uuid.uuid4()
    miss = await cache.get(user, "1:20")
    assert miss.body is None
    assert await cache.put(user, miss, "1:20", b"page one")
    assert (await cache.get(user, "1:20")).body == b"page one"
    await cache.drop(user)
    assert (await cache.get(user, "1:20")).body is None


async def test_a_page_computed_before_a_change_is_never_stored_after_it(infra: Infra) -> None:
    cache, user = _cache(infra), uuid.uuid4()
    before = await cache.get(user, "1:20")
    await cache.drop(user)  # the user's write lands while the old page is being computed
    assert not await cache.put(user, before, "1:20", b"old page")
    assert (await cache.get(user, "1:20")).body is None


async def test_a_global_change_drops_every_users_pages(infra: Infra) -> None:
    cache, first, second = _cache(infra), uuid.uuid4(), uuid.uuid4()
    for user in (first, second):
        assert await cache.put(user, await cache.get(user, "1:20"), "1:20", b"page")
    await cache.drop_all()
    assert (await cache.get(first, "1:20")).body is None
    assert (await cache.get(second, "1:20")).body is None
    # pages stored after the change are served again
    assert await cache.put(first, await cache.get(first, "1:20"), "1:20", b"new")
    assert (await cache.get(first, "1:20")).body == b"new"


async def _routes(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands for the FastAPI routes: anything not served fast answers 299."""
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"routes"})


async def test_the_fast_path_answers_only_vouched_for_plain_requests_it_has() -> None:
    user = uuid.uuid4()
    asked: list[tuple[uuid.UUID, int, int]] = []

    async def lookup(user_id: uuid.UUID, page: int, limit: int) -> bytes | None:
        asked.append((user_id, page, limit))
        return b'{"cached":true}' if page == 1 else None

    app = CachedUserPageFastPath(_routes, path="/list", internal_secret=SECRET, lookup=lookup)
    vouched = {"x-internal-token": SECRET, "x-user-id": str(user)}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        hit = await client.get("/list?limit=5", headers=vouched)
        assert (hit.status_code, hit.content) == (200, b'{"cached":true}')
        assert asked == [(user, 1, 5)]
        assert (await client.get("/list?page=2", headers=vouched)).status_code == 299  # a miss
        for headers in (
            {},
            {"x-user-id": str(user)},
            {"x-internal-token": "wrong", "x-user-id": str(user)},
            {"x-internal-token": SECRET, "x-user-id": "not-a-uuid"},
        ):
            assert (await client.get("/list", headers=headers)).status_code == 299
        for query in ("page=0", "limit=101", "page=abc", "other=1", "page=²", "page=", "limit="):
            assert (await client.get(f"/list?{query}", headers=vouched)).status_code == 299
        assert (await client.post("/list", headers=vouched)).status_code == 299
        assert len(asked) == 2  # only the two plain, vouched-for requests were looked up


async def test_the_one_command_lookup_serves_only_current_pages(infra: Infra) -> None:
    cache, user = _cache(infra), uuid.uuid4()
    assert await cache.get_body(user, "1:20") is None  # nothing cached
    assert await cache.put(user, await cache.get(user, "1:20"), "1:20", b"page")
    assert await cache.get_body(user, "1:20") == b"page"
    assert await cache.get_body(user, "2:20") is None
    await cache.drop(user)
    assert await cache.get_body(user, "1:20") is None  # dropped
    assert await cache.put(user, await cache.get(user, "1:20"), "1:20", b"new")
    await cache.drop_all()
    assert await cache.get_body(user, "1:20") is None  # stale generation
