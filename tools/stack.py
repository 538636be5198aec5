"""Start the whole system as real processes on chosen ports, for e2e tests and benchmarks,
or describe one that runs elsewhere (the compose stack of `make compose-check`).

`Stack` starts the same commands `make run` uses (tools/supervise.py), with each process's
output in its own log file; `Stack.stop()` ends them all. `RunningStack` reads a description
file (`E2E_STACK`) naming each service's replicas, the settings tests need and how to read
the logs; it offers the same reading methods, so the e2e suite runs against either.
"""

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aio_pika
import httpx
import redis

from shared.migrations import drop_database, upgrade
from shared.services import WITH_DATABASE, local_wiring
from tools.supervise import SANDBOX, SERVICES, ServiceSpec

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A free port below the kernel's range of ephemeral ports. A port the kernel hands out
    for bind(0) comes from that range, and any outgoing connection may take it as its own
    before the service binds it (seen once: a service of the e2e stack exited with "address
    already in use"); a port below the range is never taken that way."""
    ephemeral_low = _ephemeral_low()
    for _ in range(500):
        port = random.randint(max(1024, ephemeral_low - 12_000), ephemeral_low - 1)
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # nothing free below the range: let the kernel choose
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32_768  # Linux's default
    return max(low, 2_048)


def command(spec: ServiceSpec, port: int, environ: dict[str, str]) -> list[str]:
    argv = spec.command(sys.executable, environ)
    argv[argv.index("--port") + 1] = str(port)
    return argv


class RedisProcess:
    """A redis-server of the stack's own on a free port (no persistence, never evicting), so
    tests can restart or flush it without touching the machine's servers."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_path = log_dir / "security-redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
                "--maxmemory-policy", "noeviction",
                "--dir", str(self.log_path.parent),
                "--logfile", str(self.log_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on {self.port}")

    def stop(self) -> None:
        """SIGKILL, as a crash: everything it held is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class Stack:
    ports: dict[str, int]
    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def urls(self, name: str) -> list[str]:
        return [self.url(name)]

    def gateway_replicas(self) -> list[str]:
        """Two gateways of this stack: the main one and the rate-limited one (the same code
        and the same Redis, so a second replica as far as shared state goes)."""
        return [self.url(name) for name in ("gateway", "gateway-limited") if name in self.ports]

    def metrics(self, name: str) -> str:
        return metrics_of(self.urls(name))

    def log_text(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text()

    def log_texts(self) -> dict[str, str]:
        return {path.stem: path.read_text() for path in sorted(self.log_dir.glob("*.log"))}

    def start(self, name: str, spec: ServiceSpec, extra_env: dict[str, str] | None = None) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")  # a restart adds to the same log
        self._logs.append(log)
        env = {**self.env, **(extra_env or {})}
        self.processes[name] = subprocess.Popen(
            command(spec, self.ports[name], env),
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, name: str, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            for process_name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{process_name} exited with {process.returncode}\n{self.logs()}"
                    )
            try:
                response = httpx.get(f"{self.url(name)}/readyz", timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.3)
        raise RuntimeError(f"{name} not ready in {timeout_s}s: {last}\n{self.logs()}")

    def logs(self, tail_chars: int = 3000) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-tail_chars:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self._logs:
            log.close()


def start_stack(
    *,
    env: dict[str, str],
    log_dir: Path,
    ports: dict[str, int] | None = None,
    extra_gateways: Iterable[tuple[str, dict[str, str]]] = (),
) -> Stack:
    """Every service and the TMDb sandbox, wired together; returns once the gateway is ready."""
    names = [spec.name for spec in SERVICES] + ["sandbox"] + [name for name, _ in extra_gateways]
    ports = {name: (ports or {}).get(name) or free_port() for name in names}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    wiring = {
        "TMDB_BASE_URL": f"{urls['sandbox']}/3",
        "TMDB_IMAGE_BASE_URL": f"{urls['sandbox']}/t/p/w500",
        **local_wiring(urls),
    }
    stack = Stack(ports=ports, env={**os.environ, **wiring, **env}, log_dir=log_dir)
    gateway = next(spec for spec in SERVICES if spec.name == "gateway")
    try:
        stack.start("sandbox", SANDBOX)
        for spec in SERVICES:
            stack.start(spec.name, spec)
        for name, extra_env in extra_gateways:
            stack.start(name, gateway, extra_env)
        stack.wait_ready("gateway")
        for name, _ in extra_gateways:
            stack.wait_ready(name)
    except BaseException:
        stack.stop()
        raise
    return stack


class OwnSystem:
    """The whole system on databases, a Redis database, a security Redis and a bus namespace
    of its own (`make stop-check`, the notification check), so a `make run` stack or a test
    session on the same machine is never touched. Stacks started one after the other share
    all of it, as a restarted deployment does."""

    def __init__(self, work_dir: Path, *, tag: str, redis_db: int) -> None:
        self.work_dir = work_dir
        self.tag = tag
        self.database_urls = {
            name: f"postgresql+psycopg2://postgres@127.0.0.1:5432/{tag}_{name}"
            for name in WITH_DATABASE
        }
        self.redis_url = f"redis://127.0.0.1:6379/{redis_db}"
        self.security_redis = RedisProcess(work_dir)
        self.namespace = f"{tag}-{uuid.uuid4().hex[:6]}"
        self.stack: Stack | None = None

    def prepare(self) -> None:
        """Fresh databases, an empty Redis database, the security Redis started."""
        for name, url in self.database_urls.items():
            drop_database(url)
            upgrade(REPO_ROOT / "services" / name, url)
        redis.Redis.from_url(self.redis_url).flushdb()
        self.security_redis.start()

    def start_stack(self, **settings: str) -> Stack:
        env = {
            **{f"{name.upper()}_DATABASE_URL": url for name, url in self.database_urls.items()},
            "REDIS_URL": self.redis_url,
            "SECURITY_REDIS_URL": self.security_redis.url,
            "BUS_NAMESPACE": self.namespace,
            "BUS_QUEUE_EXPIRES_MS": "3600000",
            "GATEWAY_RATE_LIMIT_IP_PER_MINUTE": "100000000",
            "GATEWAY_RATE_LIMIT_USER_PER_MINUTE": "100000000",
            "AUTH_LOGIN_FAILURES_PER_IP": "100000",
            **settings,
        }
        self.stack = start_stack(env=env, log_dir=self.work_dir)
        return self.stack

    def stop_stack(self) -> None:
        if self.stack is not None:
            self.stack.stop()
            self.stack = None

    def close(self) -> None:
        self.stop_stack()
        self.security_redis.stop()
        delete_queues(self.namespace)
        for url in self.database_urls.values():
            try:
                drop_database(url)
            except Exception as exc:  # the next run drops it first
                print(f"could not drop {url.rsplit('/', 1)[1]}: {exc}", flush=True)


def delete_queues(namespace: str, amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/") -> int:
    """Delete a finished run's queues on the local broker (their expiry would take its time,
    and every quorum queue holds files open: hundreds left behind exhaust the broker's file
    descriptors). Returns how many were deleted; 0 when rabbitmqctl cannot list them."""
    try:
        listed = subprocess.run(
            ["rabbitmqctl", "-q", "list_queues", "name"],
            capture_output=True, text=True, timeout=60, check=False,
        ).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return 0
    names = [line.strip() for line in listed.splitlines() if line.startswith(f"{namespace}.")]

    async def delete() -> int:
        connection = await aio_pika.connect(amqp_url, timeout=10)
        async with connection:
            channel = await connection.channel()
            for name in names:
                await channel.queue_delete(name)
        return len(names)

    return asyncio.run(delete()) if names else 0


def metrics_of(urls: Iterable[str]) -> str:
    """Every replica's /metrics, one after the other: a counter summed over the lines that
    name it is the whole service's."""
    return "\n".join(httpx.get(f"{url}/metrics", timeout=10).text for url in urls)


@dataclass
class ContainerRedis:
    """The security Redis of a running stack, restarted as a crash (SIGKILL, then started)
    with the command its description names."""

    url: str
    restart_command: list[str]

    def restart(self) -> None:
        subprocess.run(self.restart_command, check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        host, port = self.url.split("//", 1)[1].split("/", 1)[0].split(":")
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex((host, int(port))) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"the security Redis at {self.url} did not come back")


@dataclass
class RunningStack:
    """A stack started by someone else, as its description file tells it:
    `{"urls": {service: [replica URL, ...]}, "env": {...}, "logs": {service: [argv, ...]},
    "restart_security_redis": argv}`. The gateway's replicas are `urls["gateway"]`."""

    replicas: dict[str, list[str]]
    env: dict[str, str]
    log_commands: dict[str, list[list[str]]]
    restart_security_redis: list[str]

    @classmethod
    def load(cls, path: Path) -> "RunningStack":
        described = json.loads(path.read_text())
        return cls(
            replicas=described["urls"],
            env=described["env"],
            log_commands=described["logs"],
            restart_security_redis=described["restart_security_redis"],
        )

    def url(self, name: str) -> str:
        return self.replicas[name][0]

    def urls(self, name: str) -> list[str]:
        return self.replicas[name]

    def gateway_replicas(self) -> list[str]:
        return self.replicas["gateway"]

    def metrics(self, name: str) -> str:
        return metrics_of(self.urls(name))

    def log_text(self, name: str) -> str:
        """What every replica of the service has logged so far, one after the other."""
        parts = []
        for argv in self.log_commands[name]:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            parts.append(done.stdout + done.stderr)
        return "\n".join(parts)

    def log_texts(self) -> dict[str, str]:
        return {name: self.log_text(name) for name in self.log_commands}

    def security_redis(self) -> ContainerRedis:
        return ContainerRedis(self.env["SECURITY_REDIS_URL"], self.restart_security_redis)
