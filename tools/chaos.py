"""make chaos: faults injected under traffic, and what they cost, counted.

Starts the system under the `make run` supervisor on its own ports, databases, Redis database
and bus namespace, drives it through the gateway with several users (catalog reads, their
favorites, recommendations, notifications and profile, favorite adds and removes), then,
one at a time: restarts PostgreSQL, Redis, the security Redis and RabbitMQ with the machine's
own commands, flushes the security Redis, and kills each service with SIGKILL (the supervisor
restarts it). Throughout, a probe logs in and out and presents its logged-out tokens again.
For each fault it counts answers 5xx other than 503, requests that hung past 15 s and
refused connections, and the time from the fault until every request succeeds again; at
the end, acknowledged writes missing from the database and `favorite.*` events published
but never recorded by a consumer. Writes the table into RELIABILITY.md.

Loopback only, and bounded: about 15 s of steady traffic before each fault and at most
45 s after it, so the whole run takes about 8 minutes. It restarts this machine's
PostgreSQL, Redis and RabbitMQ: run it where nothing else depends on them.
"""

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis

from shared.migrations import drop_database, upgrade
from shared.services import WITH_DATABASE, local_wiring
from tools.queries import rows
from tools.report import write_section
from tools.stack import delete_queues
from tools.supervise import SANDBOX, SERVICES

REPO_ROOT = Path(__file__).resolve().parent.parent
PORT_OFFSET = 10_000  # gateway on 18000, auth 18001, ..., sandbox 18090
REDIS_DB = 11  # tests use 13, make bench 12
SECURITY_REDIS_URL = f"redis://127.0.0.1:6380/{REDIS_DB}"
PASSWORD = "a long chaos-test passphrase"
USERS = 6
MOVIES = list(range(1, 41))  # each user toggles favorites among these
HUNG_S = 15.0
SETTLE_S = 15.0
OBSERVE_S = 45.0
CONSUMERS_OF_FAVORITES = ("recommendations",)


@dataclass
class Outcome:
    started: float
    ended: float
    op: str
    status: int | None  # None: no answer (refused, reset or timed out)
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status is None or self.status >= 500


@dataclass
class Fault:
    name: str
    inject: Callable[[], None]
    started: float = 0.0
    injected: float = 0.0
    figures: dict[str, object] = field(default_factory=dict)


def log(message: str) -> None:
    print(f"chaos: {message}", flush=True)


# --- the machine's services -------------------------------------------------------------
def _run(*command: str) -> None:
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(what: str, check: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come back within {timeout_s:.0f} s")


def _answers(command: list[str]) -> Callable[[], bool]:
    return lambda: subprocess.run(command, capture_output=True).returncode == 0


def restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    _run("pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast")
    _wait("PostgreSQL", _answers(["pg_isready", "-h", "127.0.0.1", "-q"]))


def _restart_redis(port: str, data_dir: str, logfile: str, *options: str) -> None:
    """Shut a Redis down without saving and start it again as this machine does (no
    persistence): everything it held is gone."""
    cli = ["redis-cli", "-p", port]
    subprocess.run([*cli, "shutdown", "nosave"], capture_output=True)
    _wait(f"Redis :{port} to stop", lambda: not _answers([*cli, "ping"])())
    os.makedirs(data_dir, exist_ok=True)
    os.makedirs(os.path.dirname(logfile), exist_ok=True)
    _run(
        "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", port,
        "--save", "", "--appendonly", "no", "--dir", data_dir, "--logfile", logfile, *options,
    )  # fmt: skip
    _wait(f"Redis :{port}", _answers([*cli, "ping"]))


def restart_redis() -> None:
    _restart_redis("6379", "/var/lib/redis", "/var/log/redis/ci.log")


SECURITY_REDIS_PORT = "6380"


def restart_security_redis() -> None:
    """As tools/ensure-infra.sh starts it."""
    _restart_redis(
        SECURITY_REDIS_PORT,
        "/var/lib/redis-security",
        "/var/log/redis/security.log",
        "--maxmemory-policy",
        "noeviction",
    )


def flush_security_redis() -> None:
    redis.Redis.from_url(SECURITY_REDIS_URL).flushdb()


def restart_rabbitmq() -> None:
    _run("rabbitmqctl", "stop")
    _run("rabbitmq-server", "-detached")
    _wait("RabbitMQ", _answers(["rabbitmqctl", "-q", "await_startup"]), timeout_s=180)


def queues_without_consumers(namespace: str) -> list[str]:
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name", "consumers"],
        capture_output=True,
        text=True,
    ).stdout
    empty = []
    for line in listed.splitlines():
        parts = line.split()
        if len(parts) != 2 or not parts[0].startswith(f"{namespace}."):
            continue
        if re.search(r"\.(dlq|retry)$", parts[0]) or not parts[1].isdigit():
            continue
        if int(parts[1]) == 0:
            empty.append(parts[0])
    return empty


