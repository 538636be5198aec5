"""The hot path for cached reads, in raw ASGI: anonymous trending pages and movie details
answered from the copy served in the last second (no Redis), or, for a key this process has
answered before, from one Redis read, with no routing and no dependency injection. Anything
else (a first read, a stale or missing entry, a query, a signed-in caller) goes on to the
FastAPI routes unchanged.

A key answered from the copy in the last `REFRESH_AHEAD_SHARE` of its time there is read again
from Redis in the background (`RefreshesAhead`, once per key at a time): a key asked for all
the time then never leaves the copy, and no request waits for its Redis read. What the copy
serves is never older than before: each read from Redis starts its own second."""

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from catalog import visibility
from catalog.bounded import Bounded
from catalog.cache import CACHE_REQUESTS, CatalogCache, Entry
from catalog.community import community_key, mirrored_body
from catalog.conditional import DETAILS_MAX_AGE_S, JSON, cache_headers, etag_of, matches
from catalog.details import PARTS, assemble
from catalog.keys import MAX_PAGE, CacheKeys
from catalog.locale import DEFAULT_LOCALE, accepted
from shared.lifecycle import Deadline, cancel_and_wait
from shared.middleware import ASGIApp, Receive, Response, Scope, Send
from shared.parsing import ascii_int
from shared.security import USER_ID_HEADER

TRENDING_PATH = "/api/v1/movies/trending"
MOVIE_PREFIX = "/api/v1/movies/"
_USER = USER_ID_HEADER.encode()
ANSWERS_KEPT = 2_000
REFRESH_AHEAD_SHARE = 0.25
MAX_REFRESHES_AHEAD = 64  # Redis reads in flight at once; more keys wait for a request
logger = logging.getLogger(__name__)


def _parse_trending_query(query: bytes) -> tuple[str, int] | None:
    window, page = "day", 1
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name == "window" and value in ("day", "week"):
            window = value
        elif name == "page" and (number := ascii_int(value, max_digits=4)) and number <= MAX_PAGE:
            page = number
        else:
            return None  # anything unusual is the routes' to validate
    return window, page


class _Answer:
    """A built answer: its bytes, its ETag, and its headers (with the Content-Length), made
    again once a second (the max-age in them counts down)."""

    __slots__ = (
        "_not_modified",
        "_second",
        "_whole",
        "body",
        "community",
        "entry",
        "etag",
        "max_age_cap_s",
    )

    def __init__(
        self,
        entry: Entry,
        community: bytes | None,
        body: bytes,
        etag: bytes,
        max_age_cap_s: int | None,
    ) -> None:
        self.entry, self.community, self.body, self.etag = entry, community, body, etag
        self.max_age_cap_s = max_age_cap_s
        self._whole: list[tuple[bytes, bytes]] = []
        self._not_modified: list[tuple[bytes, bytes]] = []
        self._second = -1

    def response(self, if_none_match: bytes | None) -> Response:
        """(status, headers, body): a 304 when the client holds this version, else a 200."""
        second = int(time.time())
        if second != self._second:
            headers = cache_headers(
                etag=self.etag,
                cache_status="HIT",
                fresh_until=self.entry.fresh_until,
                personal=False,
                max_age_cap_s=self.max_age_cap_s,
            )
            self._whole = [JSON, *headers, (b"content-length", b"%d" % len(self.body))]
            self._not_modified = [*headers, (b"content-length", b"0")]
            self._second = second
        if matches(if_none_match, self.etag):
            return 304, self._not_modified, b""
        return 200, self._whole, self.body


class _Reread(NamedTuple):
    """An answer this process gave before whose entry (or community rating) it no longer
    holds in memory: read again from Redis."""

    key: str
    aggregate: str | None  # the community rating's key, for a movie's details


