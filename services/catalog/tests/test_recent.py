"""The one-second copy the fast path answers from: only the kinds it serves go in, and a burst
of new keys pushes out the oldest, never everything."""

import time

import httpx

from catalog.bounded import Bounded
from catalog.cache import Entry
from catalog.locale import DEFAULT_LOCALE
from catalog.recent import RecentCopy
from services.catalog.tests.support import movie_json, page_json


def test_a_full_memory_forgets_its_oldest_item_only() -> None:
    kept: Bounded[str, int] = Bounded(3)
    for number, key in enumerate("abcd"):
        kept.put(key, number)
    assert [kept.get(key) for key in "abcd"] == [None, 1, 2, 3]
    kept.put("b", 10)  # a key already held is replaced in place: nothing forgotten
    assert len(kept) == 3 and kept.get("c") == 2


def test_the_recent_copy_keeps_each_value_for_its_second() -> None:
    copy = RecentCopy(ttl_s=0.05, max_entries=2)
    entry = Entry(b"{}", time.time() + 60)
    copy.remember_entry("page", entry, since=copy.mark())
    copy.remember_rating("rating", b'{"average":7.0,"count":1}', since=copy.mark())
    assert copy.entry("page") is entry and copy.rating("rating") is not None
    copy.forget("page")
    assert copy.entry("page") is None
    time.sleep(0.06)
    assert copy.rating("rating") is None


def test_a_read_begun_before_a_key_was_forgotten_puts_nothing_in() -> None:
    copy = RecentCopy(ttl_s=60)
    entry = Entry(b"{}", time.time() + 60)
    before = copy.mark()
    copy.forget("page")  # an invalidation while the read was under way
    copy.remember_entry("page", entry, since=before)
    copy.remember_rating("rating", b"{}", since=before)
    assert copy.entry("page") is None and copy.rating("rating") is None
    after = copy.mark()
    copy.remember_entry("page", entry, since=after)
    copy.remember_rating("rating", b"{}", since=after)
    assert copy.entry("page") is entry and copy.rating("rating") == b"{}"


async def test_only_what_the_fast_path_serves_goes_into_the_copy(make_catalog, scripted) -> None:  # type: ignore[no-untyped-def]
    def answer(request: httpx.Request) -> httpx.Response:
        if "/search/" in request.url.path or "/trending/" in request.url.path:
            return httpx.Response(200, json=page_json(3))
        return httpx.Response(200, json=movie_json(3))

    scripted.handler = answer
    catalog = make_catalog(scripted.transport())
    await catalog.trending("day", 1)
    await catalog.movie(3)
    await catalog.search("alien", 1)
    recent = catalog.cache.recent
    assert recent.entry(catalog.keys.trending("day", 1, "en")) is not None
    assert recent.entry(catalog.keys.movie(3, DEFAULT_LOCALE)) is not None
    assert recent.entry(catalog.keys.search("movie", "alien", 1, "en")) is None
