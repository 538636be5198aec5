"""Run every service as its own process on loopback: `make run`.

Each log line is prefixed with the service's name; a process that dies is restarted with a
growing pause; Ctrl-C or SIGTERM stops everything.
"""

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

from shared.services import BY_NAME, SANDBOX_PORT
from shared.services import SERVICES as REGISTRY


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    app: str
    port: int

    def command(
        self, python: str = sys.executable, environ: Mapping[str, str] | None = None
    ) -> list[str]:
        """The service under shared.serve (its shutdown deadline, the gateway's trusted
        proxies); the sandbox, not a service of the product, under plain uvicorn."""
        environ = os.environ if environ is None else environ
        port = environ.get(f"{self.name.upper()}_PORT", str(self.port))
        if self.name not in BY_NAME:
            return [
                python, "-m", "uvicorn", self.app, "--factory", "--host", "127.0.0.1",
                "--port", port, "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                "--timeout-graceful-shutdown", "2",
            ]  # fmt: skip
        return [python, "-m", "shared.serve", self.name, "--host", "127.0.0.1", "--port", port]


SANDBOX = ServiceSpec("sandbox", "tmdb_sandbox.app:create_app", SANDBOX_PORT)
SERVICES = tuple(ServiceSpec(service.name, service.app, service.port) for service in REGISTRY)
WIDTH = max(len(spec.name) for spec in (*SERVICES, SANDBOX))
STEADY_AFTER_S = 30.0


def say(name: str, line: str) -> None:
    sys.stdout.write(f"{name:<{WIDTH}} | {line}\n")
    sys.stdout.flush()


class Supervisor:
    def __init__(self, specs: tuple[ServiceSpec, ...]) -> None:
        self.specs = specs
        self.stopping = asyncio.Event()
        self.processes: dict[str, asyncio.subprocess.Process] = {}

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        tasks = [asyncio.create_task(self.keep_running(spec)) for spec in self.specs]
        await self.stopping.wait()
        say("supervise", "stopping every service")
        await self.terminate_all()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def keep_running(self, spec: ServiceSpec) -> None:
        pause_s = 1.0
        while not self.stopping.is_set():
            started = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                *spec.command(),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
            self.processes[spec.name] = process
            say("supervise", f"started {spec.name} (pid {process.pid})")
            assert process.stdout is not None
            async for raw in process.stdout:
                say(spec.name, raw.decode(errors="replace").rstrip())
            code = await process.wait()
            if self.stopping.is_set():
                return
            if time.monotonic() - started > STEADY_AFTER_S:
                pause_s = 1.0
            say("supervise", f"{spec.name} exited with {code}; restarting in {pause_s:.0f}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), pause_s)
            pause_s = min(pause_s * 2, 15.0)

    async def terminate_all(self, grace_s: float = 10.0) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                process.terminate()
        deadline = time.monotonic() + grace_s
        for process in self.processes.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                await asyncio.wait_for(process.wait(), remaining)
            except TimeoutError:
                process.kill()


def uses_sandbox(environ: dict[str, str]) -> bool:
    """Without TMDb credentials the catalog talks to the local TMDb sandbox."""
    return not (environ.get("TMDB_API_KEY") or environ.get("TMDB_ACCESS_TOKEN"))


def sandbox_url(environ: dict[str, str]) -> str:
    return f"http://127.0.0.1:{environ.get('SANDBOX_PORT', SANDBOX.port)}/3"


def sandbox_image_url(environ: dict[str, str]) -> str:
    """Where the sandbox draws posters, at TMDb's image paths."""
    return f"http://127.0.0.1:{environ.get('SANDBOX_PORT', SANDBOX.port)}/t/p/w500"


def main() -> None:
    specs: tuple[ServiceSpec, ...] = SERVICES
    if uses_sandbox(dict(os.environ)):
        os.environ["TMDB_BASE_URL"] = sandbox_url(dict(os.environ))
        os.environ.setdefault("TMDB_IMAGE_BASE_URL", sandbox_image_url(dict(os.environ)))
        specs = (SANDBOX, *SERVICES)
        say("supervise", f"no TMDb key: using the TMDb sandbox at {os.environ['TMDB_BASE_URL']}")
    else:
        say(
            "supervise",
            f"using TMDb at {os.environ.get('TMDB_BASE_URL', 'https://api.themoviedb.org/3')}",
        )
    asyncio.run(Supervisor(specs).run())


if __name__ == "__main__":
    main()
