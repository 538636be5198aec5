"""The raw-ASGI hot path answers only what was served in the last second; the rest goes on."""

import asyncio
import time

import httpx
import pytest

from catalog.app import create_app
from catalog.cache import CatalogCache, Entry
from catalog.community import community_key
from catalog.details import pack
from catalog.fastpath import CachedReadsFastPath, RefreshesAhead
from catalog.keys import CacheKeys
from catalog.locale import DEFAULT_LOCALE
from shared.middleware import ASGIApp, RequestContextMiddleware
from shared.redis import make_redis

KEYS = CacheKeys("http://tmdb.test/3")


async def _fallback(scope, receive, send):  # type: ignore[no-untyped-def]
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"routes"})


def _client(cache: CatalogCache, *, shortcut: str = "") -> httpx.AsyncClient:
    """The fast path alone; or, as the service runs it, behind the request-context middleware,
    which asks its `shortcut` first and sends an answer from memory itself ("in front"); or
    the shortcut alone with only the routes behind it ("alone": what it does not answer, the
    fast path's awaits included, is the routes')."""
    fast = CachedReadsFastPath(_fallback, cache=cache, keys=KEYS, refreshes=RefreshesAhead())
    app: ASGIApp = fast
    if shortcut:
        behind = fast if shortcut == "in front" else _fallback
        app = RequestContextMiddleware(behind, max_body_bytes=1024, shortcut=fast.shortcut)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://catalog")


@pytest.mark.parametrize("shortcut", ["", "in front", "alone"])
async def test_recent_answers_are_served_and_the_rest_falls_through(shortcut: str) -> None:
    cache = CatalogCache(make_redis("redis://127.0.0.1:1/0"), recent_ttl_s=0.2)
    cache.recent.remember_entry(
        KEYS.trending("week", 2, "en"),
        Entry(b'{"page":2}', time.time() + 60),
        since=cache.recent.mark(),
    )
    cache.recent.remember_entry(
        KEYS.trending("week", 2, "fr"),
        Entry(b'{"page":"fr"}', time.time() + 60),
        since=cache.recent.mark(),
    )
    detail = pack(b'{"id":7}', {"credits": b'{"cast":[]}'})
    cache.recent.remember_entry(
        KEYS.movie(7, DEFAULT_LOCALE), Entry(detail, time.time() + 600), since=cache.recent.mark()
    )
    cache.recent.remember_rating(
        community_key(7), b'{"average":8.0,"count":1}', since=cache.recent.mark()
    )
    adult = Entry(b'{"id":8}', time.time() + 60, adult_ids=frozenset({8}))
    cache.recent.remember_entry(KEYS.movie(8, DEFAULT_LOCALE), adult, since=cache.recent.mark())
    cache.recent.remember_rating(
        community_key(8), b'{"average":null,"count":0}', since=cache.recent.mark()
    )
    async with _client(cache, shortcut=shortcut) as client:
        hit = await client.get("/api/v1/movies/trending", params={"window": "week", "page": 2})
        assert (hit.status_code, hit.headers["x-cache"], hit.content) == (200, "HIT", b'{"page":2}')
        assert hit.headers["content-length"] == "10"
        assert ("x-request-id" in hit.headers) is bool(shortcut)
        assert hit.headers["cache-control"] in ("public, max-age=59", "public, max-age=60")
        french = await client.get(
            "/api/v1/movies/trending",
            params={"window": "week", "page": 2},
            headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"},
        )
        assert french.content == b'{"page":"fr"}'
        assert french.headers["vary"] == "Accept-Language, Authorization"
        detail = await client.get("/api/v1/movies/7")
        assert detail.content == (
            b'{"id":7,"credits":{"cast":[]},"community_rating":{"average":8.0,"count":1}}'
        )
        assert detail.headers["cache-control"] == "public, max-age=60"  # capped for details
        again = await client.get(
            "/api/v1/movies/7", headers={"If-None-Match": detail.headers["etag"]}
        )
        assert (again.status_code, again.content) == (304, b"")
        assert again.headers["etag"] == detail.headers["etag"]
        assert again.headers["content-length"] == "0"
        signed_in = await client.get("/api/v1/movies/7", headers={"x-user-id": "someone"})
        assert signed_in.status_code == 299  # a user's locale and choices: the routes decide
        for path in (
            "/api/v1/movies/trending?window=month",
            "/api/v1/movies/trending?window=day",
            "/api/v1/movies/8",
            "/api/v1/movies/9",
            "/api/v1/movies/7?x=1",
            "/api/v1/movies/7?include=credits",
            "/api/v1/genres",
        ):
            assert (await client.get(path)).status_code == 299, path
        await asyncio.sleep(0.25)
        assert (await client.get("/api/v1/movies/7")).status_code == 299  # the second is over


