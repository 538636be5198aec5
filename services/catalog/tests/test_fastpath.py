"""The raw-ASGI hot path answers only what was served in the last second; the rest goes on."""

import asyncio
import time

import httpx

from catalog.cache import CatalogCache, Entry
from catalog.community import community_key
from catalog.fastpath import CachedReadsFastPath
from catalog.service import movie_key, trending_key
from shared.redis import make_redis


async def _fallback(scope, receive, send):  # type: ignore[no-untyped-def]
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"routes"})


def _client(cache: CatalogCache) -> httpx.AsyncClient:
    app = CachedReadsFastPath(_fallback, cache=cache)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://catalog")


async def test_recent_answers_are_served_and_the_rest_falls_through() -> None:
    cache = CatalogCache(make_redis("redis://127.0.0.1:1/0"), recent_ttl_s=0.2)
    cache.remember(trending_key("week", 2), Entry(b'{"page":2}', time.time() + 60))
    cache.remember(movie_key(7), Entry(b'{"id":7}', time.time() + 60))
    cache.remember(community_key(7), b'{"average":8.0,"count":1}')
    cache.remember(movie_key(8), Entry(b'{"id":8}', time.time() + 60, adult_ids=frozenset({8})))
    cache.remember(community_key(8), b'{"average":null,"count":0}')
    async with _client(cache) as client:
        hit = await client.get("/api/v1/movies/trending", params={"window": "week", "page": 2})
        assert (hit.status_code, hit.headers["x-cache"], hit.content) == (200, "HIT", b'{"page":2}')
        detail = await client.get("/api/v1/movies/7")
        assert detail.content == b'{"id":7,"community_rating":{"average":8.0,"count":1}}'
        for path in (
            "/api/v1/movies/trending?window=month",
            "/api/v1/movies/trending?window=day",
            "/api/v1/movies/8",
            "/api/v1/movies/9",
            "/api/v1/movies/7?x=1",
            "/api/v1/genres",
        ):
            assert (await client.get(path)).status_code == 299, path
        await asyncio.sleep(0.25)
        assert (await client.get("/api/v1/movies/7")).status_code == 299  # the second is over