class RefreshesAhead:
    """The background reads ahead of the copy's expiry: at most one per key, at most
    `MAX_REFRESHES_AHEAD` at once, all cancelled by `stop` (a stop hook of the runtime)."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task[None]] = {}

    def __len__(self) -> int:
        return len(self._running)

    def start(self, key: str, read: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if key in self._running or len(self._running) >= MAX_REFRESHES_AHEAD:
            return
        task = asyncio.get_running_loop().create_task(read(), name=f"refresh-ahead {key}")
        self._running[key] = task
        task.add_done_callback(lambda _: self._running.pop(key, None))

    async def stop(self, timeout_s: float) -> None:
        deadline = Deadline(timeout_s)
        running, self._running = list(self._running.values()), {}
        for task in running:
            await cancel_and_wait(task, deadline.left())


class CachedReadsFastPath:
    def __init__(
        self,
        app: ASGIApp,
        *,
        cache: CatalogCache,
        keys: CacheKeys,
        refreshes: RefreshesAhead,
    ) -> None:
        self.app = app
        self.cache = cache
        self.keys = keys
        self.refreshes = refreshes  # their owner stops them (the app: a runtime stop hook)
        self._refresh_within_s = cache.recent.ttl_s * REFRESH_AHEAD_SHARE
        self._trending_queries: Bounded[bytes, tuple[str, int] | None] = Bounded(256)
        # The answer built from a recalled entry, with its ETag, while that entry is the one
        # recalled: a hit then costs no joining and no hashing.
        self._answers: Bounded[str, _Answer] = Bounded(ANSWERS_KEPT)

    def shortcut(self, scope: Scope) -> Response | None:
        """The answer from this process's memory alone, without an await (the request-context
        middleware sends it straight away); None if it takes more (Redis, the routes)."""
        if scope["method"] != "GET":
            return None
        headers = dict(scope["headers"])
        if _USER in headers:
            return None
        found = self._from_memory(scope, headers)
        if isinstance(found, _Answer):
            return found.response(headers.get(b"if-none-match"))
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            headers = dict(scope["headers"])
            if _USER not in headers and (found := await self._cached(scope, headers)) is not None:
                status, answer_headers, body = found.response(headers.get(b"if-none-match"))
                await send(
                    {"type": "http.response.start", "status": status, "headers": answer_headers}
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _trending(self, query: bytes) -> tuple[str, int] | None:
        """The window and page a trending query names; the few distinct ones are remembered."""
        if query in self._trending_queries:
            return self._trending_queries.get(query)
        found = _parse_trending_query(query)
        self._trending_queries.put(query, found)  # clients choose query strings: bounded
        return found

    def _built(
        self, key: str, entry: Entry, community: bytes | None, max_age_cap_s: int | None
    ) -> "_Answer":
        """The answer for this entry (and community rating), built once while it is recalled."""
        known = self._answers.get(key)
        if known is not None and known.entry is entry and known.community is community:
            return known
        body = entry.body if community is None else assemble(entry.body, PARTS, community)
        answer = _Answer(entry, community, body, etag_of(body), max_age_cap_s)
        self._answers.put(key, answer)
        return answer

    async def _reread(
        self, key: str, *companions: str, since: int
    ) -> tuple[Entry | None, list[bytes | None]]:
        """The entry (only a fresh one) and companions from Redis, remembered for a second
        unless the copy forgot a key `since` (recent.py); for keys answered before, so a first
        read keeps its one read in the routes."""
        entry, extras = await self.cache.get_with(key, companions)
        if entry is None or not entry.is_fresh() or entry.not_found:
            return None, extras
        CACHE_REQUESTS.labels("hit").inc()
        self.cache.recent.remember_entry(key, entry, since=since)
        return entry, extras

    def _from_memory(self, scope: Scope, headers: dict[bytes, bytes]) -> "_Answer | _Reread | None":
        """The answer from the copies this process holds; what to read again from Redis for a
        key answered before; None for anything else (the routes')."""
        path: str = scope["path"]
        language = headers.get(b"accept-language")
        locale = (accepted(language.decode("latin-1")) if language else None) or DEFAULT_LOCALE
        if path == TRENDING_PATH:
            query = self._trending(scope["query_string"])
            if query is None:
                return None
            key = self.keys.trending(*query, locale.language)
            held = self.cache.recent.held(key)
            if held is None:
                return _Reread(key, None) if key in self._answers else None
            if held[1] < self._refresh_within_s:
                self._refresh_soon(_Reread(key, None))
            return self._trending_answer(scope, key, held[0])
        movie_id = ascii_int(path[len(MOVIE_PREFIX) :] if path.startswith(MOVIE_PREFIX) else "")
        if movie_id and not scope["query_string"] and movie_id < 2**31:
            key, aggregate = self.keys.movie(movie_id, locale), community_key(movie_id)
            held = self.cache.recent.held(key)
            community = self.cache.recent.rating(aggregate)
            if held is None or community is None:
                return _Reread(key, aggregate) if key in self._answers else None
            if held[1] < self._refresh_within_s:
                self._refresh_soon(_Reread(key, aggregate))
            return self._movie_answer(scope, key, held[0], community)
        return None

    def _refresh_soon(self, found: _Reread) -> None:
        self.refreshes.start(found.key, lambda: self._refresh(found))

    async def _refresh(self, found: _Reread) -> None:
        try:
            await self._recall(found)
        except Exception:  # the copy runs out and the next request reads the key itself
            logger.warning("reading %s ahead of its expiry failed", found.key, exc_info=True)

    async def _recall(self, found: _Reread) -> tuple[Entry | None, bytes | None]:
        """The entry (and community rating) read again from Redis, and put in the copy."""
        since = self.cache.recent.mark()
        if found.aggregate is None:
            entry, _ = await self._reread(found.key, since=since)
            return entry, None
        entry, (mirrored,) = await self._reread(found.key, found.aggregate, since=since)
        community = mirrored_body(mirrored) if mirrored is not None else None
        if community is not None:
            self.cache.recent.remember_rating(found.aggregate, community, since=since)
        return entry, community

    async def _cached(self, scope: Scope, headers: dict[bytes, bytes]) -> "_Answer | None":
        found = self._from_memory(scope, headers)
        if not isinstance(found, _Reread):
            return found
        entry, community = await self._recall(found)
        if found.aggregate is None:
            return self._trending_answer(scope, found.key, entry)
        return self._movie_answer(scope, found.key, entry, community)

    def _trending_answer(self, scope: Scope, key: str, entry: object) -> "_Answer | None":
        if isinstance(entry, Entry) and visibility.anonymous_sees_all(entry):
            scope["route_template"] = TRENDING_PATH
            return self._built(key, entry, None, None)
        return None

    def _movie_answer(
        self, scope: Scope, key: str, entry: object, community: object
    ) -> "_Answer | None":
        if (
            isinstance(entry, Entry)
            and visibility.anonymous_sees_all(entry)
            and not entry.not_found
            and isinstance(community, bytes)
        ):
            scope["route_template"] = "/api/v1/movies/{movie_id}"
            return self._built(key, entry, community, DETAILS_MAX_AGE_S)
        return None
