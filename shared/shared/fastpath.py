"""A raw ASGI fast path for a signed-in user's cached list page.

A GET of `path` that the gateway vouches for (internal secret and user id headers) with at
most `page` and `limit` in its query is answered from `lookup` when it has the page's bytes,
with no routing, dependency injection or validation layer (those measured at about half of
such a request's cost). Anything else, or a page not cached, goes on to the FastAPI routes,
which validate, compute and cache it.
"""

import hmac
import uuid
from collections.abc import Awaitable, Callable

from shared.middleware import JSON_CONTENT, ASGIApp, Receive, Scope, Send, send_whole
from shared.pagecache import plain_page_query
from shared.security import INTERNAL_TOKEN_HEADER, USER_ID_HEADER

Lookup = Callable[[uuid.UUID, int, int], Awaitable[bytes | None]]
_INTERNAL = INTERNAL_TOKEN_HEADER.encode()
_USER = USER_ID_HEADER.encode()


class CachedUserPageFastPath:
    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        internal_secret: str,
        lookup: Lookup,
        default_limit: int = 20,
        max_limit: int = 100,
        max_page: int = 500,
    ) -> None:
        self.app = app
        self.path = path
        self.internal_secret = internal_secret.encode()
        self.lookup = lookup
        self.default_limit = default_limit
        self.max_limit = max_limit
        self.max_page = max_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == self.path:
            request = self._request(scope)
            if request is not None:
                try:
                    body = await self.lookup(*request)
                except Exception:
                    body = None
                if body is not None:
                    scope["route_template"] = self.path
                    await send_whole(send, 200, [JSON_CONTENT], body)
                    return
        await self.app(scope, receive, send)

    def _request(self, scope: Scope) -> tuple[uuid.UUID, int, int] | None:
        """(user, page, limit) for a vouched-for request with a plain query, else None."""
        secret = user = None
        for key, value in scope["headers"]:
            if key == _INTERNAL:
                secret = bytes(value)
            elif key == _USER:
                user = bytes(value)
        if secret is None or user is None or not hmac.compare_digest(secret, self.internal_secret):
            return None
        try:
            user_id = uuid.UUID(user.decode("latin-1"))
        except ValueError:
            return None
        query = plain_page_query(
            scope["query_string"],
            default_limit=self.default_limit,
            max_limit=self.max_limit,
            max_page=self.max_page,
        )
        return None if query is None else (user_id, *query)
