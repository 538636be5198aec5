"""Pure ASGI middleware: request ids, access logs, latency metrics and the body size limit.

Written against raw ASGI rather than BaseHTTPMiddleware because it sits on every hot path.
"""

import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.context import correlation_id_var, request_id_var
from shared.errors import PROBLEM_CONTENT_TYPE, problem_bytes
from shared.logging import access_log as fast_access_log
from shared.metrics import HTTP_REQUEST_DURATION

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Response = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body
# An answer from memory, without an await, or None: see RequestContextMiddleware.
Shortcut = Callable[[Scope], Response | None]
# An answer after one round trip: None when the request is not one it answers, else an
# awaitable of the answer, or of None for the app to answer (see RequestContextMiddleware).
SoonShortcut = Callable[[Scope], Awaitable[Response | None] | None]

access_log = logging.getLogger("access")
REQUEST_ID_HEADER = b"x-request-id"
_MAX_REQUEST_ID_LENGTH = 128
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# The request id given to a request `answer_soon` took and then left to the app, kept for it.
_REQUEST_ID_KEY = "shared.request_id"
# Generated request ids: 32 hex characters, a random per-process half and a counter, unique
# across processes and restarts without a system call per request.
_ID_PREFIX = os.urandom(8).hex()
_id_counter = itertools.count(int.from_bytes(os.urandom(4), "big"))


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter) & 0xFFFFFFFFFFFFFFFF:016x}"


class _DurationByRoute:
    """`HTTP_REQUEST_DURATION` children by (route, method, status), looked up once each."""

    def __init__(self) -> None:
        self.children: dict[tuple[str, str, int], Any] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        child = self.children.get(key)
        if child is None:
            child = self.children[key] = HTTP_REQUEST_DURATION.labels(route, method, str(status))
        child.observe(seconds)


_durations = _DurationByRoute()


class BodyTooLarge(StarletteHTTPException):
    """The client sent more bytes than the limit (an HTTPException so FastAPI passes it on)."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(413, f"The request body is larger than {limit_bytes} bytes")


JSON_CONTENT = (b"content-type", b"application/json")


async def send_whole(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    """A complete response in its two ASGI messages, with its Content-Length."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _valid_request_id(raw: bytes | None) -> str | None:
    """A client's id if it is visible ASCII (0x21 to 0x7e) and not too long; anything else is
    replaced, since it could not be echoed, logged and passed on byte for byte."""
    if not raw or len(raw) > _MAX_REQUEST_ID_LENGTH:
        return None
    if not all(0x21 <= byte <= 0x7E for byte in raw):
        return None
    return raw.decode("ascii")


def route_template(scope: Scope) -> str:
    """The matched route's template (`/api/v1/movies/{movie_id}`), never the raw path."""
    if template := scope.get("route_template"):
        return str(template)
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


# Routes whose body is a file a user uploads (an export from another site): they may carry
# up to UPLOAD_BODY_BYTES, every other route the settings' max_body_bytes.
UPLOAD_PATHS = frozenset({"/api/v1/me/imports"})
MAX_UPLOAD_FILE_BYTES = 10 * 1024 * 1024
UPLOAD_BODY_BYTES = MAX_UPLOAD_FILE_BYTES + 64 * 1024  # the file and its multipart framing


def _record(
    scope: Scope,
    method: str,
    status: int,
    elapsed_s: float,
    request_id: str,
    correlation_id: str | None,
) -> None:
    """A request's duration metric and access line."""
    _durations.observe(route_template(scope), method, status, elapsed_s)
    if scope["path"] in _QUIET_PATHS:
        return
    duration_ms = round(elapsed_s * 1000, 2)
    if (writer := fast_access_log()) is not None:
        writer.write(method, scope["path"], status, duration_ms, request_id, correlation_id)
    else:
        access_log.info(
            "%s %s %s",
            method,
            scope["path"],
            status,
            extra={
                "status": status,
                "duration_ms": duration_ms,
                "request_id": request_id,
                **({"correlation_id": correlation_id} if correlation_id else {}),
            },
        )


def _bodiless_request_id(scope: Scope) -> bytes | Literal[False] | None:
    """The client's raw request id (None if it sent none), or False if the request has a body."""
    raw_request_id = None
    for key, value in scope["headers"]:
        if key == REQUEST_ID_HEADER:
            raw_request_id = bytes(value)
        elif key == b"content-length" or key == b"transfer-encoding":
            return False
    return raw_request_id


def _completed(scope: Scope, answer: Response, request_id: str, started: float) -> Response:
    """A shortcut's answer with its request id, logged and timed."""
    status, headers, body = answer
    _record(scope, scope["method"], status, time.perf_counter() - started, request_id, None)
    return status, [*headers, (REQUEST_ID_HEADER, request_id.encode())], body


