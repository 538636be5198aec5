"""shared.serve: a process whose shutdown hangs still ends by its deadline, with its stacks."""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from shared.protocol import ForwardedFor
from shared.serve import FORCED_EXIT_CODE, ServeSettings, config_for
from shared.services import BY_NAME
from tools.stack import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]

HANGING_SHUTDOWN = """
import asyncio
import sys

import uvicorn

from shared.serve import DeadlineServer


async def app(scope, receive, send):
    assert scope["type"] == "lifespan"
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await asyncio.sleep(3600)  # a shutdown step that never ends


config = uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), lifespan="on")
DeadlineServer(config, deadline_s=1.5).run()
"""


def test_a_shutdown_that_hangs_ends_at_the_deadline_with_every_threads_stack() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", HANGING_SHUTDOWN, str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert process.poll() is None and time.monotonic() < deadline, "never started"
            time.sleep(0.05)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
        took_s = time.monotonic() - signalled
    finally:
        process.kill()
    assert process.returncode == FORCED_EXIT_CODE, stderr
    assert 1.4 < took_s < 4
    assert "shutdown took longer than SHUTDOWN_DEADLINE_S" in stderr
    assert "Thread 0x" in stderr or "Current thread" in stderr


def test_only_the_gateway_trusts_forwarded_addresses_and_only_when_told() -> None:
    """Trusting an ingress, the gateway is served behind `ForwardedFor`, which keeps its
    shortcuts (uvicorn's own middleware would hide them); nothing else trusts anybody."""
    trusting = ServeSettings(forwarded_allow_ips="10.0.0.0/8", shutdown_deadline_s=10)
    gateway = config_for("gateway", host="127.0.0.1", port=1, settings=trusting)
    assert not gateway.proxy_headers  # uvicorn's middleware: none
    assert gateway.forwarded_allow_ips == "10.0.0.0/8"
    assert gateway.timeout_graceful_shutdown == 5  # half of the deadline
    assert gateway.timeout_keep_alive > 60  # longer than its clients keep idle connections
    assert callable(gateway.app)
    served = gateway.app()
    assert isinstance(served, ForwardedFor)
    assert "10.1.2.3" in served.trusted_hosts and "192.0.2.1" not in served.trusted_hosts
    assert served.app.soon_shortcut is not None and served.app.shortcut is not None
    for name, settings in (("library", trusting), ("gateway", ServeSettings())):
        config = config_for(name, host="127.0.0.1", port=1, settings=settings)
        assert not config.proxy_headers and config.app == BY_NAME[name].app  # served as it is
