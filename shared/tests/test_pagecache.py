"""The one user-page cache on the real Redis: generations, extra fields, the gateway's stamp."""

import asyncio
import uuid

import pytest
from redis.exceptions import RedisError

from shared.pagecache import (
    CachedPages,
    PageLookup,
    PageReads,
    UserPageCache,
    plain_page_query,
)
from shared.redis import make_redis
from testsupport.calls import keys_of_script_calls
from testsupport.infra import Infra


def _cache(infra: Infra, redis_url: str | None = None) -> UserPageCache:
    pages = CachedPages("/api/v1/list", f"t{uuid.uuid4().hex}", "owner")
    return UserPageCache(make_redis(redis_url or infra.redis_url), pages, ttl_s=60)


async def test_a_page_is_served_until_the_user_changes_something(infra: Infra) -> None:
    cache, user = _cache(infra), uuid.uuid4()
    miss = await cache.get(user, "1:20")
    assert miss.body is None
    assert await cache.put(user, miss, {"1:20": b"page one"})
    assert (await cache.get(user, "1:20")).body == b"page one"
    assert (await cache.get(user, "2:20")).body is None
    await cache.changed(user)
    assert (await cache.get(user, "1:20")).body is None


async def test_a_page_computed_before_a_change_is_never_stored_after_it(infra: Infra) -> None:
    cache, user = _cache(infra), uuid.uuid4()
    before = await cache.get(user, "1:20")
    await cache.drop(user)  # the user's write lands while the old page is being computed
    assert not await cache.put(user, before, {"1:20": b"old page"})
    assert (await cache.get(user, "1:20")).body is None


async def test_drops_asked_for_together_go_in_one_call_and_each_users_pages_go(
    infra: Infra,
) -> None:
    cache = _cache(infra)
    users = [uuid.uuid4() for _ in range(5)]
    for user in users:
        assert await cache.put(user, await cache.get(user, "1:20"), {"1:20": b"page"})
    calls = keys_of_script_calls(cache, "_drop")
    await asyncio.gather(*(cache.drop(user) for user in [*users, users[0]]))
    assert len(calls) == 1 and len(calls[0]) == 2 * len(users)
    for user in users:
        assert (await cache.get(user, "1:20")).body is None
    await cache.drop(users[1])  # a drop alone afterwards is a call of its own
    assert len(calls) == 2


