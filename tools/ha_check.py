"""make ha-check: the system on replicated stores, and each store's leading node killed under
traffic (DEPLOYMENT.md, "Replicated stores").

1. Builds the images as make compose-check does (every one from Debian's packages where no
   registry answers), and Patroni's and etcd's (deploy/images/).
2. Starts deploy/ha/docker-compose.yml: RabbitMQ as three clustered nodes, each Redis (caches,
   security state) as a primary and a replica under three Sentinels, PostgreSQL as a primary
   and a synchronous standby under Patroni, two replicas of every service.
3. Runs compose-check's traffic (reads, favorites, ratings, logins and logouts through both
   gateway replicas) and, one at a time, SIGKILLs and later starts again: the RabbitMQ node
   leading most quorum queues, the cache Redis primary, the security Redis primary, the
   PostgreSQL primary. For each: the time from the kill to the first acknowledged write, and
   the answers meanwhile.
4. Checks: no acknowledged write missing, no event lost or applied twice (the consumers'
   state against the library's database), no logged-out token ever accepted, no 5xx other
   than 503, the outboxes drained.
"""

import argparse
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from shared.services import SANDBOX_PORT, SERVICES
from tests.e2e.settings import STACK_SETTINGS
from tools import compose_check
from tools.compose_check import (
    DEPLOY,
    LOCAL_BASE,
    REPLICAS,
    ROOT,
    Engine,
    Stack,
    build,
    build_services,
    choose_images,
    log,
    run,
    save_logs,
    wait_ready,
)
from tools.queries import rows
from tools.replica_traffic import Outcome, Traffic, settled_event_checks
from tools.report import write_section

HA = DEPLOY / "ha"
PROJECT = "movies-ha"
WRITES = ("favorite", "rating")
AFTER_KILL_S = 25.0  # traffic while the killed node is down
AFTER_RESTART_S = 15.0
SENTINEL = "sentinel-1"
UNSENT = "SELECT count(*) FROM outbox_event WHERE sent_at IS NULL"


class HaStack(Stack):
    """compose-check's stack, on deploy/ha/docker-compose.yml."""

    include_stopped = True  # a killed store node is started again by its container id

    def __init__(self, engine: Engine, images: dict[str, str]) -> None:
        super().__init__(engine, images, project=PROJECT)
        self.env |= {
            "RABBITMQ_ERLANG_COOKIE": secrets.token_hex(16),
            "PATRONI_IMAGE": "movie-discovery/patroni",
            "ETCD_IMAGE": "movie-discovery/etcd",
        }
        self.leaders: dict[str, int] = {}
        self.env_file = HA / ".env"
        self.saved_env_file = HA / ".env.before-ha-check"

    def compose(self, *args: str, timeout_s: float = 600) -> str:
        return run(
            *self.engine.compose, "-f", str(HA / "docker-compose.yml"), *args,
            env=self.env, timeout_s=timeout_s,
        )  # fmt: skip

    def write_env_file(self, **overrides: str) -> None:
        values = {
            "JWT_SECRET": secrets.token_hex(32),
            "INTERNAL_SECRET": secrets.token_hex(24),
            **{name: self.env[name] for name in ("POSTGRES_PASSWORD", "RABBITMQ_PASSWORD")},
            "RABBITMQ_ERLANG_COOKIE": self.env["RABBITMQ_ERLANG_COOKIE"],
            **STACK_SETTINGS,
            "COMPOSE_PROJECT_NAME": self.project,
            "TMDB_BASE_URL": f"http://tmdb-sandbox:{SANDBOX_PORT}/3",
            **overrides,
        }
        if self.env_file.exists() and not self.saved_env_file.exists():
            self.env_file.rename(self.saved_env_file)
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))

    def up(self) -> float:
        started = time.monotonic()
        self.compose("up", "-d", "--no-build", "--no-deps", "etcd")
        tiers = [
            ["postgres-1", "postgres-2"],
            ["redis-cache-1", "redis-security-1"],
            ["redis-cache-2", "redis-security-2"],
            ["sentinel-1", "sentinel-2", "sentinel-3"],
            ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"],
            ["tmdb-sandbox"],
            ["auth", "catalog"],
            [s.name for s in SERVICES if s.name not in ("auth", "catalog", "gateway")],
            ["gateway"],
        ]
        names = [s.name for s in SERVICES]
        for tier in tiers:
            scale = [a for n in tier if n in names for a in ("--scale", f"{n}={REPLICAS}")]
            self.compose("up", "-d", "--no-build", "--no-deps", *scale, *tier)
            self.wait_healthy(tier, timeout_s=300)
            if tier == ["postgres-1", "postgres-2"]:
                self.wait_for_standby(timeout_s=120)
        return time.monotonic() - started

    def container(self, service: str) -> str:
        return self.containers(service)[0]

    def database_url(self, service: str) -> str:
        hosts = "&".join(
            f"host={address}:5432"
            for name in ("postgres-1", "postgres-2")
            for address in self.addresses(name)
        )
        return (
            f"postgresql+psycopg2://movies:{self.env['POSTGRES_PASSWORD']}@/movies_{service}"
            f"?{hosts}&target_session_attrs=read-write"
        )

    def exec(self, service: str, *argv: str) -> str:
        return run(self.engine.docker, "exec", self.container(service), *argv)

    # --- who leads each store now -------------------------------------------------------
    def patroni_members(self) -> list[dict[str, Any]]:
        for name in ("postgres-1", "postgres-2"):
            try:
                listed = self.exec(
                    name, "patronictl", "-c", "/tmp/patroni.yml", "list", "-f", "json"
                )
                return list(json.loads(listed))
            except RuntimeError:
                continue
        return []

    def wait_for_standby(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            roles = sorted(m.get("Role", "") for m in self.patroni_members())
            states = {m.get("State") for m in self.patroni_members()}
            if roles == ["Leader", "Sync Standby"] and states <= {"running", "streaming"}:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"no synchronous standby within {timeout_s:.0f} s: {roles}")
            time.sleep(2)

    def postgres_primary(self) -> str:
        leader = next(m["Member"] for m in self.patroni_members() if m["Role"] == "Leader")
        return str(leader)

    def redis_primary(self, master: str) -> str:
        found = self.exec(
            SENTINEL, "redis-cli", "-p", "26379", "SENTINEL", "get-master-addr-by-name", master
        ).split()
        return self.service_at(found[0])

    def rabbitmq_busiest(self) -> str:
        for name in ("rabbitmq-1", "rabbitmq-2", "rabbitmq-3"):
            try:
                listed = self.exec(
                    name, "rabbitmqctl", "-q", "list_queues", "name", "type", "leader",
                    "--formatter", "json",
                )  # fmt: skip
            except RuntimeError:
                continue
            leaders: dict[str, int] = {}
            for queue in json.loads(listed):
                if queue.get("type") == "quorum" and queue.get("leader"):
                    leaders[queue["leader"]] = leaders.get(queue["leader"], 0) + 1
            log(f"quorum queue leaders by node: {leaders}")
            self.leaders = leaders
            node = max(leaders, key=lambda n: leaders[n])
            return node.partition("@")[2]
        raise RuntimeError("no RabbitMQ node answered")

    def service_at(self, host: str) -> str:
        """The compose service a host name or address belongs to."""
        for name in ("redis-cache-1", "redis-cache-2", "redis-security-1", "redis-security-2"):
            if host == name or host in self.addresses(name):
                return name
        raise RuntimeError(f"no Redis container at {host}")