@pytest.mark.parametrize("shortcut", ["", "in front"])
async def test_a_key_answered_before_is_read_again_from_redis_alone(redis, shortcut: str) -> None:  # type: ignore[no-untyped-def]
    cache = CatalogCache(redis, recent_ttl_s=0.1)
    key = KEYS.movie(11, DEFAULT_LOCALE)
    entry = Entry(pack(b'{"id":11}', {}), time.time() + 600)
    await redis.set(key, entry.encode())
    await redis.set(community_key(11), b'3|{"average":7.0,"count":2}')
    async with _client(cache, shortcut=shortcut) as client:
        assert (await client.get("/api/v1/movies/11")).status_code == 299  # never answered here
        cache.recent.remember_entry(
            key, entry, since=cache.recent.mark()
        )  # as the route does when it answers
        cache.recent.remember_rating(
            community_key(11), b'{"average":7.0,"count":2}', since=cache.recent.mark()
        )
        assert (await client.get("/api/v1/movies/11")).status_code == 200
        await asyncio.sleep(0.15)  # the one-second copy is gone: one Redis read answers
        scope = {"method": "GET", "path": "/api/v1/movies/11", "query_string": b"", "headers": []}
        fast = CachedReadsFastPath(_fallback, cache=cache, keys=KEYS, refreshes=RefreshesAhead())
        fast._answers.put(key, None)  # type: ignore[arg-type]  (answered before, here too)
        assert fast.shortcut(scope) is None  # Redis is an await: never the shortcut's
        again = await client.get("/api/v1/movies/11")
        assert again.status_code == 200 and again.headers["x-cache"] == "HIT"
        assert again.content == b'{"id":11,"community_rating":{"average":7.0,"count":2}}'
        await redis.set(key, Entry(entry.body, time.time() - 1).encode())  # stale now
        await asyncio.sleep(0.15)
        assert (await client.get("/api/v1/movies/11")).status_code == 299  # the routes refresh


async def test_a_key_answered_in_the_last_of_its_time_is_read_ahead_in_the_background(
    redis,
) -> None:  # type: ignore[no-untyped-def]
    cache = CatalogCache(redis, recent_ttl_s=0.4)  # read ahead in its last 0.1 s
    key, rating = KEYS.movie(12, DEFAULT_LOCALE), community_key(12)
    entry = Entry(pack(b'{"id":12}', {}), time.time() + 600)
    cache.recent.remember_entry(key, entry, since=cache.recent.mark())
    cache.recent.remember_rating(rating, b'{"average":7.0,"count":2}', since=cache.recent.mark())
    fast = CachedReadsFastPath(_fallback, cache=cache, keys=KEYS, refreshes=RefreshesAhead())
    scope = {"method": "GET", "path": "/api/v1/movies/12", "query_string": b"", "headers": []}
    assert fast.shortcut(scope) is not None and len(fast.refreshes) == 0  # not due yet
    # Redis has moved on (a new community rating): the copy serves what it holds until a
    # read from Redis replaces it, started by a request in the copy's last quarter second
    await redis.set(key, entry.encode())
    await redis.set(rating, b'4|{"average":8.0,"count":3}')
    await asyncio.sleep(0.32)
    first = fast.shortcut(scope)
    assert first is not None and b'"average":7.0' in first[2]
    assert fast.shortcut(scope) is not None and len(fast.refreshes) == 1  # one per key
    await asyncio.sleep(0.05)
    assert len(fast.refreshes) == 0
    await asyncio.sleep(0.1)  # past the first copy's second: the read ahead took its place
    refreshed = fast.shortcut(scope)
    assert refreshed is not None and b'"average":8.0' in refreshed[2]
    # a stop cancels what is still reading
    await asyncio.sleep(0.32)
    never = asyncio.Event()
    fast.refreshes.start("held up", never.wait)  # type: ignore[arg-type]
    await fast.refreshes.stop(1.0)
    assert len(fast.refreshes) == 0


async def test_a_read_ahead_under_way_when_the_key_is_dropped_does_not_bring_it_back(
    redis, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    cache = CatalogCache(redis, recent_ttl_s=0.4)
    key, rating = KEYS.movie(13, DEFAULT_LOCALE), community_key(13)
    old = Entry(pack(b'{"id":13,"title":"old"}', {}), time.time() + 600)
    await redis.set(key, old.encode())
    await redis.set(rating, b'1|{"average":7.0,"count":1}')
    cache.recent.remember_entry(key, old, since=cache.recent.mark())
    cache.recent.remember_rating(rating, b'{"average":7.0,"count":1}', since=cache.recent.mark())
    read, go_on = asyncio.Event(), asyncio.Event()
    get_with = cache.get_with

    async def slow_get_with(*args):  # type: ignore[no-untyped-def]
        found = await get_with(*args)  # the old value, read before the drop
        read.set()
        await go_on.wait()
        return found

    monkeypatch.setattr(cache, "get_with", slow_get_with)
    fast = CachedReadsFastPath(_fallback, cache=cache, keys=KEYS, refreshes=RefreshesAhead())
    scope = {"method": "GET", "path": "/api/v1/movies/13", "query_string": b"", "headers": []}
    await asyncio.sleep(0.32)
    assert fast.shortcut(scope) is not None and len(fast.refreshes) == 1
    await asyncio.wait_for(read.wait(), 2)
    await cache.delete(key)  # the title changed: every copy drops it
    reading = list(fast.refreshes._running.values())
    go_on.set()
    await asyncio.wait(reading, timeout=2)
    assert len(fast.refreshes) == 0
    assert cache.recent.held(key) is None, "the read ahead put back the dropped value"
    assert fast.shortcut(scope) is None  # the next request reads it itself


def test_the_service_asks_the_shortcut_first(catalog_settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(catalog_settings)
    assert isinstance(app.front, RequestContextMiddleware)
    assert isinstance(getattr(app.front.shortcut, "__self__", None), CachedReadsFastPath)
    # and offers the whole answer to the server, which writes it itself (shared.protocol)
    assert app.answer_at_once == app.front.answer_at_once
    # its reads ahead are the runtime's to stop
    assert "stop_refreshes_ahead" in [hook.__name__ for hook in app.state.runtime.on_stop]
