"""The hot path for cached reads, in raw ASGI: trending pages and movie details answered from
the copy served in the last second, with no routing, no dependency injection and no Redis.
Anything else, or anything not in that copy, goes on to the FastAPI routes unchanged."""

from urllib.parse import parse_qsl

from catalog.cache import CatalogCache, Entry
from catalog.community import community_key, with_community
from catalog.service import MAX_PAGE, movie_key, trending_key
from shared.middleware import JSON_CONTENT, ASGIApp, Receive, Scope, Send, send_whole
from shared.parsing import ascii_int

TRENDING_PATH = "/api/v1/movies/trending"
MOVIE_PREFIX = "/api/v1/movies/"
_HIT = [JSON_CONTENT, (b"x-cache", b"HIT")]


_trending_keys: dict[bytes, str | None] = {}


def _trending_key(query: bytes) -> str | None:
    """The cache key a trending query string names; the few distinct ones are remembered."""
    try:
        return _trending_keys[query]
    except KeyError:
        pass
    key = _parse_trending_query(query)
    if len(_trending_keys) < 256:  # clients choose query strings: keep the table bounded
        _trending_keys[query] = key
    return key


def _parse_trending_query(query: bytes) -> str | None:
    window, page = "day", 1
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name == "window" and value in ("day", "week"):
            window = value
        elif name == "page" and (number := ascii_int(value, max_digits=4)) and number <= MAX_PAGE:
            page = number
        else:
            return None  # anything unusual is the routes' to validate
    return trending_key(window, page)


class CachedReadsFastPath:
    def __init__(self, app: ASGIApp, *, cache: CatalogCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and (body := self._cached(scope)) is not None
        ):
            await send_whole(send, 200, _HIT, body)
            return
        await self.app(scope, receive, send)

    def _cached(self, scope: Scope) -> bytes | None:
        path: str = scope["path"]
        if path == TRENDING_PATH:
            key = _trending_key(scope["query_string"])
            entry = self.cache.recall(key) if key else None
            if isinstance(entry, Entry) and not entry.adult_ids:
                scope["route_template"] = TRENDING_PATH
                return entry.body
            return None
        movie_id = ascii_int(path[len(MOVIE_PREFIX) :] if path.startswith(MOVIE_PREFIX) else "")
        if movie_id and not scope["query_string"] and movie_id < 2**31:
            entry = self.cache.recall(movie_key(movie_id))
            community = self.cache.recall(community_key(movie_id))
            if (
                isinstance(entry, Entry)
                and not entry.adult_ids
                and not entry.not_found
                and isinstance(community, bytes)
            ):
                scope["route_template"] = "/api/v1/movies/{movie_id}"
                return with_community(entry.body, community)
        return None