def writes_paused(outcomes: list[Outcome], killed_at: float, until: float) -> tuple[float, float]:
    """The longest stretch without an acknowledged write between the kill and `until` (the
    restart), and how long after the kill it ended: the store's recovery as users saw it."""
    acknowledged = sorted(
        o.at
        for o in outcomes
        if o.op in WRITES and o.status is not None and o.status < 300 and killed_at < o.at < until
    )
    longest, ended = 0.0, 0.0
    for before, after in zip([killed_at, *acknowledged], [*acknowledged, until], strict=True):
        if after - before > longest:
            longest, ended = after - before, after - killed_at
    return round(longest, 1), round(ended, 1)


def unsent_events(stack: "HaStack") -> int:
    """Rows still waiting in the services' outboxes."""
    return sum(int(rows(stack.database_url(s.name), UNSENT)[0][0]) for s in SERVICES if s.database)


def answers_meanwhile(outcomes: list[Outcome]) -> dict[str, int]:
    return {
        "requests": len(outcomes),
        "5xx other than 503": sum(
            1 for o in outcomes if o.status is not None and o.status >= 500 and o.status != 503
        ),
        "503": sum(1 for o in outcomes if o.status == 503),
        "no answer": sum(1 for o in outcomes if o.status is None),
    }


def kill_and_restart(stack: HaStack, traffic: Traffic, fault: str, service: str) -> dict[str, Any]:
    """SIGKILL the store's leading node, keep the traffic on, start it again."""
    container = stack.container(service)
    before = traffic.count()
    killed_at = time.monotonic()
    run(stack.engine.docker, "kill", "-s", "KILL", container)
    log(f"{fault}: killed {service}")
    time.sleep(AFTER_KILL_S)
    restarted_at = time.monotonic()
    run(stack.engine.docker, "start", container)
    stack.wait_healthy([service], timeout_s=300)
    if service.startswith("postgres"):
        stack.wait_for_standby(timeout_s=180)
    time.sleep(AFTER_RESTART_S)
    seen = traffic.since(before)
    row = {
        "fault": fault,
        "killed": service,
        "writes paused s": (pause := writes_paused(seen, killed_at, restarted_at))[0],
        "writes flowing again after s": pause[1],
        **answers_meanwhile(seen),
        "seconds": round(time.monotonic() - killed_at, 1),
    }
    log(f"{fault}: {row}")
    return row


