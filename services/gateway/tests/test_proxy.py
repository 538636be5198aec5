"""The gateway's micro-cache of anonymous catalog reads, its answers at once, and its answers
to signed-in cached pages after their Redis reads."""

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gateway.config import GatewaySettings
from gateway.proxy import GatewayProxy, MicroCache
from shared.middleware import Message, Receive, Response, Scope, Send
from shared.pagecache import FAVORITES_PAGES, PAGE_STAMP_HEADER, PageLookup, UserPageCache
from shared.redis import make_redis
from shared.security import COPY_COMPLETE_KEY, issue_access_token, revoked_session_key
from testsupport.calls import keys_of_script_calls
from testsupport.infra import Infra


def test_entries_expire_and_the_cache_stays_bounded() -> None:
    cache = MicroCache(ttl_s=0.05, max_entries=2)
    cache.put("/a", 200, [(b"x-cache", b"HIT")], b"{}")
    assert cache.get("/a") == (200, [(b"x-cache", b"HIT")], b"{}")
    time.sleep(0.06)
    assert cache.get("/a") is None
    for key in ("/1", "/2", "/3"):
        cache.put(key, 200, [], b"")
    assert len(cache.entries) <= 2


def test_a_zero_ttl_turns_it_off() -> None:
    cache = MicroCache(ttl_s=0, max_entries=10)
    cache.put("/a", 200, [], b"{}")
    assert cache.get("/a") is None


# --- anonymous catalog reads answered from the micro-cache at once ------------------------


class _Catalog(BaseHTTPRequestHandler):
    """Answers every GET with the same JSON page and ETag, counting the calls and keeping the
    page stamp each was sent with (it serves as the library too)."""

    calls = 0
    stamps: list[str | None] = []

    def do_GET(self) -> None:
        type(self).calls += 1
        type(self).stamps.append(self.headers.get(PAGE_STAMP_HEADER))
        body = b'{"results": []}'
        self.send_response(200)
        for name, value in (
            ("content-type", "application/json"),
            ("etag", '"v1"'),
            ("cache-control", "public, max-age=60"),
            ("vary", "Accept-Language, Authorization"),
            ("x-cache", "HIT"),
            ("content-length", str(len(body))),
        ):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
async def proxy(infra: Infra) -> AsyncIterator[GatewayProxy]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Catalog)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Catalog.calls, _Catalog.stamps = 0, []
    settings = GatewaySettings(
        catalog_url=f"http://127.0.0.1:{server.server_address[1]}",
        library_url=f"http://127.0.0.1:{server.server_address[1]}",
        rate_limit_ip_per_minute=4,
        micro_cache_ttl_s=60,
    )
    redis = make_redis(infra.redis_url)
    await redis.set(COPY_COMPLETE_KEY, b"test")  # the revocation copy is whole
    proxy = GatewayProxy(fallback=_nothing, settings=settings, redis=redis, security_redis=redis)
    await proxy.start()
    yield proxy
    await proxy.stop(5)
    await redis.aclose()
    server.shutdown()
    thread.join(timeout=5)


async def _nothing(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("not a gateway route")


def _get(path: str, *headers: tuple[bytes, bytes], client: str = "10.0.0.1") -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": list(headers),
        "client": (client, 5000),
    }


async def _asgi(proxy: GatewayProxy, scope: Scope) -> Response:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    async with asyncio.timeout(10):
        await proxy(scope, receive, send)
    return sent[0]["status"], sent[0]["headers"], sent[1]["body"]


async def test_a_cached_anonymous_read_is_answered_at_once_as_the_proxy_answers_it(
    proxy: GatewayProxy,
) -> None:
    trending = "/api/v1/movies/trending"
    assert proxy.answer_at_once(_get(trending)) is None  # not held yet: the proxy's
    first = await _asgi(proxy, _get(trending))
    assert first[0] == 200 and _Catalog.calls == 1
    scope = _get(trending)
    at_once = proxy.answer_at_once(scope)
    assert at_once == await _asgi(proxy, _get(trending, client="10.0.0.2"))
    assert at_once is not None and at_once[2] == b'{"results": []}'
    assert (b"content-length", b"15") in at_once[1] and (b"etag", b'"v1"') in at_once[1]
    assert scope["route_template"] == trending  # for the access line and the metrics
    assert _Catalog.calls == 1

    held = proxy.answer_at_once(_get(trending, (b"if-none-match", b'"v1"')))
    assert held == (
        304,
        [
            (b"etag", b'"v1"'),
            (b"cache-control", b"public, max-age=60"),
            (b"vary", b"Accept-Language, Authorization"),
            (b"x-cache", b"HIT"),
            (b"content-length", b"0"),
        ],
        b"",
    )
    # Another language, a token, another method or a path of another service: the proxy's.
    assert proxy.answer_at_once(_get(trending, (b"accept-language", b"fr"))) is None
    assert proxy.answer_at_once(_get(trending, (b"authorization", b"Bearer x.y.z"))) is None
    assert proxy.answer_at_once({**_get(trending), "method": "HEAD"}) is None
    assert proxy.answer_at_once(_get("/api/v1/favorites")) is None
    assert proxy.answer_at_once(_get("/docs")) is None


