"""shared.protocol through a real uvicorn server: answers from memory are written at once, in
order with the app's, and the connection goes on as after any response."""

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest
import uvicorn

from shared.middleware import Receive, Response, Scope, Send
from shared.protocol import AnsweringHttpToolsProtocol, ForwardedFor
from tools.stack import free_port

KEEP_ALIVE_S = 1


class App:
    """Answers GET /memory at once, GET /soon* after a round trip (/soon-none leaves it to the
    app after that, /soon-broken fails in it, /soon-slow takes 0.2 s); everything else (slowly
    for /slow) through ASGI."""

    def __init__(self) -> None:
        self.through_asgi: list[str] = []
        self.soon_started = asyncio.Event()
        self.server: uvicorn.Server | None = None  # the server serving it

    def answer_soon(self, scope: Scope) -> Awaitable[Response | None] | None:
        if not scope["path"].startswith("/soon"):
            return None
        return self._soon(scope["path"])

    async def _soon(self, path: str) -> Response | None:
        self.soon_started.set()
        await asyncio.sleep(0.2 if path == "/soon-slow" else 0)
        if path == "/soon-broken":
            raise RuntimeError("a bug in the shortcut")
        if path == "/soon-none":
            return None
        body = f"soon {path}".encode()
        headers = [(b"content-length", b"%d" % len(body)), (b"x-answer", b"after a round trip")]
        return 200, headers, body

    def answer_at_once(self, scope: Scope) -> Response | None:
        if scope["path"] == "/broken":
            raise RuntimeError("a bug in the shortcut")
        if scope["path"] != "/memory":
            return None
        body = b"from memory"
        return 200, [(b"content-length", b"%d" % len(body)), (b"x-answer", b"at once")], body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.through_asgi.append(f"{scope['method']} {scope['path']}")
        if scope["path"] == "/slow":
            await asyncio.sleep(0.2)
        body = f"asgi {scope['method']} {scope['path']}".encode()
        headers = [(b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def served() -> AsyncIterator[tuple[App, int]]:
    app, port = App(), free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="none",
        http=AnsweringHttpToolsProtocol,
        lifespan="off",
        proxy_headers=False,  # as shared.serve serves every service (ForwardedFor does it)
        timeout_keep_alive=KEEP_ALIVE_S,
        log_config=None,
    )
    server = app.server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for it)
            await asyncio.sleep(0.01)
    yield app, port
    server.should_exit = True
    async with asyncio.timeout(10):
        await task


async def _responses(reader: asyncio.StreamReader, count: int) -> list[tuple[bytes, dict, bytes]]:
    """`count` responses: status line, headers (lower-cased names) and body."""
    found = []
    async with asyncio.timeout(5):
        for _ in range(count):
            head = await reader.readuntil(b"\r\n\r\n")
            status, *lines = head.decode("latin-1").split("\r\n")[:-2]
            headers = dict(line.lower().split(": ", 1) for line in lines)
            body = await reader.readexactly(int(headers["content-length"]))
            found.append((status.encode(), headers, body))
    return found


def _get(path: str, *extra: str, method: str = "GET", version: str = "1.1") -> bytes:
    return f"{method} {path} HTTP/{version}\r\nHost: test\r\n{''.join(extra)}\r\n".encode()


@pytest.mark.parametrize(
    ("path", "body", "answered"),
    [("/memory", b"from memory", "at once"), ("/soon", b"soon /soon", "after a round trip")],
)
async def test_a_shortcuts_answer_is_written_with_the_date_and_the_connection_kept(  # type: ignore[no-untyped-def]
    served, path, body, answered
) -> None:
    app, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_get(path))
    [(status, headers, got)] = await _responses(reader, 1)
    assert (status, got) == (b"HTTP/1.1 200 OK", body)
    assert headers["x-answer"] == answered and "date" in headers and "connection" not in headers
    writer.write(_get(path))  # the connection is kept open for the next request
    assert (await _responses(reader, 1))[0][2] == body
    assert app.through_asgi == []
    writer.close()


@pytest.mark.parametrize(
    ("paths", "answers"),
    [
        (
            ["/memory", "/slow", "/memory", "/other"],
            ["from memory", "asgi GET /slow", "from memory", "asgi GET /other"],
        ),
        (  # answers after a round trip among them, the first the slowest
            ["/soon-slow", "/memory", "/slow", "/soon"],
            ["soon /soon-slow", "from memory", "asgi GET /slow", "soon /soon"],
        ),
    ],
)
async def test_pipelined_requests_are_answered_in_order(served, paths, answers) -> None:  # type: ignore[no-untyped-def]
    _, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"".join(_get(path) for path in paths))
    bodies = [body for _, _, body in await _responses(reader, len(paths))]
    assert bodies == [answer.encode() for answer in answers]
    writer.close()