class RequestContextMiddleware:
    """Sets X-Request-ID, enforces the body size limit, logs and times every request.

    `shortcut`, if given, is asked first for each request: an answer it gives (a cached page
    held in memory, say; its headers with their Content-Length) is completed by
    `answer_at_once` (request id, access line, duration) and sent from here, with no further
    ASGI layer, wrapper or coroutine between it and the server; a server that knows
    `answer_at_once` (shared.protocol) writes it to the connection itself.

    `soon_shortcut` is the same for answers that need one round trip (a signed-in cached page
    read from Redis): `answer_soon` gives an awaitable of the completed answer, or of None when
    the shortcut leaves the request to the app after all (a page not cached), which then keeps
    the request id the shortcut's logs carried."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        shortcut: Shortcut | None = None,
        soon_shortcut: SoonShortcut | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.shortcut = shortcut
        self.soon_shortcut = soon_shortcut

    def answer_at_once(self, scope: Scope) -> Response | None:
        """The whole answer to a bodiless request the shortcut answers from memory, its request
        id added, logged and timed; None for any other (the app's)."""
        if self.shortcut is None:
            return None
        started = time.perf_counter()
        raw_request_id = _bodiless_request_id(scope)
        if raw_request_id is False:
            return None  # a body to read (or to refuse): the app's
        answer = self.shortcut(scope)
        if answer is None:
            return None
        request_id = _valid_request_id(raw_request_id) or new_request_id()
        return _completed(scope, answer, request_id, started)

    def answer_soon(self, scope: Scope) -> Awaitable[Response | None] | None:
        """As `answer_at_once`, for the shortcut whose answers need a round trip: None for a
        request it does not take, else an awaitable of the whole answer or of None (the
        app's). Its request id is set for the logs written meanwhile."""
        if self.soon_shortcut is None:
            return None
        started = time.perf_counter()
        raw_request_id = _bodiless_request_id(scope)
        if raw_request_id is False:
            return None
        pending = self.soon_shortcut(scope)
        if pending is None:
            return None
        request_id = _valid_request_id(raw_request_id) or new_request_id()
        return self._answered_soon(scope, pending, request_id, started)

    @staticmethod
    async def _answered_soon(
        scope: Scope, pending: Awaitable[Response | None], request_id: str, started: float
    ) -> Response | None:
        token = request_id_var.set(request_id)
        try:
            answer = await pending
        finally:
            request_id_var.reset(token)
        if answer is None:
            scope[_REQUEST_ID_KEY] = request_id
            return None
        return _completed(scope, answer, request_id, started)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (answer := self.answer_at_once(scope)) is not None:
            status, headers, body = answer
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        # One pass over the headers for everything this middleware reads.
        raw_request_id = declared_length = None
        has_body = False
        for key, value in scope["headers"]:
            if key == REQUEST_ID_HEADER:
                raw_request_id = bytes(value)
            elif key == b"content-length":
                declared_length, has_body = bytes(value), True
            elif key == b"transfer-encoding":
                has_body = True
        request_id = (
            scope.pop(_REQUEST_ID_KEY, None)
            or _valid_request_id(raw_request_id)
            or new_request_id()
        )
        request_token = request_id_var.set(request_id)
        correlation_token = correlation_id_var.set(None)
        started = time.perf_counter()
        sent = [500]  # the status sent, for the log and the metrics
        # HEAD is a GET without the body (RFC 9110): the app answers a GET, and the server,
        # which holds the request as HEAD, sends the head alone.
        method: str = scope["method"]
        app_scope = {**scope, "method": "GET"} if method == "HEAD" else scope
        try:
            await self._through_app(
                app_scope, receive, send, sent, request_id, declared_length, has_body
            )
        finally:
            elapsed = time.perf_counter() - started
            _record(app_scope, method, sent[0], elapsed, request_id, correlation_id_var.get())
            request_id_var.reset(request_token)
            correlation_id_var.reset(correlation_token)

    async def _through_app(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status_holder: list[int],
        request_id: str,
        declared_length: bytes | None,
        has_body: bool,
    ) -> None:
        """The app's answer, with the request id added; its status in `status_holder`."""
        response_started = [False]
        request_id_header = (REQUEST_ID_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_started[0] = True
                status_holder[0] = message["status"]
                headers = [h for h in message.get("headers", ()) if h[0] != REQUEST_ID_HEADER]
                headers.append(request_id_header)
                message["headers"] = headers
            await send(message)

        limit = UPLOAD_BODY_BYTES if scope["path"] in UPLOAD_PATHS else self.max_body_bytes
        if self._too_large(declared_length, limit):
            await self._send_too_large(scope, send_with_id, limit)
            return
        try:
            await self.app(
                scope, self._limited(receive, limit) if has_body else receive, send_with_id
            )
        except BodyTooLarge:
            if response_started[0]:
                raise
            await self._send_too_large(scope, send_with_id, limit)

    @staticmethod
    def _too_large(declared_length: bytes | None, limit: int) -> bool:
        if declared_length is None:
            return False
        try:
            return int(declared_length) > limit
        except ValueError:
            return False

    @staticmethod
    def _limited(receive: Receive, limit: int) -> Receive:
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return limited_receive

    @staticmethod
    async def _send_too_large(scope: Scope, send: Send, limit: int) -> None:
        detail = f"The request body is larger than {limit} bytes"
        body = problem_bytes(413, detail, scope["path"])
        headers = [(b"content-type", PROBLEM_CONTENT_TYPE.encode()), (b"connection", b"close")]
        await send_whole(send, 413, headers, body)
