"""Serve one service: `python -m shared.serve <name> [--host H] [--port P]`.

uvicorn with the options every service runs with (make run, the e2e stack, the images), and
one shutdown deadline from the signal to the exit, `SHUTDOWN_DEADLINE_S`: requests in flight
get half of it (uvicorn's graceful shutdown), the lifespan's shutdown about a third
(`Runtime.stop`), and a process still alive when the deadline passes (a worker thread stuck
on a peer, say) prints every thread's stack and exits. An orchestrator's SIGKILL, which would
leave no trace of why, never comes.
"""

import argparse
import faulthandler
import functools
import logging
import os
import sys
import threading
from types import FrameType

import uvicorn
from pydantic import AliasChoices, Field
from uvicorn.config import STARTUP_FAILURE
from uvicorn.importer import import_from_string

from shared.config import ShutdownSettings
from shared.protocol import AnsweringHttpToolsProtocol, ForwardedFor
from shared.services import BY_NAME

logger = logging.getLogger("shared.serve")
FORCED_EXIT_CODE = 70  # EX_SOFTWARE: the deadline passed with work still running
# An idle connection is kept open longer than its clients keep theirs (the gateway's and the
# catalog client's pools: 30 s; load balancers commonly 60 s): a server that closes first
# races a client reusing the connection, which the client sees as the service unavailable.
KEEP_ALIVE_S = 75


class ServeSettings(ShutdownSettings):
    # Only the gateway reads X-Forwarded-For, and only from the proxies this names (an
    # ingress); unset, nobody is trusted, so a client cannot choose the address it is limited
    # by (uvicorn would trust 127.0.0.1, which on loopback is every client).
    forwarded_allow_ips: str | None = Field(
        None, validation_alias=AliasChoices("FORWARDED_ALLOW_IPS", "forwarded_allow_ips")
    )


class DeadlineServer(uvicorn.Server):
    """A uvicorn server whose first exit signal arms a watchdog for the whole shutdown."""

    def __init__(self, config: uvicorn.Config, *, deadline_s: float) -> None:
        super().__init__(config)
        self.deadline_s = deadline_s
        self._watchdog: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Timer(self.deadline_s, _deadline_passed, (self.deadline_s,))
            self._watchdog.daemon = True
            self._watchdog.start()
        super().handle_exit(sig, frame)


def _deadline_passed(deadline_s: float) -> None:
    try:
        logger.error(
            "shutdown took longer than SHUTDOWN_DEADLINE_S=%s; exiting with the work left "
            "(stacks follow on stderr)",
            deadline_s,
        )
    finally:
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        os._exit(FORCED_EXIT_CODE)


def config_for(name: str, *, host: str, port: int, settings: ServeSettings) -> uvicorn.Config:
    service = BY_NAME[name]
    trusted = settings.forwarded_allow_ips if name == "gateway" else None
    return uvicorn.Config(
        service.app if trusted is None else functools.partial(_behind, service.app, trusted),
        factory=True,
        host=host,
        port=port,
        loop="uvloop",
        http=AnsweringHttpToolsProtocol,
        access_log=False,
        server_header=False,  # which server answers is nobody else's business
        proxy_headers=False,  # `_behind` does it, keeping the app's shortcuts
        forwarded_allow_ips=trusted,
        timeout_graceful_shutdown=max(1, round(settings.graceful_shutdown_s)),
        timeout_keep_alive=KEEP_ALIVE_S,
        log_config=None,  # the service configures logging itself (JSON lines)
    )


def _behind(factory: str, trusted: str) -> ForwardedFor:
    """The app `factory` makes, behind the proxies `trusted` names: their forwarded addresses
    applied."""
    return ForwardedFor(import_from_string(factory)(), trusted_hosts=trusted)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.serve", description=__doc__)
    parser.add_argument("service", choices=sorted(BY_NAME))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    settings = ServeSettings()
    port = args.port if args.port is not None else BY_NAME[args.service].port
    config = config_for(args.service, host=args.host, port=port, settings=settings)
    server = DeadlineServer(config, deadline_s=settings.shutdown_deadline_s)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
