"""Catalog caching on the real Redis: single-flight, stale-if-error, negative cache, outages."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from catalog.cache import CatalogCache, Entry
from catalog.details import base_of
from catalog.freshness import NotInTmdb
from catalog.service import Catalog
from catalog.tmdb import TmdbUnavailable
from catalog.visibility import visible_page
from services.catalog.tests.support import (
    ScriptedTmdb,
    movie_json,
    movie_key,
    page_json,
    trending_key,
    unique_id,
)
from shared.redis import make_redis
from testsupport.infra import TcpProxy

MakeCatalog = Callable[..., Catalog]


async def _slow_movie(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(0.2)
    movie_id = int(request.url.path.rsplit("/", 1)[1])
    return httpx.Response(200, json=movie_json(movie_id))


async def test_hit_miss_and_normalised_shape(
    make_catalog: MakeCatalog, scripted: ScriptedTmdb
) -> None:
    scripted.handler = lambda request: httpx.Response(
        200, json=movie_json(5, release_date="", poster_path=None)
    )
    catalog = make_catalog(scripted.transport())
    first = await catalog.movie(5)
    second = await catalog.movie(5)
    assert (first.cache_status, second.cache_status) == ("MISS", "HIT")
    assert second.entry.body == first.entry.body
    body = orjson.loads(base_of(first.entry.body))
    assert body["release_date"] is None and body["poster_url"] is None
    assert "unknown_field" not in body and "adult" not in body
    assert "community_rating" not in body  # joined in per request, never cached
    assert len(scripted.calls) == 1


async def test_image_urls_are_absolute(make_catalog: MakeCatalog, scripted: ScriptedTmdb) -> None:
    scripted.handler = lambda request: httpx.Response(200, json=movie_json(6))
    body = orjson.loads(base_of((await make_catalog(scripted.transport()).movie(6)).entry.body))
    assert body["poster_url"] == "https://image.tmdb.org/t/p/w500/p.jpg"
    assert body["release_date"] == "2001-02-03"


async def test_concurrent_requests_make_one_tmdb_call(
    make_catalog: MakeCatalog, scripted: ScriptedTmdb
) -> None:
    scripted.handler = _slow_movie
    catalog = make_catalog(scripted.transport())
    results = await asyncio.gather(*(catalog.movie(42) for _ in range(50)))
    assert {r.entry.body for r in results} == {results[0].entry.body}
    assert scripted.calls == ["/3/movie/42"]


async def test_two_replicas_make_one_tmdb_call(
    make_catalog: MakeCatalog, scripted: ScriptedTmdb
) -> None:
    scripted.handler = _slow_movie
    replicas = [make_catalog(scripted.transport()) for _ in range(3)]
    await asyncio.gather(*(replica.movie(43) for replica in replicas for _ in range(10)))
    assert scripted.calls == ["/3/movie/43"]


async def test_a_replica_whose_lock_holder_gave_up_fetches_at_once(
    make_catalog: MakeCatalog, scripted: ScriptedTmdb, redis: Redis
) -> None:
    """A lock released without a stored entry (its holder failed) is not waited out."""
    scripted.handler = lambda request: httpx.Response(200, json=movie_json(44))
    catalog = make_catalog(scripted.transport())
    key = movie_key(44)
    await redis.set(f"lock:{key}", b"1", px=60_000)  # another replica is fetching ...
    fetching = asyncio.create_task(catalog.movie(44))
    await asyncio.sleep(0.2)
    assert not fetching.done()  # ... so this one waits for it
    await redis.delete(f"lock:{key}")  # ... and gives up without storing anything
    started = time.monotonic()
    await asyncio.wait_for(fetching, 2)
    assert time.monotonic() - started < 0.5
    assert scripted.calls == ["/3/movie/44"]


async def test_a_lock_is_released_even_when_redis_just_failed(redis: Redis) -> None:
    cache = CatalogCache(redis)
    assert await cache.try_lock("k-released", 60_000)
    cache._redis_failed(ConnectionError("a blip"))  # as a failed put would
    await cache.unlock("k-released")
    assert await redis.exists("lock:k-released") == 0


async def test_stale_copy_served_when_tmdb_fails_after_expiry(
    make_catalog: MakeCatalog, scripted: ScriptedTmdb, redis: Redis
) -> None:
    scripted.handler = lambda request: httpx.Response(200, json=page_json(1, 2, 3))
    catalog = make_catalog(scripted.transport())
    fresh = await catalog.trending("day", 1)
    # Expire it, then make TMDb fail every way at once.
    expired = Entry(fresh.entry.body, time.time() - 1)
    await redis.set(trending_key("day", 1), expired.encode())
    scripted.handler = lambda request: httpx.Response(503, json={"status_code": 9})
    stale = await catalog.trending("day", 1)
    assert stale.cache_status == "STALE"
    assert stale.entry.body == fresh.entry.body


async def test_slow_tmdb_with_a_stale_copy_answers_quickly(
    make_catalog: MakeCatalog, scripted: ScriptedTmdb, redis: Redis
) -> None:
    movie_id = unique_id()
    await redis.set(movie_key(movie_id), Entry(b'{"id": 1}', time.time() - 1).encode())

    async def very_slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1.5)
        return httpx.Response(200, json=movie_json(movie_id))

    scripted.handler = very_slow
    catalog = make_catalog(scripted.transport())
    started = time.monotonic()
    served = await catalog.movie(movie_id)
    assert served.cache_status == "STALE" and time.monotonic() - started < 1.2
    await asyncio.sleep(1.6)  # the fetch finished in the background
    assert (await catalog.movie(movie_id)).cache_status == "HIT"


async def test_no_copy_and_tmdb_down_raises(
    make_catalog: MakeCatalog, scripted: ScriptedTmdb
) -> None:
    scripted.handler = lambda request: httpx.Response(502)
    with pytest.raises(TmdbUnavailable):
        await make_catalog(scripted.transport(), tmdb_max_attempts=1).movie(unique_id())


async def test_unknown_ids_are_negatively_cached(
    make_catalog: MakeCatalog, scripted: ScriptedTmdb
) -> None:
    scripted.handler = lambda request: httpx.Response(404, json={"status_code": 34})
    catalog = make_catalog(scripted.transport())
    movie_id = unique_id()
    for _ in range(3):
        with pytest.raises(NotInTmdb):
            await catalog.movie(movie_id)
    assert len(scripted.calls) == 1


async def test_invalid_payload_is_never_cached(
    make_catalog: MakeCatalog, scripted: ScriptedTmdb, redis: Redis
) -> None:
    scripted.handler = lambda request: httpx.Response(200, content=b"<html>")
    movie_id = unique_id()
    with pytest.raises(TmdbUnavailable):
        await make_catalog(scripted.transport()).movie(movie_id)
    assert await redis.get(movie_key(movie_id)) is None


async def test_adult_titles_are_tracked_and_filtered(
    make_catalog: MakeCatalog, scripted: ScriptedTmdb
) -> None:
    scripted.handler = lambda request: httpx.Response(
        200, json=page_json(1, 2, 3, adult=frozenset({2}))
    )
    served = await make_catalog(scripted.transport()).search("adult test", 1)
    assert served.entry.adult_ids == {2}
    filtered = orjson.loads(visible_page(served.entry, allows_adult=False))
    assert [m["id"] for m in filtered["results"]] == [1, 3]
    assert filtered["total_results"] == 2


async def test_batch_reads_many_with_one_mget_and_fetches_misses_together(
    make_catalog: MakeCatalog, scripted: ScriptedTmdb
) -> None:
    scripted.handler = _slow_movie
    catalog = make_catalog(scripted.transport())
    await catalog.movie(301)
    scripted.calls.clear()

    def handler(request: httpx.Request) -> httpx.Response | object:
        if request.url.path.endswith("/399"):
            return httpx.Response(404, json={"status_code": 34})
        return _slow_movie(request)

    scripted.handler = handler
    started = time.monotonic()
    batch = await catalog.movies([301, 302, 303, 399])
    assert time.monotonic() - started < 0.5  # misses were fetched concurrently
    assert [m["id"] for m in batch["results"]] == [301, 302, 303]
    assert batch["missing"] == [399]
    assert sorted(scripted.calls) == ["/3/movie/302", "/3/movie/303", "/3/movie/399"]
    assert set(batch["results"][0]) == {
        "id",
        "title",
        "overview",
        "release_date",
        "genre_ids",
        "vote_average",
        "vote_count",
        "popularity",
        "poster_url",
    }


@pytest.fixture
async def proxy(catalog_settings) -> AsyncIterator[TcpProxy]:  # type: ignore[no-untyped-def]
    port = int(catalog_settings.redis_url.rsplit(":", 1)[1].split("/")[0])
    toggle = TcpProxy(port)
    await toggle.start()
    yield toggle
    with contextlib.suppress(Exception):
        await toggle.cut()


async def test_redis_outage_and_return(
    make_catalog: MakeCatalog,
    scripted: ScriptedTmdb,
    proxy: TcpProxy,
    catalog_settings,
    monkeypatch,
) -> None:  # type: ignore[no-untyped-def]
    database = catalog_settings.redis_url.rsplit("/", 1)[1]
    redis = make_redis(f"redis://127.0.0.1:{proxy.port}/{database}")
    scripted.handler = lambda request: httpx.Response(
        200, json=movie_json(int(request.url.path.rsplit("/", 1)[1]))
    )
    catalog = make_catalog(scripted.transport(), cache_redis=redis)
    assert (await catalog.movie(501)).cache_status == "MISS"
    assert (await catalog.movie(501)).cache_status == "HIT"

    await proxy.cut()
    # Redis is gone: answers keep coming, from TMDb and the in-process copy.
    assert (await catalog.movie(502)).cache_status == "MISS"
    assert (await catalog.movie(502)).cache_status == "HIT"
    assert (await catalog.movie(501)).cache_status == "HIT"
    assert not catalog.cache.redis_available

    await proxy.start()  # Redis is back on the same address
    monkeypatch.setattr("catalog.cache.REDIS_RETRY_AFTER_S", 0.0)
    catalog.cache._redis_down_until = 0.0
    await catalog.movie(503)
    direct = make_redis(catalog_settings.redis_url)
    assert await direct.get(movie_key(503)) is not None  # written to Redis again, no restart
    await direct.aclose()
    await redis.aclose()


async def test_cache_entry_round_trip() -> None:
    entry = Entry(b'{"a":1}', 123.5, adult_ids=frozenset({7, 9}))
    assert Entry.decode(entry.encode()) == entry
    assert Entry.decode(Entry(b"", 1.0, not_found=True).encode()).not_found


async def test_local_cache_is_bounded() -> None:
    cache = CatalogCache(make_redis("redis://127.0.0.1:1/0"), local_max_entries=3)
    for i in range(5):
        await cache.put(f"k{i}", Entry(b"x", time.time() + 60), keep_s=60)
    assert list(cache.local) == ["k2", "k3", "k4"]
