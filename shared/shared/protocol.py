"""uvicorn's httptools protocol, answering from memory what the app can answer at once.

A request to an app with `answer_at_once` (a service whose front holds cached pages in
memory: the catalog) is offered to it as soon as its headers are parsed; an answer is written
to the connection there and then, with uvicorn's Date header, and the connection goes on as
after any response (keep-alive timer, pipelined requests). Measured, the ASGI cycle around
such an answer (a task, a response cycle, two send coroutines, the header checks) cost as
much as the answer itself. Anything out of the ordinary goes the ASGI way unchanged: another
method, a body, `Expect`, HTTP/1.0 or `Connection: close`, a client not reading what it was
sent, an app that does not answer or fails to.

It builds on uvicorn's `HttpToolsProtocol` internals (`_start_asgi_task`, the cycle's
`response_complete` and `on_response`); uvicorn is pinned in uv.lock and
shared/tests/test_protocol.py checks this behaviour through a real server.
"""

import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

logger = logging.getLogger(__name__)


class AnsweringHttpToolsProtocol(HttpToolsProtocol):
    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        if not self._answered(cycle, app):
            super()._start_asgi_task(cycle, app)

    def _answered(self, cycle: RequestResponseCycle, app: Any) -> bool:
        answer_at_once = getattr(app, "answer_at_once", None)
        if (
            answer_at_once is None
            or cycle.scope["method"] != "GET"
            or not cycle.keep_alive
            or cycle.waiting_for_100_continue
            or self.flow.write_paused
            or self.transport.is_closing()
        ):
            return False
        try:
            answer = answer_at_once(cycle.scope)
        except Exception:  # the ASGI way answers it (a problem+json 500 at worst)
            logger.exception("answering from memory failed; the app answers")
            return False
        if answer is None:
            return False
        status, headers, body = answer
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += (name, b": ", value, b"\r\n")
        for name, value in headers:
            head += (name, b": ", value, b"\r\n")
        head.append(b"\r\n")
        # One system call (uvloop writes the two with writev), the body not copied.
        self.transport.writelines((b"".join(head), body))
        cycle.response_started = cycle.response_complete = True
        cycle.on_response()  # the keep-alive timer (re-armed), or the next pipelined request
        return True
