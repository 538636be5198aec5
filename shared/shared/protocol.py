"""uvicorn's httptools protocol, answering what the app can answer without its ASGI cycle.

A request to an app with `answer_at_once` (a service whose front holds cached pages in
memory: the catalog) is offered to it as soon as its headers are parsed; an answer is written
to the connection there and then, with uvicorn's Date header, and the connection goes on as
after any response (keep-alive timer, pipelined requests). Measured, the ASGI cycle around
such an answer (a task, a response cycle, two send coroutines, the header checks) cost as
much as the answer itself. An app with `answer_soon` (the gateway, whose signed-in cached
pages need one Redis round trip) may instead give an awaitable: its answer is written the
same way when it comes, and a None from it leaves the request to the app, in the same task.
Anything out of the ordinary goes the ASGI way unchanged: another method, a body, `Expect`,
HTTP/1.0 or `Connection: close`, a client not reading what it was sent, an app that does not
answer or fails to.

It builds on uvicorn's `HttpToolsProtocol` internals (`_start_asgi_task`, the cycle's
`response_complete` and `on_response`); uvicorn is pinned in uv.lock and
shared/tests/test_protocol.py checks this behaviour through a real server.
"""

import logging
from collections.abc import Awaitable
from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from shared.middleware import Response, Scope

logger = logging.getLogger(__name__)
# Set on a scope whose forwarded client and scheme were applied (ForwardedFor).
_FORWARDED = "shared.forwarded"


class AnsweringHttpToolsProtocol(HttpToolsProtocol):
    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        if not self._plain(cycle, app):
            super()._start_asgi_task(cycle, app)
        elif (answer := self._asked(app, "answer_at_once", cycle)) is not None:
            self._write(cycle, answer)
        elif (pending := self._asked(app, "answer_soon", cycle)) is not None:
            task = self.loop.create_task(self._answer_when_ready(cycle, app, pending))
            task.add_done_callback(self.tasks.discard)
            self.tasks.add(task)
        else:
            super()._start_asgi_task(cycle, app)

    def _plain(self, cycle: RequestResponseCycle, app: Any) -> bool:
        """A request a shortcut may answer: a bodiless keep-alive GET to an app with one, on a
        connection that takes what it is sent."""
        return (
            (
                getattr(app, "answer_at_once", None) is not None
                or getattr(app, "answer_soon", None) is not None
            )
            and cycle.scope["method"] == "GET"
            and cycle.keep_alive
            and not cycle.waiting_for_100_continue
            and not self.flow.write_paused
            and not self.transport.is_closing()
        )

    @staticmethod
    def _asked(app: Any, shortcut: str, cycle: RequestResponseCycle) -> Any:
        """The shortcut's answer (an answer, or an awaitable of one), or None: no shortcut, no
        answer, or a shortcut that failed (the ASGI way answers, a problem+json 500 at worst)."""
        ask = getattr(app, shortcut, None)
        if ask is None:
            return None
        try:
            return ask(cycle.scope)
        except Exception:
            logger.exception("a shortcut failed; the app answers")
            return None

    async def _answer_when_ready(
        self, cycle: RequestResponseCycle, app: Any, pending: Awaitable[Response | None]
    ) -> None:
        """An answer that needed a round trip (a cached page read from Redis), written when it
        comes; None (or a failure) leaves the request to the app, in this task."""
        try:
            answer = await pending
        except Exception:
            logger.exception("a shortcut failed; the app answers")
            answer = None
        if answer is None:
            await cycle.run_asgi(app)
            return
        if cycle.disconnected:
            return
        if self.flow.write_paused:  # the client is slow to read: wait as uvicorn's send does
            await self.flow.drain()
            if cycle.disconnected:
                return
        self._write(cycle, answer)

    def _write(self, cycle: RequestResponseCycle, answer: Response) -> None:
        status, headers, body = answer
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += (name, b": ", value, b"\r\n")
        for name, value in headers:
            head += (name, b": ", value, b"\r\n")
        if not cycle.keep_alive:  # the server began to shut down while the answer was read
            head += (b"connection", b": ", b"close", b"\r\n")
        head.append(b"\r\n")
        # One system call (uvloop writes the two with writev), the body not copied.
        self.transport.writelines((b"".join(head), body))
        cycle.response_started = cycle.response_complete = True
        if not cycle.keep_alive:
            self.transport.close()
        cycle.on_response()  # the keep-alive timer (re-armed), or the next pipelined request


class ForwardedFor(ProxyHeadersMiddleware):
    """uvicorn's `X-Forwarded-For` and `X-Forwarded-Proto` handling (only from the proxies it
    trusts) around an app with shortcuts, which it offers to the protocol in turn: a request is
    given its forwarded client and scheme before a shortcut sees it, as before the app does, so
    a client behind an ingress is rate-limited by its own address on every path. Wrapped by
    uvicorn's own middleware (`proxy_headers`), the app's shortcuts would not be found and every
    request would take the ASGI way."""

    def answer_at_once(self, scope: Scope) -> Response | None:
        ask = getattr(self.app, "answer_at_once", None)
        if ask is None:
            return None
        self.forward(scope)
        answer: Response | None = ask(scope)
        return answer

    def answer_soon(self, scope: Scope) -> Awaitable[Response | None] | None:
        ask = getattr(self.app, "answer_soon", None)
        if ask is None:
            return None
        self.forward(scope)
        pending: Awaitable[Response | None] | None = ask(scope)
        return pending

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        self.forward(scope)
        await self.app(scope, receive, send)

    def forward(self, scope: Scope) -> None:
        """What uvicorn's middleware does to an HTTP request's scope before the app, once."""
        if scope.get(_FORWARDED):
            return
        scope[_FORWARDED] = True
        client = scope.get("client")
        if (client[0] if client else None) not in self.trusted_hosts:
            return
        proto, forwarded_for = None, []
        for name, value in scope["headers"]:
            if name == b"x-forwarded-proto":
                proto = bytes(value).decode("latin1").strip()
            elif name == b"x-forwarded-for":
                forwarded_for.append(bytes(value))
        if proto in ("http", "https"):
            scope["scheme"] = proto
        if forwarded_for:
            host, port = self.trusted_hosts.get_trusted_client_address(
                b", ".join(forwarded_for).decode("latin1")
            )
            if host:  # an empty header gives nothing usable: the connection's address stays
                scope["client"] = (host, port)
