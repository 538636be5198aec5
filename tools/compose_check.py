"""make compose-check: build every image, run the compose stack with two replicas of every
service, and check it works as one system.

1. Starts a Docker engine when none answers (installing Debian's docker.io if needed) and
   stops it at the end; uses Compose v2 (`docker compose`) or v1 (`docker-compose`, installed
   from Debian's packages if neither is there).
2. Base and infrastructure images: the official ones when they are there or can be pulled,
   else built from Debian's packages (deploy/images). Then every service image from the one
   Dockerfile (deploy/docker/service.Dockerfile) and the sandbox's, timed.
3. Starts deploy/docker-compose.yml (profile sandbox) with two replicas of every service in
   shared/shared/services.py, each gateway replica on its own loopback port.
4. Checks, through both gateway replicas: readiness; sign-up, login, trending, a movie, a
   favorite; a logout at one replica refused at the other at once; the catalog's scheduled
   refresh running once per interval across both catalog replicas.
5. Runs the tests/e2e suite against the stack (E2E_STACK: a description of its replicas),
   leaving out the few tests that need a process only the local run starts.
6. Under steady traffic from several users through both gateway replicas (reads, favorites,
   ratings, logins, logouts; tools/replica_traffic.py), kills one replica of each service
   with SIGKILL and starts it again, and checks: no answer a 5xx other than 503, no
   acknowledged write missing, every logout refused at every gateway replica within a
   second, events applied exactly once (community ratings and taste profiles against the
   library's database), and every replica of every service reached by the gateway. An
   import started before the kills (tools/import_check.py) finishes with every row
   processed once, one history entry and one event per matched film; webhook test
   deliveries asked for through the kills (tools/webhook_check.py) all reach a receiver on
   this machine, signed, repeats only with the same Webhook-Id.
7. Writes the figures into DEPLOYMENT.md and takes everything down.

Traffic stays on this machine: loopback and the compose network the command made.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from shared.services import SANDBOX_PORT, SERVICES
from tests.e2e.settings import STACK_SETTINGS
from tools.import_check import ImportUnderKills, import_problems
from tools.replica_traffic import Traffic, settled_event_checks
from tools.report import write_section
from tools.stack import free_port
from tools.webhook_check import WebhooksUnderKills, webhook_problems

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PROJECT = "mdcheck"
LOCAL_BASE = "movie-discovery/python:3.11-bookworm"
OFFICIAL = {
    "BASE_IMAGE": ("python:3.11-slim", LOCAL_BASE, None),
    "POSTGRES_IMAGE": ("postgres:15", "movie-discovery/postgres:bookworm", "postgres"),
    "REDIS_IMAGE": ("redis:7", "movie-discovery/redis:bookworm", "redis"),
    "RABBITMQ_IMAGE": ("rabbitmq:3.13-management", "movie-discovery/rabbitmq:bookworm", "rabbitmq"),
}
REPLICAS = 2
PASSWORD = "a long compose-check passphrase"
REFRESH_INTERVAL_S = 20


LOG_PREFIX = "compose-check"  # make ha-check, which runs this module's steps, names itself


def log(message: str) -> None:
    print(f"{LOG_PREFIX}: {message}", flush=True)


def run(*argv: str, env: dict[str, str] | None = None, timeout_s: float = 1800) -> str:
    result = subprocess.run(
        list(argv),
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:4])} failed:\n{(result.stdout + result.stderr)[-3000:]}"
        )
    return result.stdout


def answers(*argv: str) -> bool:
    try:
        return subprocess.run(list(argv), capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


# --- the engine and the tools ---------------------------------------------------------------
@dataclass
class Engine:
    docker: str = "docker"
    compose: list[str] = field(default_factory=list)
    started: subprocess.Popen[bytes] | None = None

    def ensure(self, work_dir: Path) -> None:
        # A client that builds with BuildKit: Debian's 20.10 has it built in; a newer client
        # needs the buildx plugin.
        if Path("/usr/bin/docker").exists():
            self.docker = "/usr/bin/docker"
        if not answers(self.docker, "info"):
            if shutil.which("dockerd") is None:
                log("installing a Docker engine (Debian's docker.io)")
                run("apt-get", "update", "-qq")
                run("apt-get", "install", "-y", "-qq", "docker.io")
                self.docker = "/usr/bin/docker"
            log("starting dockerd (no iptables: builds use the host's network)")
            self.started = subprocess.Popen(
                ["dockerd", "--iptables=false"],
                stdout=(work_dir / "dockerd.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + 60
            while not answers(self.docker, "info"):
                if time.monotonic() > deadline:
                    raise RuntimeError("dockerd did not answer within 60 s")
                time.sleep(1)
        if answers(self.docker, "compose", "version"):
            self.compose = [self.docker, "compose"]
        else:
            if shutil.which("docker-compose") is None:
                log("installing Compose (Debian's docker-compose)")
                run("apt-get", "install", "-y", "-qq", "docker-compose")
            self.compose = ["docker-compose"]

    def stop(self) -> None:
        if self.started is not None:
            log("stopping the dockerd this command started")
            self.started.send_signal(signal.SIGTERM)
            try:
                self.started.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.started.kill()


# --- images ---------------------------------------------------------------------------------
def has_image(engine: Engine, image: str) -> bool:
    return answers(engine.docker, "image", "inspect", image)


def choose_images(engine: Engine) -> tuple[dict[str, str], dict[str, float]]:
    """The official image where it is there or can be pulled, else one from Debian's."""
    chosen: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for variable, (official, local, dockerfile) in OFFICIAL.items():
        if has_image(engine, official) or _pulls(engine, official):
            chosen[variable] = official
            continue
        started = time.monotonic()
        if dockerfile is None:
            run("bash", str(DEPLOY / "images" / "build-base.sh"), env={"DOCKER": engine.docker})
        else:
            build(
                engine,
                local,
                DEPLOY / "images" / f"{dockerfile}.Dockerfile",
                {"BASE_IMAGE": LOCAL_BASE},
            )
        seconds[local] = time.monotonic() - started
        log(f"{official} cannot be had here: built {local} in {seconds[local]:.0f} s")
        chosen[variable] = local
    return chosen, seconds


