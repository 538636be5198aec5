"""A new subscriber's first notification, right after a restart: `python -m tools.notify_check`.

Each run: the whole system starts with the default settings (a refresh every 600 s) on
fresh databases and a Redis database of its own, refreshes once at start, and is stopped
with SIGTERM; at once the system starts again on the same databases and Redis with
`CATALOG_REFRESH_INTERVAL_S=5`, `CATALOG_TRENDING_TTL_S=5` and `SANDBOX_CLOCK_SPEED=60` (the
sandbox's trending moves a data day a second), as after a deploy that changed the settings.
A user signs up and turns on trending and recommendation notifications; their first
notification must arrive within `--limit-s` (60 s). Nothing the first system left behind (a
refresh lease, a schedule) may delay it. `--runs` runs in a row (20 by default); the figures
go into RELIABILITY.md unless `--no-write`.
"""

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from tools.report import write_section
from tools.stack import REPO_ROOT, OwnSystem, Stack

REDIS_DB = 8  # stop-check uses 9, the make run smoke test 10, chaos 11, bench 12, tests 13
FAST = {
    "CATALOG_REFRESH_INTERVAL_S": "5",
    "CATALOG_TRENDING_TTL_S": "5",
    "SANDBOX_CLOCK_SPEED": "60",
}
PASSWORD = "a long notification-check passphrase"


def log(message: str) -> None:
    print(f"notify-check: {message}", flush=True)


def _until(what: str, check: Callable[[], bool], timeout_s: float) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"{what} not within {timeout_s:g} s")
        time.sleep(0.2)
    return time.monotonic() - started


def _subscribe(stack: Stack) -> dict[str, str]:
    api = f"{stack.url('gateway')}/api/v1"
    email = f"subscriber-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=api, timeout=20) as client:
        client.post(
            "/auth/register", json={"email": email, "password": PASSWORD}
        ).raise_for_status()
        login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        client.patch(
            "/me",
            json={"preferences": {"notify": {"trending": True, "recommendations": True}}},
            headers=headers,
        ).raise_for_status()
    return headers


def _notified(stack: Stack, headers: dict[str, str]) -> bool:
    answer = httpx.get(f"{stack.url('gateway')}/api/v1/notifications", headers=headers, timeout=10)
    return answer.status_code == 200 and answer.json()["total_results"] > 0


def one_run(index: int, *, limit_s: float) -> float:
    """Seconds from sign-up to the first notification (TimeoutError past `limit_s`)."""
    work_dir = REPO_ROOT / ".run" / "notify-check" / str(index)
    system = OwnSystem(work_dir, tag="notifycheck", redis_db=REDIS_DB)
    system.work_dir.mkdir(parents=True, exist_ok=True)
    system.prepare()
    try:
        before = system.start_stack()  # the default settings
        _until(
            "the default stack's first refresh",
            lambda: "trending refreshed" in before.log_text("catalog"),
            timeout_s=60,
        )
        system.stop_stack()
        after = system.start_stack(**FAST)
        headers = _subscribe(after)
        return _until("the first notification", lambda: _notified(after, headers), limit_s)
    finally:
        system.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--limit-s", type=float, default=60.0)
    parser.add_argument("--no-write", action="store_true", help="do not update RELIABILITY.md")
    args = parser.parse_args()
    took: list[float] = []
    failures: list[str] = []
    for index in range(args.runs):
        try:
            took.append(one_run(index, limit_s=args.limit_s))
            log(f"run {index + 1}: notified {took[-1]:.1f} s after signing up")
        except TimeoutError as exc:
            failures.append(f"run {index + 1}: {exc}")
            log(failures[-1])
    section = "\n".join(
        [
            f"Command: `python -m tools.notify_check --runs {args.runs}` "
            f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, this machine: {os.cpu_count()} cores). "
            "Each run: a stack with the default settings refreshes and is stopped; at once a "
            "stack with CATALOG_REFRESH_INTERVAL_S=5, CATALOG_TRENDING_TTL_S=5 and "
            "SANDBOX_CLOCK_SPEED=60 starts on the same databases and Redis, and a new user "
            "turns on trending and recommendation notifications.",
            "",
            f"- Runs notified within {args.limit_s:g} s: {len(took)} of {args.runs}.",
            f"- Seconds from signing up to the first notification: median "
            f"{statistics.median(took):.1f}, slowest {max(took):.1f}."
            if took
            else "- No run was notified.",
        ]
    )
    print(section)
    if not args.no_write:
        write_section(
            REPO_ROOT / "RELIABILITY.md",
            "notify-check",
            section,
            heading="A new subscriber's first notification after a restart",
            title="Reliability",
        )
    if failures:
        raise SystemExit("notify-check: " + "; ".join(failures))


if __name__ == "__main__":
    main()