# --- the system under test --------------------------------------------------------------
class System:
    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.namespace = f"chaos-{uuid.uuid4().hex[:6]}"
        self.ports = {spec.name: spec.port + PORT_OFFSET for spec in (*SERVICES, SANDBOX)}
        self.database_urls = {
            name: f"postgresql+psycopg2://postgres@127.0.0.1:5432/chaos_{name}"
            for name in WITH_DATABASE
        }
        self.supervisor: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self) -> None:
        for name, url in self.database_urls.items():
            drop_database(url)
            upgrade(REPO_ROOT / "services" / name, url)
        redis.Redis.from_url(f"redis://127.0.0.1:6379/{REDIS_DB}").flushdb()
        redis.Redis.from_url(SECURITY_REDIS_URL).flushdb()
        env = {
            **os.environ,
            **{f"{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
            **{f"{name.upper()}_DATABASE_URL": url for name, url in self.database_urls.items()},
            **local_wiring({name: self.url(name) for name in self.ports}),
            "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "SECURITY_REDIS_URL": SECURITY_REDIS_URL,
            "BUS_NAMESPACE": self.namespace,
            "BUS_QUEUE_EXPIRES_MS": "3600000",
            "GATEWAY_RATE_LIMIT_IP_PER_MINUTE": "100000000",
            "GATEWAY_RATE_LIMIT_USER_PER_MINUTE": "100000000",
            "AUTH_ACCESS_TOKEN_TTL_S": "3600",
        }
        env.pop("TMDB_API_KEY", None)
        env.pop("TMDB_ACCESS_TOKEN", None)
        self.supervisor = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "tools" / "supervise.py")],
            cwd=REPO_ROOT,
            env=env,
            stdout=(self.work_dir / "system.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait("the system", self.ready, timeout_s=120)

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url('gateway')}/readyz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, name: str) -> None:
        pattern = f"shared.serve {name} .*--port {self.ports[name]}"
        found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
        pids = [int(pid) for pid in found.split()]
        if not pids:
            raise RuntimeError(f"no process of {name} to kill")
        for pid in pids:
            os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.send_signal(signal.SIGTERM)
            try:
                self.supervisor.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.supervisor.pid, signal.SIGKILL)
        for url in self.database_urls.values():
            try:
                drop_database(url)
            except Exception as exc:  # leave it for the next run, which drops it first
                log(f"could not drop {url.rsplit('/', 1)[1]}: {exc}")
        delete_queues(self.namespace)