def _pulls(engine: Engine, image: str) -> bool:
    try:
        return (
            subprocess.run(
                [engine.docker, "pull", "-q", image], capture_output=True, timeout=30
            ).returncode
            == 0
        )
    except subprocess.TimeoutExpired:
        return False


def build(engine: Engine, tag: str, dockerfile: Path, args: dict[str, str]) -> None:
    argv = [engine.docker, "build", "-q", "--network", "host", "-f", str(dockerfile), "-t", tag]
    for name, value in args.items():
        argv += ["--build-arg", f"{name}={value}"]
    run(*argv, ".", env={"DOCKER_BUILDKIT": "1"})


def build_services(engine: Engine, base: str) -> dict[str, float]:
    seconds: dict[str, float] = {}
    for service in SERVICES:
        started = time.monotonic()
        build(
            engine,
            f"movie-discovery/{service.name}",
            DEPLOY / "docker" / "service.Dockerfile",
            {"SERVICE": service.name, "PORT": str(service.port), "BASE_IMAGE": base},
        )
        seconds[service.name] = time.monotonic() - started
        log(f"built movie-discovery/{service.name} in {seconds[service.name]:.0f} s")
    started = time.monotonic()
    build(
        engine,
        "movie-discovery/tmdb-sandbox",
        ROOT / "tools" / "tmdb_sandbox" / "Dockerfile",
        {"BASE_IMAGE": base},
    )
    seconds["tmdb-sandbox"] = time.monotonic() - started
    return seconds


def image_size_mb(engine: Engine, image: str) -> float:
    size = run(engine.docker, "image", "inspect", "-f", "{{.Size}}", image).strip()
    return int(size) / 1e6


