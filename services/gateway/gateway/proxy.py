"""The proxy: checks the caller, applies rate limits, forwards to the owning service.

Raw ASGI; whole answers are asked for with a client of its own (gateway/upstream.py), event
streams with aiohttp's.
Rate limits are counted locally and shared through Redis in the background; a token's
revocation is checked in Redis on every request, in reads shared by concurrent requests.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Iterable

import aiohttp
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.config import GatewaySettings
from gateway.ratelimit import RateLimiter, RateLimitKey
from gateway.revocation import RevocationChecks
from gateway.routes import Access, Route, match
from gateway.upstream import UpstreamError, UpstreamPool, UpstreamUnavailable
from shared.context import request_id_var
from shared.errors import PROBLEM_CONTENT_TYPE, problem_bytes
from shared.lifecycle import Deadline, within
from shared.middleware import (
    JSON_CONTENT,
    ASGIApp,
    Receive,
    Response,
    Scope,
    Send,
    send_whole,
)
from shared.pagecache import (
    PAGE_STAMP_HEADER,
    PageLookup,
    PageReads,
    UserPageCache,
    page_field,
    plain_page_query,
)
from shared.security import (
    CLIENT_IP_HEADER,
    INTERNAL_TOKEN_HEADER,
    SESSION_ID_HEADER,
    TOKEN_EXPIRES_HEADER,
    TOKEN_ID_HEADER,
    USER_ID_HEADER,
    InvalidToken,
    Principal,
    VerifiedTokens,
    bearer_token,
)

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
# What `answer_soon` admitted for a request it then left to `__call__` (no page cached).
_ADMITTED = "gateway.admitted"
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# Headers only the gateway may set; any a client sends are dropped.
INTERNAL_HEADERS = frozenset(
    {
        USER_ID_HEADER,
        SESSION_ID_HEADER,
        TOKEN_ID_HEADER,
        TOKEN_EXPIRES_HEADER,
        INTERNAL_TOKEN_HEADER,
        CLIENT_IP_HEADER,
        PAGE_STAMP_HEADER,
        "x-request-id",
    }
)
DROPPED_REQUEST_HEADERS = HOP_BY_HOP | INTERNAL_HEADERS
DROPPED_RESPONSE_HEADERS = HOP_BY_HOP | {"x-request-id", "server", "date"}
DROPPED_REQUEST_HEADER_NAMES = frozenset(name.encode() for name in DROPPED_REQUEST_HEADERS)
DROPPED_RESPONSE_HEADER_NAMES = frozenset(name.encode() for name in DROPPED_RESPONSE_HEADERS)
NOT_MODIFIED_HEADERS = frozenset({b"etag", b"cache-control", b"vary", b"x-cache"})


class Rejection(Exception):
    def __init__(
        self, status: int, detail: str, headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = list(headers)


class MicroCache:
    """Whole upstream answers for a short time, keyed by path and query."""

    def __init__(self, *, ttl_s: float, max_entries: int) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.entries: dict[str, tuple[float, int, list[tuple[bytes, bytes]], bytes]] = {}

    def get(self, key: str) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        found = self.entries.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1], found[2], found[3]

    def put(self, key: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        if self.ttl_s <= 0:
            return
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[key] = (time.monotonic() + self.ttl_s, status, headers, body)


class GatewayProxy:
    """ASGI app: /api/v1/* is proxied, everything else goes to `fallback` (docs, health)."""

    def __init__(
        self,
        *,
        fallback: ASGIApp,
        settings: GatewaySettings,
        redis: Redis,
        security_redis: Redis,
    ) -> None:
        self.fallback = fallback
        self.settings = settings
        self.redis = redis
        self.rate_limiter = RateLimiter(redis)
        self.revocations = RevocationChecks(security_redis)
        self.page_caches: dict[str, UserPageCache] = {}  # read only: services write them
        self.page_reads = PageReads(redis)
        self.tokens = VerifiedTokens(secret=settings.jwt_secret, algorithm=settings.jwt_algorithm)
        self.micro_cache = MicroCache(
            ttl_s=settings.micro_cache_ttl_s, max_entries=settings.micro_cache_entries
        )
        self.upstreams = settings.service_urls()
        self.upstream_pools = {
            name: UpstreamPool(
                url,
                max_connections=settings.upstream_max_connections,
                connect_timeout_s=settings.upstream_connect_timeout_s,
            )
            for name, url in self.upstreams.items()
        }
        self.internal_secret = settings.internal_secret.encode()
        self.session: aiohttp.ClientSession | None = None
        self.timeout = aiohttp.ClientTimeout(
            total=settings.upstream_timeout_s, connect=settings.upstream_connect_timeout_s
        )
        # Event streams stay open as long as the client wants them.
        self.stream_timeout = aiohttp.ClientTimeout(
            total=None, connect=settings.upstream_connect_timeout_s
        )

    async def start(self) -> None:
        self.rate_limiter.start()
        connector = aiohttp.TCPConnector(
            limit=self.settings.upstream_max_connections, keepalive_timeout=30, ttl_dns_cache=300
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            timeout=self.timeout,
            skip_auto_headers=("User-Agent",),
        )

    async def stop(self, timeout_s: float) -> list[str]:
        """Stop within `timeout_s`; returns what was abandoned."""
        deadline = Deadline(timeout_s)
        abandoned = []
        if not await self.rate_limiter.stop(deadline.left() / 2):
            abandoned.append("rate-limit flush")
        await self.revocations.close()  # requests are over: nobody waits for these reads
        await self.page_reads.close()
        for pool in self.upstream_pools.values():
            await pool.close()
        if self.session is not None and not await within(
            self.session.close(), deadline.step(), what="upstream connections close"
        ):
            abandoned.append("upstream connections")
        return abandoned

    def answer_at_once(self, scope: Scope) -> Response | None:
        """An anonymous catalog read the micro-cache holds, answered without a coroutine: the
        request-context middleware's shortcut (shared.middleware), which a server that knows it
        (shared.protocol) calls as soon as the headers are parsed. It is counted against the
        client's rate limit as `__call__` counts it; anything else is None, for `__call__`.
        Measured, the ASGI cycle and the proxy's coroutines around such an answer cost as
        much as the answer."""
        if scope["method"] != "GET" or not scope["path"].startswith(API_PREFIX):
            return None
        route = match(scope["path"])
        if route is None or route.service != "catalog" or route.streaming:
            return None
        if route.access is not Access.PUBLIC and _header(scope, b"authorization") is not None:
            return None  # a token: its answer may be the caller's own
        cached = self.micro_cache.get(_micro_cache_key(scope))
        if cached is None:
            return None
        scope["route_template"] = route.template
        limit = self.settings.rate_limit_ip_per_minute
        if (broken := self.rate_limiter.allow(f"ip:{_client_ip(scope)}", limit)) is not None:
            return _refused(_rate_limited(broken), scope["path"])
        return _with_length(_cached_answer(scope, *cached))

    def answer_soon(self, scope: Scope) -> Awaitable[Response | None] | None:
        """A signed-in read of a route whose pages are cached, answered after the Redis reads
        that check the token and fetch the page (together, `_admit`), without the ASGI cycle:
        the request-context middleware's second shortcut, which a server that knows it
        (shared.protocol) awaits in a task of its own. A refusal is answered from there too; a
        page not cached is left to `__call__` with what was admitted, so the request is counted
        and checked once either way. None for any other request."""
        if scope["method"] != "GET" or not scope["path"].startswith(API_PREFIX):
            return None
        route = match(scope["path"])
        if (
            route is None
            or route.user_pages is None
            or _header(scope, b"authorization") is None
            or self._page_cache(route, scope) is None
        ):
            return None
        return self._page_soon(scope, route)

    async def _page_soon(self, scope: Scope, route: Route) -> Response | None:
        scope["route_template"] = route.template
        try:
            principal, page = await self._admit(scope, route)
        except Rejection as rejection:
            return _refused(rejection, scope["path"])
        if page is not None and page.body is not None:
            return _with_length((200, [JSON_CONTENT], page.body))
        scope[_ADMITTED] = (principal, page)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.fallback(scope, receive, send)
            return
        route = match(scope["path"])
        if route is None:
            await _send_problem(send, 404, "No such API route", scope["path"])
            return
        scope["route_template"] = route.template
        try:
            admitted = scope.pop(_ADMITTED, None)  # by `answer_soon`, which found no page
            principal, page = admitted or await self._admit(scope, route)
            if page is not None and page.body is not None:
                await send_whole(send, 200, [JSON_CONTENT], page.body)
                return
            await self._forward(scope, receive, send, route, principal, page)
        except Rejection as rejection:
            await _send_problem(
                send, rejection.status, rejection.detail, scope["path"], rejection.headers
            )

    # --- admission: token and rate limit ----------------------------------------------------
    async def _admit(
        self, scope: Scope, route: Route
    ) -> tuple[Principal | None, PageLookup | None]:
        """Count the request against its limit, then check its token (even bad ones are counted);
        only a token needs Redis on the request path (its revocation is checked every time).
        For a route whose pages are cached, the page is looked up while the revocation is
        checked, and served only if the token is not revoked; on a miss the lookup's
        generations go on to the service that owns the page."""
        principal, refusal = None, None
        if route.access is not Access.PUBLIC:
            token = bearer_token(_header(scope, b"authorization"))
            if token is not None:
                try:
                    principal = self._decode(token)
                except Rejection as rejection:
                    refusal = rejection
            elif route.access is Access.REQUIRED:
                refusal = Rejection(
                    401, "Authentication required", [(b"www-authenticate", b"Bearer")]
                )
        identity = f"u:{principal.user_id}" if principal else f"ip:{_client_ip(scope)}"
        limit = (
            self.settings.rate_limit_user_per_minute
            if principal
            else self.settings.rate_limit_ip_per_minute
        )
        if (broken := self.rate_limiter.allow(identity, limit)) is not None:
            raise _rate_limited(broken)
        if refusal is not None:
            raise refusal
        if principal is None:
            return None, None
        page = None
        try:
            if (cached := self._page_cache(route, scope)) is not None:
                cache, field = cached
                check = self.revocations.submit(principal)  # the page is read meanwhile
                try:
                    page = await self.page_reads.submit(cache, principal.user_id, field)
                except RedisError:
                    page = None  # the cache is down: the service computes the page
                except BaseException:
                    check.cancel()
                    raise
                revoked = await check
            else:
                revoked = await self.revocations.revoked(principal)
        except RedisError as exc:
            # Cannot tell whether the token was revoked: refuse rather than guess.
            raise Rejection(
                503,
                "Token verification is unavailable, try again shortly",
                [(b"retry-after", b"5")],
            ) from exc
        if revoked:
            raise Rejection(
                401, "The access token has been revoked", [(b"www-authenticate", b"Bearer")]
            )
        return principal, page

    def _page_cache(self, route: Route, scope: Scope) -> tuple[UserPageCache, str] | None:
        """The page cache and field for a GET of a route whose pages are cached, else None."""
        if route.user_pages is None or scope["method"] != "GET":
            return None
        query = plain_page_query(scope["query_string"])
        if query is None:
            return None
        cache = self.page_caches.get(route.user_pages.prefix)
        if cache is None:
            cache = UserPageCache(self.redis, route.user_pages, ttl_s=0)
            self.page_caches[route.user_pages.prefix] = cache
        return cache, page_field(*query)

    def _decode(self, token: str) -> Principal:
        try:
            return self.tokens.decode(token)
        except InvalidToken as exc:
            raise Rejection(
                401, "The access token is invalid or expired", [(b"www-authenticate", b"Bearer")]
            ) from exc

    # --- forwarding -------------------------------------------------------------------------
    def _upstream_headers(
        self, scope: Scope, principal: Principal | None, page: PageLookup | None
    ) -> list[tuple[bytes, bytes]]:
        # uvicorn gives the names in lower case
        headers = [(k, v) for k, v in scope["headers"] if k not in DROPPED_REQUEST_HEADER_NAMES]
        headers += (
            (b"x-request-id", (request_id_var.get() or "").encode()),
            (INTERNAL_TOKEN_HEADER.encode(), self.internal_secret),
            (CLIENT_IP_HEADER.encode(), _client_ip(scope).encode("latin-1")),
        )
        if principal is not None:
            headers += (
                (USER_ID_HEADER.encode(), str(principal.user_id).encode()),
                (SESSION_ID_HEADER.encode(), principal.session_id.encode("latin-1")),
                (TOKEN_ID_HEADER.encode(), principal.token_id.encode("latin-1")),
                (TOKEN_EXPIRES_HEADER.encode(), str(principal.expires_at.timestamp()).encode()),
            )
        if page is not None:  # a cached route's miss: the owner needs not read Redis again
            headers.append((PAGE_STAMP_HEADER.encode(), page.stamp.encode("latin-1")))
        return headers

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: Route,
        principal: Principal | None,
        page: PageLookup | None = None,
    ) -> None:
        body = await _read_body(receive)
        # Only anonymous catalog reads are shared: with a token, answers can depend on the user.
        # They depend on the client's language too (the catalog answers Vary on it).
        shared = route.service == "catalog" and scope["method"] == "GET" and principal is None
        cache_key = _micro_cache_key(scope) if shared else ""
        if shared and (cached := self.micro_cache.get(cache_key)) is not None:
            await send_whole(send, *_cached_answer(scope, *cached))
            return
        target = _target(scope)
        if route.streaming:
            await self._forward_stream(scope, receive, send, route, target, body, principal, page)
            return
        try:
            answer = await self.upstream_pools[route.service].request(
                scope["method"],
                target,
                self._upstream_headers(scope, principal, page),
                body,
                timeout_s=self.settings.upstream_timeout_s,
            )
        except (TimeoutError, UpstreamError) as exc:
            raise _unanswered(route.service, exc) from exc
        headers = [(k, v) for k, v in answer.headers if k not in DROPPED_RESPONSE_HEADER_NAMES]
        if shared and answer.status == 200:
            self.micro_cache.put(cache_key, answer.status, headers, answer.body)
        await send_whole(send, answer.status, headers, answer.body)

    async def _forward_stream(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: Route,
        target: bytes,
        body: bytes,
        principal: Principal | None,
        page: PageLookup | None,
    ) -> None:
        """A route whose answer may be a long-lived event stream, through aiohttp."""
        assert self.session is not None
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in self._upstream_headers(scope, principal, page)
        ]
        try:
            async with self.session.request(
                scope["method"],
                self.upstreams[route.service] + target.decode("latin-1"),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=self.stream_timeout,
            ) as upstream:
                if upstream.content_type == "text/event-stream":
                    await self._relay_stream(upstream, send, receive, principal)
                    return
                payload = await upstream.read()
                response_headers = _response_headers(upstream)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _unanswered(route.service, exc) from exc
        await send_whole(send, upstream.status, response_headers, payload)

    async def _relay_stream(
        self,
        upstream: aiohttp.ClientResponse,
        send: Send,
        receive: Receive,
        principal: Principal | None,
    ) -> None:
        """Pass a server-sent event stream through as it comes, without buffering, until the
        upstream ends it, the client goes away, or the caller's token is revoked or expires.
        Leaving closes the upstream connection (and so the service's subscription): uvicorn's
        `send` does not fail after a client has gone, so the disconnect is watched for."""
        await send(
            {
                "type": "http.response.start",
                "status": upstream.status,
                "headers": _response_headers(upstream),
            }
        )
        pump = asyncio.create_task(_pump(upstream, send))
        watch = asyncio.create_task(self._watch_stream(receive, principal))
        done, _ = await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        for task in (pump, watch):
            task.cancel()
        await asyncio.gather(pump, watch, return_exceptions=True)
        if watch in done and not watch.cancelled() and watch.result() == "client gone":
            return
        with contextlib.suppress(OSError):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watch_stream(self, receive: Receive, principal: Principal | None) -> str:
        """Why the stream must end: the client went away, or its token no longer holds."""
        gone = asyncio.create_task(_disconnected(receive))
        try:
            while True:
                done, _ = await asyncio.wait({gone}, timeout=self.settings.stream_recheck_s)
                if done:
                    return "client gone"
                if principal is None:
                    continue
                if principal.expires_at.timestamp() <= time.time():
                    return "token expired"
                try:
                    if await self.revocations.revoked(principal):
                        return "token revoked"
                except RedisError:
                    return "revocation unknown"  # fail closed; the client reconnects later
        finally:
            gone.cancel()


def _target(scope: Scope) -> bytes:
    """The request's path and query as sent."""
    if scope.get("query_string"):
        return bytes(scope["raw_path"]) + b"?" + scope["query_string"]
    return bytes(scope["raw_path"])


def _micro_cache_key(scope: Scope) -> str:
    """The micro-cache's key of a request: its path and query as sent, and its language."""
    return f"{_target(scope).decode('latin-1')}\n{_header(scope, b'accept-language') or ''}"


def _rate_limited(broken: RateLimitKey) -> Rejection:
    return Rejection(
        429, "Rate limit exceeded", [(b"retry-after", str(broken.retry_after_s).encode())]
    )


def _unanswered(service: str, error: Exception) -> Rejection:
    """What the caller is told when `service` gave no usable answer: it was too slow (504),
    could not be reached or went away mid-answer (503), or answered something broken (502)."""
    if isinstance(error, TimeoutError):  # aiohttp's timeouts are TimeoutErrors too
        return Rejection(504, f"The {service} service did not answer in time")
    if isinstance(error, UpstreamUnavailable | aiohttp.ClientConnectionError):
        return Rejection(
            503,
            f"The {service} service is unavailable, try again shortly",
            [(b"retry-after", b"5")],
        )
    return Rejection(502, f"The {service} service gave a broken answer")


def _cached_answer(
    scope: Scope, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> Response:
    """A micro-cached answer, or 304 when the client already holds it (its ETag matches);
    without its Content-Length."""
    etag = next((value for key, value in headers if key == b"etag"), None)
    if etag is not None and _names_etag(_header(scope, b"if-none-match"), etag):
        return 304, [(k, v) for k, v in headers if k in NOT_MODIFIED_HEADERS], b""
    return status, headers, body


def _names_etag(if_none_match: str | None, etag: bytes) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag.decode("latin-1") in tags


async def _pump(upstream: aiohttp.ClientResponse, send: Send) -> None:
    try:
        async for chunk in upstream.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except aiohttp.ClientError:
        logger.info("event stream from upstream ended")


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _response_headers(upstream: aiohttp.ClientResponse) -> list[tuple[bytes, bytes]]:
    return [
        (key.lower(), value)
        for key, value in upstream.raw_headers
        if key.decode("latin-1").lower() not in DROPPED_RESPONSE_HEADERS
    ]


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def _with_length(answer: Response) -> Response:
    status, headers, body = answer
    return status, [*headers, (b"content-length", str(len(body)).encode())], body


def _refused(rejection: Rejection, path: str) -> Response:
    """A rejection's problem answer, with its Content-Length."""
    return _with_length(_problem(rejection.status, rejection.detail, path, rejection.headers))


def _problem(
    status: int, detail: str, path: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> Response:
    """A problem+json answer, without its Content-Length."""
    body = problem_bytes(status, detail, path)
    return status, [(b"content-type", PROBLEM_CONTENT_TYPE.encode()), *headers], body


async def _send_problem(
    send: Send, status: int, detail: str, path: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    await send_whole(send, *_problem(status, detail, path, headers))