@pytest.mark.parametrize(
    ("request_bytes", "seen"),
    [
        (_get("/memory", method="HEAD"), "HEAD /memory"),
        (_get("/memory", "Content-Length: 2\r\n", method="POST") + b"{}", "POST /memory"),
        (_get("/memory", "Connection: close\r\n"), "GET /memory"),
        (_get("/memory", version="1.0"), "GET /memory"),
        (_get("/memory", "Content-Length: 0\r\n", "Expect: 100-continue\r\n"), "GET /memory"),
        (_get("/broken"), "GET /broken"),  # a shortcut that fails leaves it to the app
    ],
)
async def test_anything_out_of_the_ordinary_goes_the_asgi_way(served, request_bytes, seen) -> None:  # type: ignore[no-untyped-def]
    app, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request_bytes)
    async with asyncio.timeout(5):
        answer = await reader.readuntil(b"\r\n\r\n")
    assert answer.startswith((b"HTTP/1.1 200", b"HTTP/1.1 100"))
    assert app.through_asgi == [seen]
    writer.close()


async def test_answers_in_one_read_leave_one_keep_alive_timer(served) -> None:  # type: ignore[no-untyped-def]
    """Two requests answered in one read end two responses there and then: a keep-alive timer
    left over from the first would close the connection a period later, however busy it is."""
    _, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_get("/memory") + _get("/memory"))
    await _responses(reader, 2)
    for _ in range(3):  # each inside the keep-alive period, together well beyond it
        await asyncio.sleep(KEEP_ALIVE_S * 0.6)
        writer.write(_get("/memory"))
        assert (await _responses(reader, 1))[0][2] == b"from memory"
    writer.close()


async def test_a_shortcut_that_gives_none_or_fails_after_its_round_trip_leaves_it_to_the_app(
    served,
) -> None:  # type: ignore[no-untyped-def]
    app, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_get("/soon-none") + _get("/soon-broken") + _get("/soon"))
    bodies = [body for _, _, body in await _responses(reader, 3)]
    assert bodies == [b"asgi GET /soon-none", b"asgi GET /soon-broken", b"soon /soon"]
    assert app.through_asgi == ["GET /soon-none", "GET /soon-broken"]
    writer.close()


async def test_a_client_gone_before_the_answer_comes_is_not_written_to(served, caplog) -> None:  # type: ignore[no-untyped-def]
    app, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_get("/soon-slow"))
    async with asyncio.timeout(5):
        await app.soon_started.wait()
    writer.close()
    await asyncio.sleep(0.3)  # the answer comes for a connection that is gone: nothing breaks
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_get("/soon"))
    assert (await _responses(reader, 1))[0][2] == b"soon /soon"
    writer.close()
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


async def test_an_answer_that_comes_during_shutdown_closes_the_connection(served) -> None:  # type: ignore[no-untyped-def]
    """The server stops taking requests while an answer is awaited: the answer is still
    written, saying the connection closes, and then it does."""
    app, port = served
    assert app.server is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_get("/soon-slow"))
    async with asyncio.timeout(5):
        await app.soon_started.wait()
    app.server.should_exit = True
    [(status, headers, body)] = await _responses(reader, 1)
    assert (status, body) == (b"HTTP/1.1 200 OK", b"soon /soon-slow")
    assert headers["connection"] == "close"
    async with asyncio.timeout(5):
        assert await reader.read() == b""  # closed by the server
    writer.close()


async def test_behind_a_trusted_proxy_shortcuts_and_the_app_see_the_forwarded_client() -> None:
    seen: list[tuple[str, object, object]] = []

    class Recording(App):
        def answer_at_once(self, scope: Scope) -> Response | None:
            seen.append(("at once", scope["client"], scope.get("scheme")))
            return None

        def answer_soon(self, scope: Scope) -> Awaitable[Response | None] | None:
            seen.append(("soon", scope["client"], scope.get("scheme")))
            return None

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(("app", scope["client"], scope.get("scheme")))

    wrapped = ForwardedFor(Recording(), trusted_hosts="10.0.0.0/8")

    def scope(client: str) -> Scope:
        return {
            "type": "http",
            "scheme": "http",
            "client": (client, 4000),
            "headers": [
                (b"x-forwarded-for", b"203.0.113.5, 10.0.0.9"),
                (b"x-forwarded-proto", b"https"),
            ],
        }

    through_ingress = scope("10.0.0.7")
    assert wrapped.answer_at_once(through_ingress) is None
    assert wrapped.answer_soon(through_ingress) is None
    await wrapped(through_ingress, _never, _never)
    forwarded = ("203.0.113.5", 0)
    assert seen == [(where, forwarded, "https") for where in ("at once", "soon", "app")]
    seen.clear()
    direct = scope("192.0.2.1")  # not a trusted proxy: what it claims is ignored
    assert wrapped.answer_at_once(direct) is None
    await wrapped(direct, _never, _never)
    assert seen == [(where, ("192.0.2.1", 4000), "http") for where in ("at once", "app")]


async def _never() -> Any:
    raise AssertionError("not called")
