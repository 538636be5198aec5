"""Keep-alive HTTP/1.1 connections from the gateway to one service, for whole answers.

The proxy's forwarded requests spent about a third of the gateway's CPU in aiohttp's client
(its request and response objects, header multidicts, timer handles). This client writes a
request as one buffer and reads the answer with httptools (the parser uvicorn serves with):
no more than a forwarded request needs. Event streams, the readiness checks and the merged
OpenAPI document still use aiohttp.

Failures are told apart as the proxy answers them: `TimeoutError` (the service did not answer
in time), `UpstreamUnavailable` (no connection, or it was lost before the whole answer came)
and `UpstreamBroken` (the answer is not HTTP). A connection reused from the pool that the
service closed while it lay idle is tried once more on a new one, for methods whose repeat
does no harm (as aiohttp does); any other failure closes the connection it happened on, and
so does a caller cancelled or timed out mid-answer (what is left of that answer is unknown).
"""

import asyncio
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

# Repeating these on a new connection does no harm (RFC 9110, 9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Methods whose request is sent with a Content-Length even when the body is empty.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# An idle connection is dropped after this long: well before the services close theirs
# (shared.serve.KEEP_ALIVE_S), so a connection taken from the pool is rarely one the service
# is closing at that moment.
IDLE_S = 30.0


class UpstreamError(Exception):
    """The service could not be asked, or its answer could not be read."""


class UpstreamUnavailable(UpstreamError):
    """No connection, or it ended before the whole answer came."""


class UpstreamBroken(UpstreamError):
    """The service answered something that is not HTTP."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]  # names in lower case, in the order sent
    body: bytes


class _Connection(asyncio.Protocol):
    """One connection: a request written, its answer parsed as it comes."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.answer: asyncio.Future[Answer] | None = None
        self.heard = False  # a byte of the current answer arrived
        self.keep_alive = False
        self.closed = False
        self.idle_since = time.monotonic()
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._headers_done = False
        self._framed = False  # a Content-Length or chunks, or no body: not ended by a close

    # --- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.heard = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(UpstreamBroken(f"not an HTTP answer: {error}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._headers_done and not self._framed:
            self.on_message_complete()  # an answer whose end is the connection's end
        self._fail(UpstreamUnavailable("the connection ended before the whole answer"))

    # --- httptools callbacks --------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in (b"content-length", b"transfer-encoding"):
            self._framed = True
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self.keep_alive = self.parser.should_keep_alive()
        status = self.parser.get_status_code()
        if status < 200 or status in (204, 304):
            self._framed = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        answer, self.answer = self.answer, None
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer: the real one follows
            self.answer = answer
            self._reset()
            return
        if answer is not None and not answer.done():
            answer.set_result(Answer(status, self._headers, b"".join(self._body)))
        if answer is None:  # an answer nobody asked for: the connection is not to be trusted
            self.close()

    # --- the client's side ----------------------------------------------------------------
    def exchange(self, request: bytes) -> "asyncio.Future[Answer]":
        assert self.transport is not None and self.answer is None
        self._reset()
        self.heard = False
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _reset(self) -> None:
        self._headers, self._body = [], []
        self._headers_done = self._framed = False

    def _fail(self, error: UpstreamError) -> None:
        answer, self.answer = self.answer, None
        if answer is not None and not answer.done():
            answer.set_exception(error)


class UpstreamPool:
    """Connections to one service (`http://host:port`), at most `max_connections` in use."""

    def __init__(self, url: str, *, max_connections: int, connect_timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"an upstream is an http://host:port URL, not {url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.host_header = parts.netloc.encode("idna")
        self.connect_timeout_s = connect_timeout_s
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Connection] = []
        self._closed = False
        self._turn = 0

    async def request(
        self,
        method: str,
        target: bytes,
        headers: Iterable[tuple[bytes, bytes]],
        body: bytes,
        *,
        timeout_s: float,
    ) -> Answer:
        """The service's whole answer to one request, within `timeout_s` (a connection's
        wait for a free slot and its opening included)."""
        request = self._request_bytes(method, target, headers, body)
        async with asyncio.timeout(timeout_s), self._slots:
            connection, reused = await self._connection()
            try:
                answer = await connection.exchange(request)
            except UpstreamUnavailable:
                connection.close()
                if not (reused and not connection.heard and method in IDEMPOTENT_METHODS):
                    raise
                connection, _ = await self._connection(fresh=True)
                try:
                    answer = await connection.exchange(request)
                except BaseException:
                    connection.close()
                    raise
            except BaseException:
                connection.close()
                raise
            self._put_back(connection)
            return answer

    async def close(self) -> None:
        """Close the idle connections; those in use are closed when their answer is read."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _request_bytes(
        self, method: str, target: bytes, headers: Iterable[tuple[bytes, bytes]], body: bytes
    ) -> bytes:
        head = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\nhost: ", self.host_header]
        for name, value in headers:
            head += (b"\r\n", name, b": ", value)
        if body or method in BODY_METHODS:
            head += (b"\r\ncontent-length: ", str(len(body)).encode())
        head += (b"\r\n\r\n", body)
        return b"".join(head)

    async def _connection(self, *, fresh: bool = False) -> tuple[_Connection, bool]:
        """A connection to use and whether it was used before: the newest idle one that is
        still open and not idle too long, else a new one."""
        now = time.monotonic()
        while self._idle and not fresh:
            connection = self._idle.pop()
            if not connection.closed and now - connection.idle_since < IDLE_S:
                return connection, True
            connection.close()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                return await self._open(), False
        except OSError as error:
            raise UpstreamUnavailable(f"cannot connect: {error}") from error

    async def _open(self) -> _Connection:
        """A new connection. The name is looked up each time, and each new connection starts
        at the next of its addresses: a name with several (a service's replicas behind the
        compose network's DNS) has its connections spread over them, as aiohttp's are."""
        loop = asyncio.get_running_loop()
        found = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys((str(info[4][0]), int(info[4][1])) for info in found))
        if not addresses:
            raise OSError(f"{self.host} has no address")
        self._turn = start = (self._turn + 1) % len(addresses)
        failure: OSError | None = None
        for host, port in addresses[start:] + addresses[:start]:
            try:
                _, connection = await loop.create_connection(_Connection, host, port)
                return connection
            except OSError as error:
                failure = error
        assert failure is not None
        raise failure

    def _put_back(self, connection: _Connection) -> None:
        if self._closed or connection.closed or not connection.keep_alive:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)
