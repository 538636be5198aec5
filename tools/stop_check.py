"""SIGTERM under write traffic: `make stop-check` (RELIABILITY.md).

Starts the whole system as real processes (tools/stack.py, the commands `make run` uses) on
databases, a Redis database, a security Redis and a bus namespace of its own, drives the
traffic `make compose-check` uses through the gateway (tools/replica_traffic.py: reads,
favorite adds and removes, ratings set and cleared, logins and logouts), and then, for each
service in turn, `--rounds` times: SIGTERM to the service's process, the time until it has
exited, and the service started again. Afterwards the checks that nothing was lost:
- every service exited by itself within `--limit-s` (10 s) every time, and none logged that
  its shutdown deadline passed with work abandoned;
- every acknowledged favorite and rating is there, read back through the gateway;
- every outbox row was published, and every event applied exactly once by its consumers
  (the catalog's community ratings and the recommendations' taste profiles against the
  library's database, and each consumer's inbox).
`--quick` stops one service once and writes nothing (a smoke test in `make test`).
"""

import argparse
import os
import signal
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from tools.queries import rows
from tools.replica_traffic import Traffic, settled_event_checks
from tools.report import write_section
from tools.stack import REPO_ROOT, OwnSystem, Stack
from tools.supervise import SERVICES

REDIS_DB = 9  # the make run smoke test uses 10, chaos 11, make bench 12, the tests 13
ABANDONED_LINE = "shutdown deadline passed"
FORCED_EXIT_LINE = "shutdown took longer than SHUTDOWN_DEADLINE_S"


def log(message: str) -> None:
    print(f"stop-check: {message}", flush=True)


def stop_once(stack: Stack, name: str, *, limit_s: float) -> dict[str, object]:
    """SIGTERM to the service's process; how long it took to exit; started again."""
    process = stack.processes[name]
    log_before = len(stack.log_text(name))
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=limit_s * 3)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait()
    took_s = time.monotonic() - started
    said = stack.log_text(name)[log_before:]
    spec = next(spec for spec in SERVICES if spec.name == name)
    stack.start(name, spec)
    stack.wait_ready(name)
    return {
        "service": name,
        "stop s": round(took_s, 2),
        "exit code": code,
        "abandoned": ABANDONED_LINE in said,
        "forced": FORCED_EXIT_LINE in said,
    }


def run(work_dir: Path, *, rounds: int, services: list[str], limit_s: float) -> dict[str, object]:
    system = OwnSystem(work_dir, tag="stopcheck", redis_db=REDIS_DB)
    system.prepare()
    stack = system.start_stack()
    traffic = Traffic([stack.url("gateway")], users=4)
    stops: list[dict[str, object]] = []
    try:
        traffic.start()
        for name in services:
            for _ in range(rounds):
                time.sleep(2.0)  # writes in flight and events pending when the signal comes
                stops.append(stop_once(stack, name, limit_s=limit_s))
                log(str(stops[-1]))
        time.sleep(2.0)
        traffic.stop()
        summary = traffic.summary()
        events = settled_event_checks(lambda name: system.database_urls[name])
        unsent = sum(
            rows(url, "SELECT count(*) FROM outbox_event WHERE sent_at IS NULL")[0][0]
            for url in system.database_urls.values()
        )
    finally:
        if not traffic.stopping.is_set():
            traffic.stop()
        system.close()
    return {"stops": stops, "traffic": summary, "events": events, "unsent": unsent}


def problems(result: dict[str, object], *, limit_s: float) -> list[str]:
    stops = result["stops"]
    assert isinstance(stops, list)
    found = [f"{s['service']} took {s['stop s']} s to stop" for s in stops if s["stop s"] > limit_s]
    found += [f"{s['service']} abandoned work at its deadline" for s in stops if s["abandoned"]]
    found += [f"{s['service']} was forced out at its deadline" for s in stops if s["forced"]]
    traffic, events = result["traffic"], result["events"]
    assert isinstance(traffic, dict) and isinstance(events, dict)
    found += [
        f"{traffic[what]} {what}"
        for what in ("missing favorites", "missing ratings", "logged-out tokens accepted")
        if traffic[what]
    ]
    found += [f"{n} {what}" for what, n in events.items() if n and what != "events published"]
    if result["unsent"]:
        found.append(f"{result['unsent']} outbox rows never published")
    return found


def report(result: dict[str, object], *, rounds: int, limit_s: float) -> str:
    stops, traffic, events = result["stops"], result["traffic"], result["events"]
    assert isinstance(stops, list) and isinstance(traffic, dict) and isinstance(events, dict)
    lines = [
        f"Command: `make stop-check` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, this machine: "
        f"{os.cpu_count()} cores). Four users write through the gateway throughout (favorites, "
        f"ratings, logins, logouts, reads); each service gets SIGTERM {rounds} times and is "
        f"started again. The limit is {limit_s:g} s; SHUTDOWN_DEADLINE_S is the default 8 s.",
        "",
        "| service | stop times (s) | slowest | exit codes | abandoned at the deadline |",
        "|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(s["service"] for s in stops):
        mine = [s for s in stops if s["service"] == name]
        times = [float(s["stop s"]) for s in mine]
        lines.append(
            f"| {name} | {', '.join(f'{t:.2f}' for t in times)} | {max(times):.2f} "
            f"| {', '.join(str(s['exit code']) for s in mine)} "
            f"| {sum(1 for s in mine if s['abandoned'] or s['forced'])} |"
        )
    all_times = [float(s["stop s"]) for s in stops]
    acknowledged = traffic["acknowledged"]
    assert isinstance(acknowledged, dict)
    lines += [
        "",
        f"- Median stop {statistics.median(all_times):.2f} s, slowest {max(all_times):.2f} s. "
        "Exit code -15 is uvicorn raising the SIGTERM again once its shutdown has completed "
        "(a process forced out at its deadline would exit with 70).",
        f"- Acknowledged requests: {sum(acknowledged.values())} "
        f"({', '.join(f'{op} {n}' for op, n in sorted(acknowledged.items()))}); favorites "
        f"missing afterwards: {traffic['missing favorites']}, ratings missing: "
        f"{traffic['missing ratings']}; logged-out tokens accepted: "
        f"{traffic['logged-out tokens accepted']}.",
        f"- Events: {events['events published']} `favorite.*`/`rating.*` published by the "
        f"library; outbox rows never published (every service): {result['unsent']}; "
        + "; ".join(f"{what}: {n}" for what, n in events.items() if what != "events published")
        + ".",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit-s", type=float, default=10.0)
    parser.add_argument("--only", nargs="*", help="these services only")
    parser.add_argument("--quick", action="store_true", help="one stop of the library")
    parser.add_argument("--no-write", action="store_true", help="do not update RELIABILITY.md")
    args = parser.parse_args()
    services = args.only or [spec.name for spec in SERVICES]
    rounds = args.rounds
    if args.quick:
        services, rounds, args.no_write = ["library"], 1, True
    work_dir = REPO_ROOT / ".run" / "stop-check"
    work_dir.mkdir(parents=True, exist_ok=True)
    result = run(work_dir, rounds=rounds, services=services, limit_s=args.limit_s)
    section = report(result, rounds=rounds, limit_s=args.limit_s)
    print(section)
    if not args.no_write:
        write_section(
            REPO_ROOT / "RELIABILITY.md",
            "stop-check",
            section,
            heading="SIGTERM under write traffic (`make stop-check`)",
            title="Reliability",
        )
    if broken := problems(result, limit_s=args.limit_s):
        raise SystemExit("stop-check: " + "; ".join(broken))


if __name__ == "__main__":
    main()