async def test_a_failed_drop_call_fails_every_drop_that_joined_it(infra: Infra) -> None:
    cache = _cache(infra, "redis://127.0.0.1:1/0")  # nothing listens there
    outcomes = await asyncio.gather(
        *(cache.drop(uuid.uuid4()) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(outcome, RedisError) for outcome in outcomes), outcomes
    assert cache._drops.gathering == 0


async def test_a_cancelled_first_drop_fails_the_others_and_leaves_nothing_behind(
    infra: Infra,
) -> None:
    cache = _cache(infra)
    first = asyncio.create_task(cache.drop(uuid.uuid4()))
    second = asyncio.create_task(cache.drop(uuid.uuid4()))
    await asyncio.sleep(0)  # the first waits for others to join; the second has joined it
    assert cache._drops.gathering == 2
    first.cancel()
    outcomes = await asyncio.gather(first, second, return_exceptions=True)
    assert isinstance(outcomes[0], asyncio.CancelledError)
    assert isinstance(outcomes[1], RedisError)
    assert cache._drops.gathering == 0
    await cache.drop(uuid.uuid4())  # the next drop works


@pytest.mark.parametrize("lost", ["user", "global"])
async def test_a_page_computed_before_redis_lost_the_generations_is_never_stored(
    infra: Infra, lost: str
) -> None:
    """Redis loses the counters (a flush, a failover, an eviction) while a page is computed,
    and the writes after it bring the counters back to the numbers the page was stamped with:
    the old page must not be stored."""
    cache, user = _cache(infra), uuid.uuid4()
    bump = (lambda: cache.drop(user)) if lost == "user" else cache.drop_all
    await bump()
    before = await cache.get(user, "1:20")  # computed from the data before the next write
    await cache.redis.delete(cache._generation(user), cache.global_generation, cache._key(user))
    await bump()  # the write after the loss
    assert not await cache.put(user, before, {"1:20": b"old page"})
    assert (await cache.get(user, "1:20")).body is None


async def test_page_reads_asked_together_go_in_one_call_and_read_as_each_cache_does(
    infra: Infra,
) -> None:
    """The gateway's batched reads, pages of two routes mixed: each answer is the one the
    route's cache gives for it alone (a page, a miss, a page dropped by the user's write or by
    a global change), read in one script call."""
    favorites, lists = _cache(infra), _cache(infra)
    users = [uuid.uuid4() for _ in range(4)]
    for cache in (favorites, lists):
        for user in users[:3]:
            assert await cache.put(user, await cache.get(user, "1:20"), {"1:20": b"page"})
    await favorites.drop(users[1])
    await lists.drop_all()
    reads = PageReads(favorites.redis)
    calls = keys_of_script_calls(reads, "_get_many")
    asked = [(cache, user, field) for cache in (favorites, lists) for user in users
             for field in ("1:20", "2:20")]  # fmt: skip
    found = await asyncio.gather(*(reads.submit(*item) for item in asked))
    assert found == [await cache.get(user, field) for cache, user, field in asked]
    assert [lookup.body for lookup in found[:8]] == [
        b"page",
        None,
        None,
        None,
        b"page",
        None,
        None,
        None,
    ]
    assert all(lookup.body is None for lookup in found[8:])
    assert len(calls) == 1 and len(calls[0]) == 3 * len(asked)


async def test_page_reads_give_each_caller_the_redis_error(infra: Infra) -> None:
    cache = _cache(infra, "redis://127.0.0.1:1/0")  # nothing listens there
    reads = PageReads(cache.redis)
    outcomes = await asyncio.gather(
        *(reads.submit(cache, uuid.uuid4(), "1:20") for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(outcome, RedisError) for outcome in outcomes), outcomes


async def test_a_global_change_drops_every_users_pages(infra: Infra) -> None:
    cache, first, second = _cache(infra), uuid.uuid4(), uuid.uuid4()
    for user in (first, second):
        assert await cache.put(user, await cache.get(user, "1:20"), {"1:20": b"page"})
    await cache.drop_all()
    assert (await cache.get(first, "1:20")).body is None
    assert (await cache.get(second, "1:20")).body is None
    # pages stored after the change are served again
    assert await cache.put(first, await cache.get(first, "1:20"), {"1:20": b"new"})
    assert (await cache.get(first, "1:20")).body == b"new"


async def test_extra_fields_live_and_go_with_the_pages(infra: Infra) -> None:
    cache, user = _cache(infra), uuid.uuid4()
    lookup = await cache.get(user, "1:20", "all")
    assert lookup.extras == (None,)
    assert await cache.put(user, lookup, {"all": b"[1,2,3]", "1:20": b"page"})
    other_page = await cache.get(user, "2:20", "all")
    assert (other_page.body, other_page.extras) == (None, (b"[1,2,3]",))
    await cache.drop_all()
    assert (await cache.get(user, "2:20", "all")).extras == (None,)


async def test_a_miss_gives_the_stamp_the_owner_stores_under(infra: Infra) -> None:
    """On a miss the gateway passes the generations on: the owner stores the page under them
    without reading Redis, and a change in between still keeps that page out."""
    cache, user = _cache(infra), uuid.uuid4()
    seen = (await cache.get(user, "1:20")).stamp  # the gateway's one command
    lookup = await cache.lookup(user, "1:20", stamp=seen)
    assert lookup is not None and lookup.stamp == seen
    assert await cache.put(user, lookup, {"1:20": b"page"})
    assert (await cache.get(user, "1:20")).body == b"page"
    stale = (await cache.get(user, "2:20")).stamp
    await cache.changed(user)
    late = await cache.lookup(user, "2:20", stamp=stale)
    assert late is not None and not await cache.put(user, late, {"2:20": b"old"})


async def test_the_stamp_spares_the_read_and_a_bad_one_is_ignored(infra: Infra) -> None:
    unreachable = _cache(infra, redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    user = uuid.uuid4()
    assert await unreachable.lookup(user, "1:20", stamp="4:2") == PageLookup(None, "4", "2")
    assert await unreachable.lookup(user, "1:20", stamp="forged") is None  # read, Redis down
    assert await unreachable.lookup(user, "1:20") is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", (1, 20)),
        (b"limit=5", (1, 5)),
        (b"page=2&limit=100", (2, 100)),
        (b"page=0", None),
        (b"limit=101", None),
        (b"page=501", None),
        (b"page=abc", None),
        (b"other=1", None),
        ("page=²".encode(), None),
        (b"page=", None),
        (b"limit=", None),
    ],
)
def test_only_plain_valid_queries_are_looked_up(query: bytes, expected: object) -> None:
    assert plain_page_query(query) == expected