# --- traffic --------------------------------------------------------------------------------
class User:
    """One user's reads and favorite toggles, and what the acknowledged ones should leave."""

    def __init__(self, system: System, index: int) -> None:
        self.system = system
        self.client = httpx.Client(base_url=f"{system.url('gateway')}/api/v1", timeout=20)
        email = f"chaos-{index}-{uuid.uuid4().hex[:8]}@example.com"
        self.client.post("/auth/register", json={"email": email, "password": PASSWORD})
        login = self.client.post("/auth/login", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        self.believed: set[int] = set()  # favorites after every acknowledged write
        self.uncertain: set[int] = set()  # a write with no answer: either outcome is right
        self.random = random.Random(index)
        self.acknowledged_writes = 0

    def step(self) -> Outcome:
        roll = self.random.random()
        if roll < 0.25:
            return self._call("trending", "GET", "/movies/trending")
        if roll < 0.40:
            return self._call("details", "GET", f"/movies/{self.random.choice(MOVIES)}")
        if roll < 0.55:
            return self._call("favorites", "GET", "/favorites")
        if roll < 0.62:
            return self._call("recommendations", "GET", "/recommendations")
        if roll < 0.68:
            return self._call("notifications", "GET", "/notifications")
        if roll < 0.75:
            return self._call("profile", "GET", "/me")
        movie = self.random.choice(MOVIES)
        if movie in self.believed:
            outcome = self._call("remove", "DELETE", f"/favorites/{movie}")
            self._learn(movie, outcome, {204: False, 404: False})
        else:
            outcome = self._call("add", "POST", "/favorites", json={"movie_id": movie})
            self._learn(movie, outcome, {201: True, 200: True})
        return outcome

    def _call(self, op: str, method: str, path: str, **kwargs: object) -> Outcome:
        started = time.monotonic()
        try:
            response = self.client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            return Outcome(started, time.monotonic(), op, None, type(exc).__name__)
        return Outcome(started, time.monotonic(), op, response.status_code)

    def _learn(self, movie: int, outcome: Outcome, meanings: dict[int, bool]) -> None:
        if outcome.status in meanings:
            self.acknowledged_writes += 1
            self.uncertain.discard(movie)
            if meanings[outcome.status]:
                self.believed.add(movie)
            else:
                self.believed.discard(movie)
        elif outcome.failed:
            self.uncertain.add(movie)

    def missing_writes(self) -> int:
        """Acknowledged writes whose effect is not in the database."""
        actual: set[int] = set()
        page = 1
        while True:
            response = self.client.get("/favorites", params={"page": page, "limit": 100})
            response.raise_for_status()
            body = response.json()
            actual |= {item["movie"]["id"] for item in body["results"]}
            if page >= body["total_pages"]:
                break
            page += 1
        differ = (self.believed ^ actual) - self.uncertain
        return len(differ)


class LogoutProbe:
    """Logs in and out again and again, and keeps presenting the logged-out access tokens:
    any 200 for one of them is a revocation the system forgot."""

    def __init__(self, system: System) -> None:
        self.client = httpx.Client(base_url=f"{system.url('gateway')}/api/v1", timeout=20)
        self.email = f"chaos-probe-{uuid.uuid4().hex[:8]}@example.com"
        self.client.post("/auth/register", json={"email": self.email, "password": PASSWORD})
        self.ended: list[str] = []  # logged-out tokens, newest last
        self.accepted: list[float] = []  # when a logged-out token was answered 200
        self.checks = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._log_in_and_out()
                for token in self.ended[-20:]:
                    response = self.client.get("/me", headers={"Authorization": f"Bearer {token}"})
                    self.checks += 1
                    if response.status_code == 200:
                        self.accepted.append(time.monotonic())
            except httpx.HTTPError:
                pass
            time.sleep(0.2)

    def _log_in_and_out(self) -> None:
        login = self.client.post("/auth/login", json={"email": self.email, "password": PASSWORD})
        if login.status_code != 200:
            return
        token = login.json()["access_token"]
        out = self.client.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
        if out.status_code == 204:
            self.ended.append(token)

    def accepted_between(self, start: float, end: float) -> int:
        return sum(1 for at in self.accepted if start <= at < end)


class Traffic:
    def __init__(self, users: list[User]) -> None:
        self.users = users
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._drive, args=(u,)) for u in users]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _drive(self, user: User) -> None:
        while not self.stopping.is_set():
            outcome = user.step()
            with self.lock:
                self.outcomes.append(outcome)
            time.sleep(0.02)

    def between(self, start: float, end: float) -> list[Outcome]:
        with self.lock:
            return [o for o in self.outcomes if start <= o.started < end]


