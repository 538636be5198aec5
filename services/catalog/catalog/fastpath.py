"""The hot path for cached reads, in raw ASGI: anonymous trending pages and movie details
answered from the copy served in the last second, with no routing, no dependency injection and
no Redis. Anything else, or anything not in that copy, goes on to the FastAPI routes unchanged."""

from urllib.parse import parse_qsl

from catalog.cache import CatalogCache, Entry
from catalog.community import community_key
from catalog.conditional import DETAILS_MAX_AGE_S, JSON, cache_headers, etag_of, matches
from catalog.details import PARTS, assemble
from catalog.keys import CacheKeys
from catalog.locale import DEFAULT_LOCALE, accepted
from catalog.service import MAX_PAGE
from shared.middleware import ASGIApp, Receive, Scope, Send, send_whole
from shared.parsing import ascii_int
from shared.security import USER_ID_HEADER

TRENDING_PATH = "/api/v1/movies/trending"
MOVIE_PREFIX = "/api/v1/movies/"
_USER = USER_ID_HEADER.encode()


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


class CachedReadsFastPath:
    def __init__(self, app: ASGIApp, *, cache: CatalogCache, keys: CacheKeys) -> None:
        self.app = app
        self.cache = cache
        self.keys = keys
        self._trending_queries: dict[bytes, tuple[str, int] | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            headers = dict(scope["headers"])
            if _USER not in headers and (found := self._cached(scope, headers)) is not None:
                body, entry, max_age_cap_s = found
                etag = etag_of(body)
                answer = cache_headers(
                    etag=etag,
                    cache_status="HIT",
                    fresh_until=entry.fresh_until,
                    personal=False,
                    max_age_cap_s=max_age_cap_s,
                )
                if matches(headers.get(b"if-none-match"), etag):
                    await send_whole(send, 304, answer, b"")
                else:
                    await send_whole(send, 200, [JSON, *answer], body)
                return
        await self.app(scope, receive, send)

    def _trending(self, query: bytes) -> tuple[str, int] | None:
        """The window and page a trending query names; the few distinct ones are remembered."""
        try:
            return self._trending_queries[query]
        except KeyError:
            pass
        found = _parse_trending_query(query)
        if len(self._trending_queries) < 256:  # clients choose query strings: keep it bounded
            self._trending_queries[query] = found
        return found

    def _cached(
        self, scope: Scope, headers: dict[bytes, bytes]
    ) -> tuple[bytes, Entry, int | None] | None:
        path: str = scope["path"]
        language = headers.get(b"accept-language")
        locale = (accepted(language.decode("latin-1")) if language else None) or DEFAULT_LOCALE
        if path == TRENDING_PATH:
            query = self._trending(scope["query_string"])
            if query is None:
                return None
            entry = self.cache.recall(self.keys.trending(*query, locale.language))
            if isinstance(entry, Entry) and not entry.adult_ids:
                scope["route_template"] = TRENDING_PATH
                return entry.body, entry, None
            return None
        movie_id = ascii_int(path[len(MOVIE_PREFIX) :] if path.startswith(MOVIE_PREFIX) else "")
        if movie_id and not scope["query_string"] and movie_id < 2**31:
            entry = self.cache.recall(self.keys.movie(movie_id, locale))
            community = self.cache.recall(community_key(movie_id))
            if (
                isinstance(entry, Entry)
                and not entry.adult_ids
                and not entry.not_found
                and isinstance(community, bytes)
            ):
                scope["route_template"] = "/api/v1/movies/{movie_id}"
                return assemble(entry.body, PARTS, community), entry, DETAILS_MAX_AGE_S
        return None