def main() -> None:
    compose_check.LOG_PREFIX = "ha-check"
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="do not update DEPLOYMENT.md")
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    args = parser.parse_args()
    work_dir = ROOT / ".run" / "ha-check"
    work_dir.mkdir(parents=True, exist_ok=True)
    engine = Engine()
    figures: dict[str, Any] = {"started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M")}
    stack: HaStack | None = None
    began = time.monotonic()
    try:
        engine.ensure(work_dir)
        images, _ = choose_images(engine)
        for name in ("etcd", "patroni"):
            build(
                engine,
                f"movie-discovery/{name}",
                DEPLOY / "images" / f"{name}.Dockerfile",
                {"BASE_IMAGE": LOCAL_BASE},
            )
        build_services(engine, images["BASE_IMAGE"])
        stack = HaStack(engine, images)
        stack.write_env_file()
        stack.down()
        figures["up to healthy s"] = round(stack.up())
        urls = stack.gateway_urls()
        wait_ready(urls, timeout_s=300)
        traffic = Traffic(urls)
        traffic.start()
        try:
            time.sleep(10)
            faults = [
                ("RabbitMQ node leading most quorum queues", stack.rabbitmq_busiest),
                ("cache Redis primary", lambda: stack.redis_primary("movies-cache")),
                ("security Redis primary", lambda: stack.redis_primary("movies-security")),
                ("PostgreSQL primary", stack.postgres_primary),
            ]
            figures["faults"] = []
            for fault, target in faults:
                figures["faults"].append(kill_and_restart(stack, traffic, fault, target()))
                figures.setdefault("quorum queue leaders", dict(stack.leaders))
        finally:
            traffic.stop()
        figures["traffic"] = traffic.summary()
        figures["events"] = settled_event_checks(stack.database_url, timeout_s=180)
        figures["outbox rows unsent"] = unsent_events(stack)
        figures["minutes"] = round((time.monotonic() - began) / 60, 1)
        log(f"figures: {figures}")
    except BaseException:
        if stack is not None:
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
        write_section(
            ROOT / "DEPLOYMENT.md",
            "ha-check",
            section,
            heading="Replicated stores (`make ha-check`)",
            title="Deployment",
        )
    if broken := problems(figures):
        raise SystemExit("ha-check: " + "; ".join(broken))


def problems(figures: dict[str, Any]) -> list[str]:
    found = []
    traffic = figures["traffic"]
    for what in ("missing favorites", "missing ratings", "logged-out tokens accepted"):
        if traffic[what]:
            found.append(f"{traffic[what]} {what}")
    for row in figures["faults"]:
        if row["5xx other than 503"]:
            found.append(f"{row['fault']}: {row['5xx other than 503']} 5xx other than 503")
        if row["writes flowing again after s"] >= AFTER_KILL_S:
            found.append(f"{row['fault']}: no write acknowledged until the node was back")
    for what, count in figures["events"].items():
        if what != "events published" and count:
            found.append(f"{what}: {count}")
    if figures["outbox rows unsent"]:
        found.append(f"{figures['outbox rows unsent']} events left in the outboxes")
    return found


def report(figures: dict[str, Any]) -> str:
    lines = [
        f"Run of {figures['started']} UTC ({figures.get('minutes')} minutes in all; up to "
        f"healthy in {figures['up to healthy s']} s). RabbitMQ: three clustered nodes; each "
        "Redis: a primary and a replica under three Sentinels; PostgreSQL: a primary and a "
        "synchronous standby under Patroni (etcd); two replicas of every service; "
        "compose-check's traffic through both gateway replicas throughout. \"Writes paused at "
        'most": the longest stretch without an acknowledged write between the kill and the '
        'restart; "flowing again after": when that stretch ended, counted from the kill.',
        "",
        "| fault (SIGKILL, started again after "
        f"{AFTER_KILL_S:.0f} s) | writes paused at most | writes flowing again after "
        "| requests | 503 | no answer (10 s) | 5xx other than 503 |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in figures["faults"]:
        lines.append(
            f"| {row['fault']} ({row['killed']}) | {row['writes paused s']} s "
            f"| {row['writes flowing again after s']} s "
            f"| {row['requests']} | {row['503']} | {row['no answer']} "
            f"| {row['5xx other than 503']} |"
        )
    traffic, events = figures["traffic"], figures["events"]
    lines += [
        "",
        f"Acknowledged writes: {traffic['acknowledged']}; missing favorites "
        f"{traffic['missing favorites']}, missing ratings {traffic['missing ratings']}. "
        f"Logouts {traffic['logouts']}, logged-out tokens accepted "
        f"{traffic['logged-out tokens accepted']}. Events: "
        + ", ".join(f"{what} {count}" for what, count in events.items())
        + f"; outbox rows left unsent {figures['outbox rows unsent']}. Quorum queue leaders "
        f"before the first kill: {figures.get('quorum queue leaders')}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