# --- the run --------------------------------------------------------------------------------
def figures(fault: Fault, outcomes: list[Outcome]) -> dict[str, object]:
    failed = [o for o in outcomes if o.failed]
    last_failure = max((o.ended for o in failed), default=fault.started)
    return {
        "requests": len(outcomes),
        "5xx other than 503": sum(1 for o in failed if o.status not in (None, 503)),
        "503": sum(1 for o in outcomes if o.status == 503),
        "no answer": sum(1 for o in outcomes if o.status is None),
        "hung past 15 s": sum(1 for o in outcomes if o.ended - o.started > HUNG_S),
        "recovered after s": round(max(0.0, last_failure - fault.started), 1),
    }  # fmt: skip


def pending_outbox(system: System) -> int:
    return sum(
        rows(url, "SELECT count(*) FROM outbox_event WHERE sent_at IS NULL")[0][0]
        for url in system.database_urls.values()
    )


def events_never_consumed(system: System) -> dict[str, int]:
    published = {
        row[0]
        for row in rows(
            system.database_urls["library"],
            "SELECT event_id FROM outbox_event WHERE type LIKE 'favorite.%'",
        )
    }
    missing = {"published": len(published)}
    for consumer in CONSUMERS_OF_FAVORITES:
        seen = {
            row[0]
            for row in rows(
                system.database_urls[consumer],
                "SELECT event_id FROM inbox_event WHERE type LIKE 'favorite.%'",
            )
        }
        missing[consumer] = len(published - seen)
    return missing


def _killer(system: System, name: str) -> Callable[[], None]:
    return lambda: system.kill(name)


def run(work_dir: Path, *, quick: bool = False) -> tuple[list[Fault], dict[str, object]]:
    """Every fault in turn; `quick` injects only the two that leave the machine's servers
    running (a killed gateway, a flushed security Redis) with short windows, as a smoke test."""
    settle_s, observe_s = (3.0, 12.0) if quick else (SETTLE_S, OBSERVE_S)
    system = System(work_dir)
    log(f"starting the system on ports {min(system.ports.values())}-{max(system.ports.values())}")
    system.start()
    users = [User(system, index) for index in range(USERS)]
    traffic = Traffic(users)
    faults = [
        Fault("restart PostgreSQL", restart_postgres),
        Fault("restart Redis", restart_redis),
        Fault("restart the security Redis", restart_security_redis),
        Fault("flush the security Redis", flush_security_redis),
        Fault("restart RabbitMQ", restart_rabbitmq),
        *(Fault(f"kill -9 {spec.name}", _killer(system, spec.name)) for spec in SERVICES),
    ]
    if quick:
        faults = [f for f in faults if f.name in ("flush the security Redis", "kill -9 gateway")]
    summary: dict[str, object] = {}
    probe = LogoutProbe(system)
    probe.start()
    traffic.start()
    try:
        for fault in faults:
            time.sleep(settle_s)
            log(f"{fault.name} ...")
            fault.started = time.monotonic()
            fault.inject()
            fault.injected = time.monotonic()
            time.sleep(max(0.0, observe_s - (fault.injected - fault.started)))
            fault.figures = figures(
                fault, traffic.between(fault.started, fault.started + observe_s)
            )
            fault.figures["logged-out tokens accepted"] = probe.accepted_between(
                fault.started, fault.started + observe_s
            )
            if fault.name == "restart RabbitMQ":
                fault.figures["queues without consumers"] = len(
                    queues_without_consumers(system.namespace)
                )
            log(f"{fault.name}: {fault.figures}")
        time.sleep(settle_s)
    finally:
        traffic.stop()
        probe.stop()
    summary["logout checks"] = probe.checks
    summary["logged-out tokens accepted"] = len(probe.accepted)
    try:
        _wait("the outboxes to drain", lambda: pending_outbox(system) == 0, timeout_s=60)
        time.sleep(3)  # the last events reach their consumers
        summary["events"] = events_never_consumed(system)
        summary["acknowledged writes"] = sum(u.acknowledged_writes for u in users)
        summary["acknowledged writes missing"] = sum(u.missing_writes() for u in users)
        summary["ready at the end"] = system.ready()
        summary["requests"] = len(traffic.outcomes)
        log(f"summary: {summary}")
    finally:
        system.stop()
    return faults, summary