async def test_answers_at_once_count_against_the_clients_rate_limit(proxy: GatewayProxy) -> None:
    trending = "/api/v1/movies/trending"
    await _asgi(proxy, _get(trending))  # 1 of the 4 a minute
    statuses = [proxy.answer_at_once(_get(trending)) for _ in range(4)]
    assert [answer[0] for answer in statuses if answer] == [200, 200, 200, 429]
    refused = statuses[3]
    assert refused is not None
    headers = dict(refused[1])
    assert headers[b"content-type"] == b"application/problem+json"
    assert int(headers[b"retry-after"]) >= 1
    assert headers[b"content-length"] == str(len(refused[2])).encode()
    assert (await _asgi(proxy, _get(trending)))[0] == 429  # the same count either way
    assert (await _asgi(proxy, _get(trending, client="10.0.0.9")))[0] == 200


# --- signed-in cached pages answered after their Redis reads -------------------------------


def _signed_in(proxy: GatewayProxy, path: str = "/api/v1/favorites", **scope: Any) -> Scope:
    """A GET of `path` with a new user's token (scope["user_id"], scope["session_id"])."""
    user_id, session_id = uuid.uuid4(), uuid.uuid4().hex
    token, _ = issue_access_token(
        user_id=user_id,
        session_id=session_id,
        secret=proxy.settings.jwt_secret,
        algorithm=proxy.settings.jwt_algorithm,
        ttl_s=300,
    )
    request = _get(path, (b"authorization", f"Bearer {token}".encode()))
    return {**request, **scope, "user_id": user_id, "session_id": session_id}


async def _store_page(proxy: GatewayProxy, user_id: uuid.UUID, body: bytes) -> None:
    cache = UserPageCache(proxy.redis, FAVORITES_PAGES, ttl_s=60)
    assert await cache.put(user_id, await cache.get(user_id, "1:20"), {"1:20": body})


async def _soon(proxy: GatewayProxy, scope: Scope) -> Response | None:
    pending = proxy.answer_soon(scope)
    assert pending is not None, "the shortcut should take it"
    async with asyncio.timeout(10):
        return await pending


async def test_a_signed_in_cached_page_is_answered_after_its_reads_as_the_proxy_answers_it(
    proxy: GatewayProxy,
) -> None:
    scope = _signed_in(proxy)
    await _store_page(proxy, scope["user_id"], b'{"items": [1]}')
    answer = await _soon(proxy, scope)
    assert answer == (
        200,
        [(b"content-type", b"application/json"), (b"content-length", b"14")],
        b'{"items": [1]}',
    )
    assert answer == await _asgi(proxy, {**scope})
    assert scope["route_template"] == "/api/v1/favorites"  # for the access line and the metrics
    assert _Catalog.calls == 0


async def test_a_revoked_or_broken_token_is_refused_from_there(proxy: GatewayProxy) -> None:
    scope = _signed_in(proxy)
    await _store_page(proxy, scope["user_id"], b"[]")
    await proxy.revocations.redis.set(revoked_session_key(scope["session_id"]), b"1", ex=60)
    answers = [
        await _soon(proxy, scope),
        await _soon(proxy, _get("/api/v1/favorites", (b"authorization", b"Bearer x.y.z"))),
    ]
    for answer in answers:
        assert answer is not None
        status, headers, body = answer
        assert status == 401 and (b"www-authenticate", b"Bearer") in headers
        assert (b"content-type", b"application/problem+json") in headers
        assert (b"content-length", str(len(body)).encode()) in headers
    assert b"revoked" in answers[0][2] and _Catalog.calls == 0


async def test_a_page_not_cached_goes_to_its_owner_read_and_counted_once(
    proxy: GatewayProxy,
) -> None:
    """No page: the shortcut leaves the request to the proxy with what it read, which passes
    the generations on without reading Redis or counting the request again."""
    scope = _signed_in(proxy)
    reads = keys_of_script_calls(proxy.page_reads, "_get_many")
    allow = proxy.rate_limiter.allow
    counted: list[str] = []
    proxy.rate_limiter.allow = lambda key, limit: counted.append(key) or allow(key, limit)  # type: ignore[method-assign,func-returns-value]
    assert await _soon(proxy, scope) is None
    status, _, _ = await _asgi(proxy, scope)
    assert status == 200 and _Catalog.calls == 1
    assert _Catalog.stamps[0] is not None and PageLookup.from_stamp(_Catalog.stamps[0])
    assert len(reads) == 1 and counted == [f"u:{scope['user_id']}"]


async def test_only_signed_in_plain_reads_of_cached_pages_are_taken(proxy: GatewayProxy) -> None:
    assert proxy.answer_soon(_get("/api/v1/favorites")) is None  # no token: the proxy's 401
    for scope in (
        _signed_in(proxy, query_string=b"sort=title"),  # not a plain page query
        _signed_in(proxy, method="POST"),
        _signed_in(proxy, "/api/v1/watchlist"),  # no cached pages
        _signed_in(proxy, "/api/v1/favorites/12"),
    ):
        assert proxy.answer_soon(scope) is None