# --- the stack ------------------------------------------------------------------------------
class Stack:
    # Containers stopped by a check (killed, not yet started again) are listed too when set
    include_stopped = False

    def __init__(self, engine: Engine, images: dict[str, str], project: str = PROJECT) -> None:
        self.engine = engine
        self.project = project
        first_port = free_port()
        self.env = {
            **images,
            "COMPOSE_PROJECT_NAME": project,
            "POSTGRES_PASSWORD": secrets.token_hex(12),
            "RABBITMQ_PASSWORD": secrets.token_hex(12),
            "GRAFANA_ADMIN_PASSWORD": secrets.token_hex(12),
            # Published on loopback too (a port per replica from the range), as an operator
            # would; the checks use each replica's own address on the compose network.
            "GATEWAY_HOST_PORT": f"{first_port}-{first_port + REPLICAS + 7}",
            **{
                name: str(free_port())
                for name in (
                    "POSTGRES_HOST_PORT",
                    "REDIS_HOST_PORT",
                    "SECURITY_REDIS_HOST_PORT",
                    "RABBITMQ_HOST_PORT",
                    "RABBITMQ_UI_HOST_PORT",
                    "PROMETHEUS_HOST_PORT",
                    "GRAFANA_HOST_PORT",
                    "SANDBOX_HOST_PORT",
                )
            },
        }
        self.settings: dict[str, str] = {}
        self.env_file = DEPLOY / ".env"
        self.saved_env_file = DEPLOY / ".env.before-compose-check"

    def compose(self, *args: str, timeout_s: float = 600) -> str:
        return run(
            *self.engine.compose, "-f", str(DEPLOY / "docker-compose.yml"), "--profile", "sandbox",
            *args, env=self.env, timeout_s=timeout_s,
        )  # fmt: skip

    def write_env_file(self, **overrides: str) -> None:
        """The services' settings: .env.example with fresh secrets (kept from the first
        write) and what the e2e suite expects; `overrides` change settings after that."""
        if self.settings:
            self._write(self.settings | overrides)
            return
        if self.env_file.exists():
            self.env_file.rename(self.saved_env_file)
        values = {
            "JWT_SECRET": secrets.token_hex(32),
            "INTERNAL_SECRET": secrets.token_hex(24),
            "POSTGRES_PASSWORD": self.env["POSTGRES_PASSWORD"],
            "RABBITMQ_PASSWORD": self.env["RABBITMQ_PASSWORD"],
            "GRAFANA_ADMIN_PASSWORD": self.env["GRAFANA_ADMIN_PASSWORD"],
            # What the e2e suite expects of a stack (high rate limits among them: the
            # traffic's few users make many requests each, this is not a rate-limit test).
            **STACK_SETTINGS,
            "COMPOSE_PROJECT_NAME": self.project,
            # the catalog's cache keys name both; the browser test loads the sandbox's posters
            "TMDB_BASE_URL": f"http://tmdb-sandbox:{SANDBOX_PORT}/3",
            "TMDB_IMAGE_BASE_URL": f"http://127.0.0.1:{self.env['SANDBOX_HOST_PORT']}/t/p/w500",
        }
        self.settings = values.copy()
        self._write(values)

    def _write(self, settings: dict[str, str]) -> None:
        text = (DEPLOY / ".env.example").read_text()
        values = dict(settings)
        lines = []
        for line in text.splitlines():
            name = line.split("=", 1)[0]
            lines.append(f"{name}={values.pop(name)}" if name in values else line)
        lines += [f"{name}={value}" for name, value in values.items()]
        self.env_file.write_text("\n".join(lines) + "\n")

    def recreate(self, service: str) -> None:
        """Start every replica of a service again with the settings now in deploy/.env."""
        self.compose(
            "up", "-d", "--no-build", "--no-deps", "--force-recreate",
            "--scale", f"{service}={REPLICAS}", service,
        )  # fmt: skip
        self.wait_healthy([service], timeout_s=240)

    def restore_env_file(self) -> None:
        self.env_file.unlink(missing_ok=True)
        if self.saved_env_file.exists():
            self.saved_env_file.rename(self.env_file)

    def up(self) -> float:
        """Start the stack tier by tier (infrastructure, then the services the others wait
        for, then the rest, then the gateway), each tier healthy before the next: the order
        the compose file's `depends_on` states, waited for here so that Compose v1 (which
        gives up on a dependency still starting) can run it too. Returns the seconds taken."""
        started = time.monotonic()
        names = [s.name for s in SERVICES]
        tiers = [
            ["postgres", "redis", "redis-security", "rabbitmq", "tmdb-sandbox"],
            ["auth", "catalog"],
            [name for name in names if name not in ("auth", "catalog", "gateway")],
            ["gateway"],
        ]
        for tier in tiers:
            scale = [
                arg for name in tier if name in names for arg in ("--scale", f"{name}={REPLICAS}")
            ]
            self.compose("up", "-d", "--no-build", "--no-deps", *scale, *tier)
            self.wait_healthy(tier, timeout_s=240)
        return time.monotonic() - started

    def wait_healthy(self, services: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            states = {
                container: run(
                    self.engine.docker, "inspect", "-f", "{{.State.Health.Status}}", container
                ).strip()
                for service in services
                for container in self.containers(service)
            }
            if states and all(state == "healthy" for state in states.values()):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"not healthy within {timeout_s:.0f} s: {states}")
            time.sleep(2)

    def down(self) -> None:
        try:
            self.compose("down", "-v", "--remove-orphans", timeout_s=300)
        except RuntimeError as exc:
            log(f"could not take the stack down: {exc}")

    def host_address(self) -> str:
        """This machine's address on the compose network (its gateway), as containers see it."""
        return run(
            self.engine.docker, "network", "inspect", f"{self.project}_default",
            "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        ).strip()  # fmt: skip

    def containers(self, service: str) -> list[str]:
        out = run(
            self.engine.docker, "ps", "-aq" if self.include_stopped else "-q",
            "--filter", f"label=com.docker.compose.project={self.project}",
            "--filter", f"label=com.docker.compose.service={service}",
        )  # fmt: skip
        return sorted(out.split())

    def gateway_urls(self) -> list[str]:
        """Each gateway replica at its address on the compose network, which this machine
        reaches directly (the published port is one per host, not per replica)."""
        urls = []
        for container in self.containers("gateway"):
            address = run(
                self.engine.docker, "inspect", "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", container,
            ).split()[0]  # fmt: skip
            urls.append(f"http://{address}:8000")
        return urls

    def requests_per_replica(self) -> dict[str, list[int]]:
        """Access-log lines of each replica of each service behind the gateway: whether the
        gateway spreads its calls over the replicas."""
        spread: dict[str, list[int]] = {}
        for service in SERVICES:
            if not service.behind_gateway:
                continue
            counts = []
            for container in self.containers(service.name):
                result = subprocess.run(
                    [self.engine.docker, "logs", container],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                text = result.stdout + result.stderr
                counts.append(text.count('"logger":"access"'))
            spread[service.name] = counts
        return spread

    def addresses(self, service: str) -> list[str]:
        return [
            run(
                self.engine.docker, "inspect", "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", container,
            ).split()[0]
            for container in self.containers(service)
        ]  # fmt: skip

    def database_url(self, service: str) -> str:
        """A service's database on the stack's PostgreSQL, through its loopback port."""
        return (
            f"postgresql+psycopg2://movies:{self.env['POSTGRES_PASSWORD']}@127.0.0.1:"
            f"{self.env['POSTGRES_HOST_PORT']}/movies_{service}"
        )

    def describe(self, gateway_urls: list[str]) -> dict[str, Any]:
        """The stack as tests/e2e reads it (tools/stack.py, RunningStack)."""
        urls = {
            service.name: [f"http://{ip}:{service.port}" for ip in self.addresses(service.name)]
            for service in SERVICES
        }
        urls["gateway"] = gateway_urls
        urls["sandbox"] = [f"http://{ip}:{SANDBOX_PORT}" for ip in self.addresses("tmdb-sandbox")]
        security = self.containers("redis-security")[0]
        return {
            "urls": urls,
            "env": {
                **self.settings,
                "BUS_NAMESPACE": "movies",
                "REDIS_URL": f"redis://127.0.0.1:{self.env['REDIS_HOST_PORT']}/0",
                "SECURITY_REDIS_URL": f"redis://127.0.0.1:{self.env['SECURITY_REDIS_HOST_PORT']}/0",
            },
            "logs": {
                service.name: [
                    [self.engine.docker, "logs", container]
                    for container in self.containers(service.name)
                ]
                for service in SERVICES
            },
            "restart_security_redis": [
                "sh", "-c", f"{self.engine.docker} kill -s KILL {security}; "
                f"{self.engine.docker} start {security}",
            ],
        }  # fmt: skip

    def container_logs(self, container: str, since: datetime) -> str:
        since_text = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        result = subprocess.run(
            [self.engine.docker, "logs", "--since", since_text, container],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return result.stdout + result.stderr


def save_logs(stack: Stack, path: Path, *, since: datetime | None = None) -> None:
    """Every container's state and its last lines, or with `since` all it logged from then
    (a failed e2e run: where a request or an event waited)."""
    try:
        states = run(stack.engine.docker, "ps", "-a", "--filter",
                     f"label=com.docker.compose.project={stack.project}",
                     "--format", "{{.Names}} {{.Status}}")  # fmt: skip
        containers = [line.split()[0] for line in states.splitlines()]
        parts = [states]
        for name in containers:
            if since is not None:
                parts.append(f"--- {name}\n{stack.container_logs(name, since)}")
                continue
            result = subprocess.run(
                [stack.engine.docker, "logs", "--tail", "60", name],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            parts.append(f"--- {name}\n{result.stdout}{result.stderr}")
        path.write_text("\n".join(parts))
        log(f"the containers' logs: {path}")
    except Exception as exc:
        log(f"could not save the containers' logs: {exc}")


def wait_ready(urls: list[str], timeout_s: float) -> float:
    started = time.monotonic()
    pending = set(urls)
    while pending:
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"not ready within {timeout_s:.0f} s: {sorted(pending)}")
        for url in list(pending):
            try:
                if httpx.get(f"{url}/readyz", timeout=3).status_code == 200:
                    pending.discard(url)
            except httpx.HTTPError:
                pass
        time.sleep(1)
    return time.monotonic() - started


# --- checks ---------------------------------------------------------------------------------
def check_the_system(urls: list[str]) -> dict[str, Any]:
    """A user's path through each replica, and a logout seen by the other at once."""
    first, second = (httpx.Client(base_url=f"{url}/api/v1", timeout=30) for url in urls[:2])
    email = f"check-{uuid.uuid4().hex[:8]}@example.com"
    assert (
        first.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    )
    tokens = second.post("/auth/login", json={"email": email, "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    trending = first.get("/movies/trending").json()["results"]
    movie_id = trending[0]["id"]
    assert second.get(f"/movies/{movie_id}").status_code == 200
    assert first.post("/favorites", json={"movie_id": movie_id}, headers=headers).status_code == 201
    listed = second.get("/favorites", headers=headers).json()["results"]
    assert [item["movie"]["id"] for item in listed] == [movie_id]
    assert first.post("/auth/logout", headers=headers).status_code == 204
    started = time.monotonic()
    refused = second.get("/me", headers=headers).status_code
    return {
        "user path through both gateway replicas": "ok",
        "logout at one replica, status at the other": refused,
        "refused after s": round(time.monotonic() - started, 3),
    }


def scheduled_refreshes(stack: Stack, since: datetime, observed_s: float) -> dict[str, Any]:
    """How many scheduled refreshes the catalog replicas ran together since `since` (asked-for
    ones, as the e2e suite makes, are logged with another trigger)."""
    refreshed = [
        line
        for container in stack.containers("catalog")
        for line in stack.container_logs(container, since=since).splitlines()
        if '"trending refreshed"' in line
        and '"window":"week"' in line
        and '"trigger":"schedule"' in line
    ]
    return {
        "catalog replicas": len(stack.containers("catalog")),
        "interval s": REFRESH_INTERVAL_S,
        "observed s": round(observed_s),
        "week refreshes": len(refreshed),
    }


def kill_one_replica_of_each(
    stack: Stack, traffic: Traffic, choose: dict[str, Callable[[], str | None]]
) -> list[dict[str, Any]]:
    """`choose` names, for some services, the replica to kill (a container id's start): the
    library replica working on the import, so another has to take it over."""
    rows = []
    for service in SERVICES:
        wanted = choose[service.name]() if service.name in choose else None
        replicas = stack.containers(service.name)
        victim = next((c for c in replicas if wanted and c.startswith(wanted)), replicas[0])
        before = traffic.count()
        started = time.monotonic()
        run(stack.engine.docker, "kill", "-s", "KILL", victim)
        time.sleep(3)
        run(stack.engine.docker, "start", victim)
        if service.name == "gateway":  # started again, perhaps at another address
            wait_ready(stack.gateway_urls(), timeout_s=120)
            traffic.retarget(stack.gateway_urls())
        time.sleep(12)
        seen = traffic.since(before)
        rows.append(
            {
                "killed": service.name,
                "requests": len(seen),
                "5xx other than 503": sum(
                    1 for o in seen if o.status is not None and o.status >= 500 and o.status != 503
                ),
                "503": sum(1 for o in seen if o.status == 503),
                "no answer": sum(1 for o in seen if o.status is None),
                "seconds": round(time.monotonic() - started, 1),
            }
        )
        log(f"killed {service.name}: {rows[-1]}")
    return rows


def run_e2e_suite(stack: Stack, urls: list[str], work_dir: Path) -> dict[str, Any]:
    """tests/e2e against the running stack (tests/e2e/conftest.py, E2E_STACK): the suite's
    own users and checks, through the first gateway replica, with every service replicated."""
    description = work_dir / "stack.json"
    description.write_text(json.dumps(stack.describe(urls), indent=2))
    report_file = work_dir / "e2e.txt"
    started, started_at = time.monotonic(), datetime.now(UTC)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/e2e", "-q", "-p", "no:cacheprovider",
         "-o", "addopts=--import-mode=importlib --strict-markers"],
        cwd=ROOT, env={**os.environ, "E2E_STACK": str(description)},
        capture_output=True, text=True, timeout=1500, check=False,
    )  # fmt: skip
    report_file.write_text(result.stdout + result.stderr)
    tail = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    log(f"e2e suite against the stack: {tail} ({report_file})")
    if result.returncode != 0:
        save_logs(stack, work_dir / "e2e-stack.log", since=started_at)
    return {
        "passed": result.returncode == 0,
        "summary": tail.strip("= "),
        "seconds": round(time.monotonic() - started),
    }


# --- the run --------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="do not update DEPLOYMENT.md")
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    parser.add_argument("--no-e2e", action="store_true", help="leave out the tests/e2e run")
    args = parser.parse_args()
    work_dir = ROOT / ".run" / "compose-check"
    work_dir.mkdir(parents=True, exist_ok=True)
    engine = Engine()
    figures: dict[str, Any] = {"started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M")}
    stack: Stack | None = None
    try:
        engine.ensure(work_dir)
        figures["compose"] = " ".join(Path(part).name for part in engine.compose)
        images, infra_seconds = choose_images(engine)
        figures["images"] = images
        figures["infrastructure build s"] = {k: round(v) for k, v in infra_seconds.items()}
        started = time.monotonic()
        figures["service build s"] = {
            k: round(v) for k, v in build_services(engine, images["BASE_IMAGE"]).items()
        }
        figures["all service images built in s"] = round(time.monotonic() - started)
        figures["image MB"] = {
            name: round(image_size_mb(engine, f"movie-discovery/{name}"))
            for name in [s.name for s in SERVICES] + ["tmdb-sandbox"]
        }
        stack = Stack(engine, images)
        stack.write_env_file()
        stack.down()  # what an interrupted run left (its volumes hold another password)
        started = time.monotonic()
        figures["up to healthy s"] = round(stack.up())
        urls = stack.gateway_urls()
        if len(urls) != REPLICAS:
            raise RuntimeError(f"expected {REPLICAS} gateway replicas, found {urls}")
        wait_ready(urls, timeout_s=300)
        figures["start to healthy s"] = round(time.monotonic() - started)
        figures["replicas"] = {s.name: len(stack.containers(s.name)) for s in SERVICES}
        figures["system"] = check_the_system(urls)
        if not args.no_e2e:
            figures["e2e"] = run_e2e_suite(stack, urls, work_dir)
        # The e2e suite ran with the default refresh interval (its tests move the sandbox's
        # clock and refresh by hand; a scheduled refresh in between would notify for them).
        # The catalog replicas start again with a quick one, and the scheduled refreshes are
        # counted while the traffic runs and replicas are killed and started again.
        stack.write_env_file(CATALOG_REFRESH_INTERVAL_S=str(REFRESH_INTERVAL_S))
        stack.recreate("catalog")
        traffic_started, traffic_since = time.monotonic(), datetime.now(UTC)
        traffic = Traffic(urls)
        traffic.start()
        importing = ImportUnderKills(urls[-1], stack.database_url)
        importing.start()
        hooked = WebhooksUnderKills(urls[0], stack.host_address())
        hooked.start()
        try:
            time.sleep(5)
            figures["kills"] = kill_one_replica_of_each(
                stack, traffic, {"library": importing.holder}
            )
        finally:
            traffic.stop()
        wait_ready(stack.gateway_urls(), timeout_s=120)
        figures["import"] = importing.finish(stack.gateway_urls()[0])
        figures["webhooks"] = hooked.finish(stack.gateway_urls()[0])
        figures["refresh"] = scheduled_refreshes(
            stack, traffic_since, time.monotonic() - traffic_started
        )
        wait_ready(stack.gateway_urls(), timeout_s=120)
        traffic.retarget(stack.gateway_urls())
        figures["requests per replica"] = stack.requests_per_replica()
        figures["traffic"] = traffic.summary()
        figures["events"] = settled_event_checks(stack.database_url)
        log(f"figures: {figures}")
    except BaseException:
        if stack is not None:  # what the containers said, for the one reading the failure
            save_logs(stack, work_dir / "stack.log")
        raise
    finally:
        if stack is not None:
            if not args.keep:
                stack.down()
            stack.restore_env_file()
        if not args.keep:
            engine.stop()
    section = report(figures)
    print(section)
    if not args.no_write:
        heading = "Containers and replicas (`make compose-check`)"
        write_section(
            ROOT / "DEPLOYMENT.md", "compose-check", section, heading=heading, title="Deployment"
        )
    if broken := problems(figures):
        raise SystemExit("compose-check: " + "; ".join(broken))


def problems(figures: dict[str, Any]) -> list[str]:
    found = []
    if figures["system"]["logout at one replica, status at the other"] != 401:
        found.append("a logout was not refused at the other gateway replica")
    if "e2e" in figures and not figures["e2e"]["passed"]:
        found.append(f"the e2e suite failed against the stack: {figures['e2e']['summary']}")
    traffic = figures["traffic"]
    for what in (
        "missing favorites",
        "missing ratings",
        "logged-out tokens accepted",
        "logouts not refused everywhere within 1 s",
    ):
        if traffic[what]:
            found.append(f"{what}: {traffic[what]}")
    if not traffic["logouts"]:
        found.append("the traffic logged out no one")
    for what, count in figures["events"].items():
        if what != "events published" and count:
            found.append(f"{what}: {count}")
    for service, counts in figures["requests per replica"].items():
        if len(counts) != REPLICAS or not all(counts):
            found.append(f"the gateway did not reach every {service} replica: {counts}")
    for row in figures["kills"]:
        if row["5xx other than 503"]:
            found.append(
                f"killing {row['killed']}: {row['5xx other than 503']} answers 5xx other than 503"
            )
    found += import_problems(figures["import"])
    found += webhook_problems(figures["webhooks"])
    refresh = figures["refresh"]
    most = refresh["observed s"] // refresh["interval s"] + 2  # a first one as each replica starts
    if not 1 <= refresh["week refreshes"] <= most:
        found.append(
            f"{refresh['week refreshes']} refreshes in {refresh['observed s']} s (at most {most})"
        )
    return found


def report(figures: dict[str, Any]) -> str:
    lines = [
        f"Command: `make compose-check` ({figures['started']} UTC, this machine: "
        f"{os.cpu_count()} cores; {figures.get('compose', '?')}).",
        "",
    ]
    if "image MB" not in figures:
        return "\n".join([*lines, "The run did not get as far as the images."])
    lines += ["| image | size MB | build s |", "|---|---|---|"]
    for name, size in figures["image MB"].items():
        lines.append(f"| movie-discovery/{name} | {size} | {figures['service build s'][name]} |")
    lines += [
        "",
        "- Base and infrastructure images: "
        + ", ".join(f"{k}={v}" for k, v in figures["images"].items())
        + (
            "; built here: "
            + ", ".join(f"{k} in {v} s" for k, v in figures["infrastructure build s"].items())
            if figures["infrastructure build s"]
            else ""
        )
        + ".",
        f"- Every service image built in {figures['all service images built in s']} s.",
    ]
    if "start to healthy s" in figures:
        lines += [
            f"- Replicas: {figures['replicas']}; from `up` to every gateway replica ready: "
            f"{figures['start to healthy s']} s.",
            f"- {figures['system']}.",
            f"- Scheduled refresh across the catalog replicas: {figures['refresh']}.",
        ]
    if "e2e" in figures:
        e2e = figures["e2e"]
        lines.append(
            f"- tests/e2e against the stack (E2E_STACK, through a gateway replica): "
            f"{e2e['summary']} in {e2e['seconds']} s ({'passed' if e2e['passed'] else 'FAILED'})."
        )
    if "kills" in figures:
        lines += [
            "",
            "| killed (one replica, SIGKILL, started again) | requests "
            "| 5xx other than 503 | 503 | no answer |",
            "|---|---|---|---|---|",
        ]
        for row in figures["kills"]:
            lines.append(
                f"| {row['killed']} | {row['requests']} | {row['5xx other than 503']} "
                f"| {row['503']} | {row['no answer']} |"
            )
        traffic = figures["traffic"]
        lines += [
            "",
            f"- Acknowledged writes and reads: {traffic['acknowledged']}; missing afterwards: "
            f"{traffic['missing favorites']} favorites, {traffic['missing ratings']} ratings.",
            f"- Logouts: {traffic['logouts']}; a logged-out token accepted "
            f"{traffic['logged-out tokens accepted']} times; not refused at every gateway "
            f"replica within 1 s: {traffic['logouts not refused everywhere within 1 s']} "
            f"(slowest {traffic['slowest refusal s']} s; refused with 503 while a replica could "
            f"not check: {traffic['refused with 503 (failing closed)']}; checks at a replica "
            f"not answering, the one just killed: {traffic['checks at a replica not answering']}).",
            f"- Events exactly once (the consumers' state against the library's database): "
            f"{figures['events']}.",
            "- An import running through the kills (a Letterboxd diary of every sandbox film, "
            "uploaded before them): "
            + ", ".join(f"{k} {v}" for k, v in figures["import"].items())
            + ".",
            "- Webhook deliveries through the kills (a test delivery asked for every second, to a "
            "receiver on this machine, signatures checked with the standardwebhooks package): "
            + ", ".join(f"{k} {v}" for k, v in figures["webhooks"].items())
            + ".",
            "- Requests each replica logged (a replica killed and started again logs anew): "
            + "; ".join(f"{k} {v}" for k, v in figures.get("requests per replica", {}).items())
            + ".",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