def report(faults: list[Fault], summary: dict[str, object]) -> str:
    events = summary["events"]
    assert isinstance(events, dict)
    lines = [
        f"Command: `make chaos` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, this machine: "
        f"{os.cpu_count()} cores; {USERS} users through the gateway, each reading trending, "
        f"movie details, their favorites, recommendations, notifications and profile, and "
        f"adding or removing favorites, about "
        f"{summary['requests']} requests in all).",
        "",
        "| fault | requests | 5xx other than 503 | 503 | no answer | hung past 15 s "
        "| logged-out tokens accepted | everything normal again after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for fault in faults:
        f = fault.figures
        extra = ""
        if "queues without consumers" in f:
            extra = f" (queues left without a consumer: {f['queues without consumers']})"
        lines.append(
            f"| {fault.name} | {f['requests']} | {f['5xx other than 503']} | {f['503']} "
            f"| {f['no answer']} | {f['hung past 15 s']} | {f['logged-out tokens accepted']} "
            f"| {f['recovered after s']} s{extra} |"
        )
    lines += [
        "",
        f"- Logged-out access tokens presented again (a probe logging in and out throughout, "
        f"each of its last 20 ended tokens tried every cycle): {summary['logout checks']}; "
        f"answered 200: {summary['logged-out tokens accepted']}.",
        f"- Acknowledged writes: {summary['acknowledged writes']}; missing afterwards: "
        f"{summary['acknowledged writes missing']}.",
        f"- `favorite.*` events published: {events['published']}; never recorded by a "
        + ", ".join(f"consumer ({name}): {events[name]}" for name in CONSUMERS_OF_FAVORITES)
        + ".",
        "- Services restarted by hand: none (the supervisor restarted the killed processes); "
        f"every service ready at the end: {'yes' if summary['ready at the end'] else 'NO'}.",
    ]  # fmt: skip
    return "\n".join(lines)


def problems(faults: list[Fault], summary: dict[str, object]) -> list[str]:
    """What the run must never show; a non-empty list fails the command."""
    found = [
        f"{fault.name}: {fault.figures[name]} {name}"
        for fault in faults
        for name in ("5xx other than 503", "hung past 15 s", "logged-out tokens accepted")
        if fault.figures.get(name)
    ]
    events = summary["events"]
    assert isinstance(events, dict)
    found += [
        f"{summary[name]} {name}"
        for name in ("acknowledged writes missing", "logged-out tokens accepted")
        if summary[name]
    ]
    found += [
        f"{events[c]} events never consumed by {c}" for c in CONSUMERS_OF_FAVORITES if events[c]
    ]
    if not summary["ready at the end"]:
        found.append("not every service was ready at the end")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="do not update RELIABILITY.md")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="two faults that leave the machine's servers running, short windows; never writes",
    )
    args = parser.parse_args()
    for command in ("pg_ctlcluster", "redis-server", "rabbitmqctl", "pgrep"):
        if shutil.which(command) is None:
            raise SystemExit(f"chaos: {command} is needed to inject faults on this machine")
    work_dir = REPO_ROOT / ".run" / "chaos"
    work_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    faults, summary = run(work_dir, quick=args.quick)
    section = report(faults, summary)
    print(section)
    if args.quick:
        args.no_write = True
    log(f"finished in {time.monotonic() - started:.0f} s; the system's log: {work_dir}/system.log")
    if not args.no_write:
        write_section(
            REPO_ROOT / "RELIABILITY.md",
            "chaos",
            section,
            heading="Faults under traffic (`make chaos`)",
            title="Reliability",
        )
    if broken := problems(faults, summary):
        raise SystemExit("chaos: " + "; ".join(broken))


if __name__ == "__main__":
    main()
