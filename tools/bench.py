"""`make bench`: drive the running system with wrk and record the figures in BENCHMARKS.md.

Starts its own stack (the `make run` processes, on their own ports, databases `bench_*`,
Redis database 12 and its own bus namespace), a bare ASGI app serving the same trending bytes
as the floor, warms the caches, runs each scenario with wrk (32 connections unless said
otherwise), then measures what wrk cannot: cold recommendations, TMDb calls and cache hits,
memory, outbox relay and consumer throughput.

The write scenarios: 64 users (32 per wrk thread) adding and removing favorites, watchlist
entries, ratings and watches through the gateway, each user removing what it added two steps
earlier, beside the peer (tools/peer_app.py: a plain FastAPI + SQLAlchemy app doing the same
favorite transaction on the same PostgreSQL). Each row also gives the CPU per acknowledged
write, every process on the machine summed (/proc/stat's busy time less wrk's own), and the
consumers' lag (the 99th percentile of `events_consumer_lag_seconds` over the run).
"""

import argparse
import collections
import contextlib
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import text
from sqlmodel import Session

from shared.db import make_engine
from shared.events import FavoriteAdded
from shared.migrations import drop_database, ensure_database, upgrade
from shared.outbox import add_event
from shared.pagecache import RECOMMENDATIONS_PAGES, pages_key
from shared.services import WITH_DATABASE
from tmdb_sandbox.data import load_movies
from tools.report import write_section
from tools.stack import REPO_ROOT, Stack, delete_queues, free_port, start_stack

PASSWORD = "a long benchmark passphrase"
WRITERS = 64  # users in the write scenarios, half per wrk thread
PEER = "peer: plain FastAPI + SQLAlchemy, add and remove a favorite (64 users)"
# Each write kind: (add method, add path, add body, remove method, remove path), as Lua
# expressions of `movie`.
WRITES = {
    "favorites": (
        "POST", '"/api/v1/favorites"', '"{\\"movie_id\\": " .. movie .. "}"',
        "DELETE", '"/api/v1/favorites/" .. movie',
    ),
    "watchlist": (
        "POST", '"/api/v1/watchlist"', '"{\\"movie_id\\": " .. movie .. "}"',
        "DELETE", '"/api/v1/watchlist/" .. movie',
    ),
    "ratings": (
        "PUT", '"/api/v1/movies/" .. movie .. "/rating"', '"{\\"score\\": 7.5}"',
        "DELETE", '"/api/v1/movies/" .. movie .. "/rating"',
    ),
    "history": (
        "POST", '"/api/v1/me/history"', '"{\\"movie_id\\": " .. movie .. "}"',
        "DELETE", '"/api/v1/me/history/" .. movie',
    ),
}  # fmt: skip
REDIS_DB = 12
CONNECTIONS = 32
FLOOR = "bare ASGI app (floor)"
# The same floor asked for the 200 details paths wrk's Lua script picks from: that script
# costs wrk (on the same cores) more than a fixed request, so the details are compared to it.
PATHS_FLOOR = "bare ASGI app (floor), 200 paths"
DETAILS_DIRECT = "catalog: cached enriched details, 200 pages (direct)"
DETAILS_PAGE = "catalog: cached enriched details page (direct)"
DISCOVER_QUERIES = (  # what a discovery screen asks for, each warmed before it is measured
    "genres=18&sort=rating&min_votes=20",
    "genres=28,12&year_from=1990&year_to=1999",
    "genres=35|10749&sort=release_date",
    "without_genres=27&runtime_max=100",
    "provider=8&region=US",
    "sort=title&min_rating=7",
    "language=en&year_from=1995&sort=popularity",
    "genres=878&min_votes=50&page=2",
)


IMPORTS = "imports of a Letterboxd diary through the gateway, upload to done"
IMPORT_ROWS = (1_000, 10_000)


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_ms_per_request: float | None = None  # every process on the machine, wrk's own left out
    lag_p99_s: dict[str, float] | None = None  # consumers' lag over the run, by queue
    cpu_by_process: dict[str, float] | None = None  # ms per request, the busiest processes


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("bench: installing wrk (Debian package)", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or "wrk"


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def busy_cpu_s() -> float:
    """CPU time every process on the machine has used so far (/proc/stat, idle left out)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def cpu_ticks_by_process(names: dict[int, str]) -> collections.Counter[str]:
    """CPU time (clock ticks) used so far by every process on the machine, summed by name: the
    pids in `names` by theirs, the rest by their command (postgres backends, beam.smp,
    redis-server). A process that ends during a run takes its time with it; PostgreSQL's
    backends that end (a pool closing its overflow connections) are counted through the
    postmaster, which reaps them (its children's time)."""
    found: collections.Counter[str] = collections.Counter()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text_ = stat.read_text()
        except OSError:  # gone since the listing
            continue
        command_name = text_[text_.index("(") + 1 : text_.rindex(")")]
        utime, stime, cutime, cstime = map(int, text_[text_.rindex(")") + 2 :].split()[11:15])
        name = names.get(int(stat.parent.name), command_name)
        found[name] += utime + stime + (cutime + cstime if command_name == "postgres" else 0)
    return found


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    wrk: str,
    name: str,
    url: str,
    *,
    seconds: int,
    connections: int = CONNECTIONS,
    script: str | None = None,
    measure_cpu: bool = False,
) -> Result:
    argv = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script:
        argv += ["-s", script]
    busy_before, wrk_before = busy_cpu_s(), children_cpu_s()
    output = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    system_cpu_s = (busy_cpu_s() - busy_before) - (children_cpu_s() - wrk_before)
    latency = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)", output, re.M))

    def pct(key: str) -> float:
        match = re.match(r"([\d.]+)(us|ms|s)", latency[key])
        assert match, output
        return _ms(match.group(1), match.group(2))

    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (
        sum(int(g) for g in socket_errors.groups()) if socket_errors else 0
    )
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    result = Result(name, rps, pct("50"), pct("99"), errors, total)
    if measure_cpu:
        result.cpu_ms_per_request = 1000 * system_cpu_s / max(total - errors, 1)
    print(
        f"bench: {name}: {rps:.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
        f"errors {errors}"
        + (f", CPU {result.cpu_ms_per_request:.2f} ms/request" if measure_cpu else ""),
        flush=True,
    )
    return result


def summarize_profile(name: str, path: Path, top: int = 25) -> str:
    """A process's samples from py-spy's collapsed stacks: the functions holding the most
    samples on top of the stack (own) and anywhere in it (inclusive)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines() if path.exists() else []:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [frame.split(" (")[0] + " " + frame.rsplit("/", 1)[-1].rstrip(")")
                  for frame in stack.split(";")[1:]]  # fmt: skip
        if frames:
            own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    lines = [f"== {name}: {total} samples"]
    for title, counter in (("own", own), ("inclusive", inclusive)):
        lines.append(f"-- {title}")
        lines += [
            f"{100 * n / max(total, 1):5.1f}%  {frame}" for frame, n in counter.most_common(top)
        ]
    return "\n".join(lines) + "\n"


def lua(path: Path, body: str) -> str:
    path.write_text(body)
    return str(path)


def header_script(
    directory: Path, name: str, headers: dict[str, str], paths: list[str] | None = None
) -> str:
    lines = [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    if paths:
        lines.append("local paths = {" + ", ".join(f'"{p}"' for p in paths) + "}")
        lines.append("request = function() return wrk.format(nil, paths[math.random(#paths)]) end")
    return lua(directory / f"{name}.lua", "\n".join(lines) + "\n")


def _wait_answers(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            httpx.get(url, timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def writes_script(directory: Path, name: str, tokens: list[str], kind: str) -> str:
    """64 users, half per wrk thread, taking turns: each adds a movie and removes the one it
    added two steps earlier (so a removal never overtakes its addition on another connection;
    movies 1 to 100, all in the catalog's cache, so the figure is the write path)."""
    add_method, add_path, add_body, remove_method, remove_path = WRITES[kind]
    listed = ", ".join(f'"{token}"' for token in tokens)
    return lua(
        directory / f"writes-{name}.lua",
        f"""local tokens = {{{listed}}}
local per_thread = {len(tokens) // 2}
local threads, first, n = 0, 0, 0
setup = function(thread) thread:set("first", threads * per_thread); threads = threads + 1 end
init = function() first = wrk.thread:get("first") end
request = function()
  local user = n % per_thread
  local step = math.floor(n / per_thread)
  n = n + 1
  local headers = {{["Authorization"] = "Bearer " .. tokens[first + user + 1],
                   ["Content-Type"] = "application/json"}}
  local round = math.floor(step / 2)
  if step % 2 == 0 or round < 2 then
    local movie = (round % 100) + 1
    return wrk.format("{add_method}", {add_path}, headers, {add_body})
  end
  local movie = ((round - 2) % 100) + 1
  return wrk.format("{remove_method}", {remove_path}, headers, nil)
end
""",
    )


def lag_buckets(url: str) -> dict[str, dict[float, float]]:
    """The cumulative buckets of `events_consumer_lag_seconds` by queue, and of
    `events_publish_lag_seconds` (as "publish")."""
    found: dict[str, dict[float, float]] = {}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("events_consumer_lag_seconds_bucket{"):
            series = None
        elif line.startswith("events_publish_lag_seconds_bucket{"):
            series = "publish"
        else:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        bound = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
        found.setdefault(series or labels["queue"], {})[bound] = float(line.rsplit(" ", 1)[1])
    return found


def lag_p99_s(
    before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]
) -> dict[str, float]:
    """The upper bound of the bucket holding the 99th percentile of what was consumed between
    two readings, by queue."""
    p99 = {}
    for queue, buckets in after.items():
        delta = {le: n - before.get(queue, {}).get(le, 0.0) for le, n in buckets.items()}
        total = delta.get(float("inf"), 0.0)
        if total:  # the queue named without the bus namespace
            p99[queue.rsplit(".", 1)[-1]] = min(le for le, n in delta.items() if n >= 0.99 * total)
    return p99


class Bench:
    def __init__(
        self,
        seconds: int,
        work_dir: Path,
        only: list[str] | None = None,
        profile_dir: Path | None = None,
    ) -> None:
        self.seconds = seconds
        self.only = only or []
        self.profile_dir = profile_dir
        self.profiled: dict[str, int] = {}  # process name -> pid, profiled during each scenario
        self.work_dir = work_dir
        self.namespace = f"bench-{uuid.uuid4().hex[:6]}"
        self.database_urls = {
            name: f"postgresql+psycopg2://postgres@127.0.0.1:5432/bench_{name}"
            for name in WITH_DATABASE
        }
        self.redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
        self.security_redis_url = f"redis://127.0.0.1:6380/{REDIS_DB}"
        self.peer_database_url = "postgresql+psycopg2://postgres@127.0.0.1:5432/bench_peer"
        self.results: list[Result] = []
        self.extra: dict[str, Any] = {}

    # --- set-up -------------------------------------------------------------------------
    def prepare_databases(self) -> None:
        for name, url in self.database_urls.items():
            drop_database(url)
            upgrade(REPO_ROOT / "services" / name, url)
        redis.Redis.from_url(self.redis_url).flushdb()
        redis.Redis.from_url(self.security_redis_url).flushdb()

    def start(self) -> Stack:
        env = {
            **{f"{name.upper()}_DATABASE_URL": url for name, url in self.database_urls.items()},
            "REDIS_URL": self.redis_url,
            "SECURITY_REDIS_URL": self.security_redis_url,
            "BUS_NAMESPACE": self.namespace,
            "BUS_QUEUE_EXPIRES_MS": "600000",
            "GATEWAY_RATE_LIMIT_IP_PER_MINUTE": "100000000",
            "GATEWAY_RATE_LIMIT_USER_PER_MINUTE": "100000000",
            "AUTH_LOGIN_FAILURES_PER_IP": "100000000",
            # The login scenario logs one account in from 32 connections at once: attempts in
            # flight count against the account's limit (as simultaneous guesses must).
            "AUTH_LOGIN_FAILURES_PER_ACCOUNT": "100000000",
        }
        return start_stack(env=env, log_dir=self.work_dir)

    def user(self, api: httpx.Client) -> tuple[str, dict[str, str]]:
        email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
        user_id = api.post("/auth/register", json={"email": email, "password": PASSWORD}).json()[
            "id"
        ]
        token = api.post("/auth/login", json={"email": email, "password": PASSWORD}).json()[
            "access_token"
        ]
        return user_id, {"Authorization": f"Bearer {token}"}

    def seed_many_favorites(self, user_id: str, count: int) -> None:
        """Favorites written straight to the database (the sandbox knows only 1,682 movies);
        the newest page holds real, cached movies so page 1 costs what it does in use."""
        engine = make_engine(self.database_urls["library"])
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO favorite (user_id, movie_id, added_at) "
                    "SELECT CAST(:user_id AS uuid), g, now() - make_interval(secs => g) "
                    "FROM generate_series(1, :count) AS g"
                ),
                {"user_id": user_id, "count": count},
            )
        engine.dispose()

    # --- measurements --------------------------------------------------------------------
    def rss_mb(self, stack: Stack) -> dict[str, float]:
        sizes = {}
        for name, process in stack.processes.items():
            status = Path(f"/proc/{process.pid}/status").read_text()
            sizes[name] = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
        return sizes

    @staticmethod
    def metric(url: str, name: str, **labels: str) -> float:
        total = 0.0
        for line in httpx.get(f"{url}/metrics").text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def cold_recommendations(
        self, api: httpx.Client, user_id: str, headers: dict[str, str], runs: int
    ) -> Result:
        cache = redis.Redis.from_url(self.redis_url)
        timings = []
        for _ in range(runs):
            cache.delete(pages_key(RECOMMENDATIONS_PAGES, user_id))  # the pages and the list
            started = time.perf_counter()
            api.get("/recommendations", headers=headers).raise_for_status()
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        result = Result(
            "recommendations cold (5 seeds, sequential)",
            1000 / statistics.mean(timings),
            statistics.median(timings),
            timings[int(0.99 * (len(timings) - 1))],
            0,
            runs,
        )
        print(
            f"bench: {result.name}: p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms",
            flush=True,
        )
        return result

    @contextlib.contextmanager
    def profiling(self, scenario: str, measure_cpu: bool) -> Iterator[None]:
        """The CPU each process used over a measured scenario, per request (the result's
        `cpu_by_process`). With `--profile`, py-spy also samples every process of the stack
        (and the peer) while the scenario runs, written as collapsed stacks of the thread
        holding the GIL (`<scenario>.<process>.txt`) with a summary of each process's busiest
        functions and the CPU figures (`<scenario>.summary.txt`)."""
        profile = self.profile_dir is not None and scenario not in (FLOOR, PATHS_FLOOR)
        if not (profile or measure_cpu):
            yield
            return
        slug = re.sub(r"[^a-z0-9]+", "-", scenario.lower()).strip("-")
        names = {pid: name for name, pid in self.profiled.items()}
        cpu_before = cpu_ticks_by_process(names)
        recorders = {}
        if self.profile_dir is not None and profile:
            py_spy = str(Path(sys.executable).with_name("py-spy"))
            for name, pid in self.profiled.items():
                output = self.profile_dir / f"{slug}.{name}.txt"
                recorders[name] = subprocess.Popen(
                    [py_spy, "record", "--pid", str(pid), "--duration", str(self.seconds),
                     "--rate", "100", "--gil", "--format", "raw", "--nonblocking",
                     "--output", str(output)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
        cpu: collections.Counter[str] = collections.Counter()
        try:
            yield
            cpu = cpu_ticks_by_process(names) - cpu_before
        finally:
            for recorder in recorders.values():
                try:
                    recorder.wait(timeout=self.seconds + 30)
                except subprocess.TimeoutExpired:
                    recorder.kill()
        cpu.pop("py-spy", None)  # the sampling's own cost
        result = self.results[-1] if self.results and self.results[-1].name == scenario else None
        requests = max(result.requests - result.errors, 1) if result else 1
        tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
        per_request = {name: tick_ms * ticks / requests for name, ticks in cpu.most_common(8)}
        if result is not None and measure_cpu:
            result.cpu_by_process = per_request
            print(
                f"bench: {scenario}: CPU ms/request by process: "
                + ", ".join(f"{name} {ms:.2f}" for name, ms in per_request.items()),
                flush=True,
            )
        if self.profile_dir is not None and profile:
            lines = [f"== CPU ms per request by process ({requests} requests)"]
            lines += [f"{ms:7.2f}  {name}" for name, ms in per_request.items()]
            summary = ["\n".join(lines) + "\n"] + [
                summarize_profile(name, self.profile_dir / f"{slug}.{name}.txt")
                for name in recorders
            ]
            (self.profile_dir / f"{slug}.summary.txt").write_text("\n".join(summary))
            print(f"bench: profiles of {scenario} in {self.profile_dir}/{slug}.*", flush=True)

    def event_throughput(self, stack: Stack, count: int = 5000) -> dict[str, float]:
        favorites = make_engine(self.database_urls["library"])
        recommendations = make_engine(self.database_urls["recommendations"])

        def inbox() -> int:
            with recommendations.connect() as connection:
                return int(
                    connection.execute(text("SELECT count(*) FROM inbox_event")).scalar_one()
                )

        def pending() -> int:
            with favorites.connect() as connection:
                return int(
                    connection.execute(
                        text("SELECT count(*) FROM outbox_event WHERE sent_at IS NULL")
                    ).scalar_one()
                )

        consumed_before = inbox()
        with Session(favorites) as session:
            for i in range(count):
                add_event(
                    session,
                    FavoriteAdded(
                        user_id=uuid.uuid4(), movie_id=1 + i % 1682, at=datetime.now(UTC)
                    ),
                    producer="library",
                )
            started = time.perf_counter()
            session.commit()
        relay_done = consumer_done = None
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline and consumer_done is None:
            now = time.perf_counter()
            if relay_done is None and pending() == 0:
                relay_done = now
            if inbox() - consumed_before >= count:
                consumer_done = now
            time.sleep(0.05)
        favorites.dispose()
        recommendations.dispose()
        return {
            "relay_events_per_s": count / (relay_done - started) if relay_done else 0.0,
            "consumer_events_per_s": count / (consumer_done - started) if consumer_done else 0.0,
        }

    def cached_movie_memory(self, stack: Stack, api: httpx.Client) -> dict[str, float]:
        cache = redis.Redis.from_url(self.redis_url)
        before_redis = cache.info("memory")["used_memory"]
        before_rss = self.rss_mb(stack)["catalog"]
        ids = list(range(400, 800))
        headers = {
            "x-internal-token": os.environ.get(
                "INTERNAL_SECRET", "dev-only-internal-secret-change-me"
            )
        }
        for start in range(0, len(ids), 50):
            chunk = ",".join(map(str, ids[start : start + 50]))
            httpx.get(
                f"{stack.url('catalog')}/internal/movies",
                params={"ids": chunk},
                headers=headers,
                timeout=60,
            )
        after_redis = cache.info("memory")["used_memory"]
        after_rss = self.rss_mb(stack)["catalog"]
        return {
            "redis_bytes_per_movie": (after_redis - before_redis) / len(ids),
            "catalog_rss_kib_per_movie": (after_rss - before_rss) * 1024 / len(ids),
        }

    # --- the run ---------------------------------------------------------------------------
    def run(self, wrk: str) -> None:
        self.prepare_databases()
        stack = self.start()
        bare_holder: list[subprocess.Popen[bytes]] = []
        try:
            self._run(wrk, stack, bare_holder)
        finally:
            for bare in bare_holder:  # stopped even when a scenario failed
                bare.terminate()
            stack.stop()
            for url in (*self.database_urls.values(), self.peer_database_url):
                drop_database(url)
            delete_queues(self.namespace)

    def _run(self, wrk: str, stack: Stack, bare_holder: list[subprocess.Popen[bytes]]) -> None:
        gateway, catalog = stack.url("gateway"), stack.url("catalog")
        api = httpx.Client(base_url=f"{gateway}/api/v1", timeout=60)
        trending_path = "/api/v1/movies/trending?window=day"
        body = httpx.get(f"{catalog}{trending_path}").content
        body_file = self.work_dir / "trending.json"
        body_file.write_bytes(body)
        bare_port = free_port()
        bare_holder.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "tools.bare_app:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(bare_port),
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                cwd=REPO_ROOT,
                env={**os.environ, "BARE_BODY_FILE": str(body_file)},
            )
        )
        movie_paths = [f"/api/v1/movies/{movie_id}" for movie_id in range(1, 201)]
        discover_paths = [f"/api/v1/movies/discover?{query}" for query in DISCOVER_QUERIES]
        for path in movie_paths + discover_paths:
            api.get(path.removeprefix("/api/v1")).raise_for_status()
        few_id, few = self.user(api)
        for movie_id in (1, 50, 100, 181, 258, 7, 9, 12, 98, 127):
            api.post("/favorites", json={"movie_id": movie_id}, headers=few).raise_for_status()
        many_id, many = self.user(api)
        self.seed_many_favorites(many_id, 10_000)
        _, writer = self.user(api)
        login_email = f"bench-login-{uuid.uuid4().hex[:8]}@example.com"
        api.post(
            "/auth/register", json={"email": login_email, "password": PASSWORD}
        ).raise_for_status()
        time.sleep(1.5)  # favorite events reach the recommendations service
        for headers in (few, many):
            api.get("/favorites", headers=headers).raise_for_status()
        api.get("/recommendations", headers=few).raise_for_status()
        httpx.get(f"http://127.0.0.1:{bare_port}/", timeout=10).raise_for_status()

        scripts = Path(self.work_dir)
        sandbox = httpx.Client(base_url=stack.url("sandbox"))
        tmdb_before = sandbox.get("/__admin/stats").json()["total"]
        hits_before = {
            r: self.metric(catalog, "cache_requests_total", result=r)
            for r in ("hit", "miss", "stale")
        }

        self.profiled = {name: process.pid for name, process in stack.processes.items()}

        def run(name: str, url: str, **options: Any) -> None:
            floors = (FLOOR, PATHS_FLOOR)
            if self.only and name not in floors and not any(part in name for part in self.only):
                return
            with self.profiling(name, bool(options.get("measure_cpu"))):
                self.results.append(run_wrk(wrk, name, url, seconds=self.seconds, **options))

        run(FLOOR, f"http://127.0.0.1:{bare_port}/")
        run(
            PATHS_FLOOR,
            f"http://127.0.0.1:{bare_port}/",
            script=header_script(scripts, "floor-paths", {}, movie_paths),
        )
        run("catalog: cached trending (direct)", f"{catalog}{trending_path}")
        run("gateway: cached trending", f"{gateway}{trending_path}")
        run(DETAILS_PAGE, f"{catalog}/api/v1/movies/1")
        run(
            DETAILS_DIRECT,
            f"{catalog}/",
            script=header_script(scripts, "details-direct", {}, movie_paths),
        )
        run(
            "gateway: cached movie details",
            f"{gateway}/",
            script=header_script(scripts, "details", {}, movie_paths),
        )
        run(
            "gateway: cached discover",
            f"{gateway}/",
            script=header_script(scripts, "discover", {}, discover_paths),
        )
        run(
            "gateway: favorites list (10 favorites)",
            f"{gateway}/api/v1/favorites",
            script=header_script(scripts, "few", few),
        )
        run(
            "gateway: favorites list (10,000 favorites)",
            f"{gateway}/api/v1/favorites",
            script=header_script(scripts, "many", many),
        )
        run(
            "gateway: recommendations warm",
            f"{gateway}/api/v1/recommendations",
            script=header_script(scripts, "recs", few),
        )
        user_requests = sum(r.requests for r in self.results if not r.name.startswith(FLOOR))
        tmdb_calls = sandbox.get("/__admin/stats").json()["total"] - tmdb_before
        hits = {
            r: self.metric(catalog, "cache_requests_total", result=r) - hits_before[r]
            for r in hits_before
        }
        run(
            "gateway: add and remove a favorite",
            f"{gateway}/api/v1/favorites",
            script=lua(
                scripts / "writes.lua",
                f'wrk.headers["Authorization"] = "{writer["Authorization"]}"\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
                # Each thread adds movies from its own range and removes the one it added 64
                # requests earlier, so a delete never overtakes its add on another connection.
                # Movies 1 to 200, all in the catalog's cache, so the figure is the write path
                # (uncached ids would measure TMDb's rate limit instead).
                "local threads, n, offset = 0, 0, 0\n"
                "setup = function(thread) thread:set('offset', threads * 100); threads = threads + 1 end\n"
                "init = function() offset = wrk.thread:get('offset') end\n"
                "request = function()\n"
                "  n = n + 1\n"
                "  local k = math.floor((n + 1) / 2)\n"
                "  if n % 2 == 1 or k <= 64 then\n"
                "    local movie = offset + (k % 100) + 1\n"
                '    return wrk.format("POST", "/api/v1/favorites", nil, "{\\"movie_id\\": " .. movie .. "}")\n'
                "  end\n"
                '  return wrk.format("DELETE", "/api/v1/favorites/" .. (offset + ((k - 64) % 100) + 1))\n'
                "end\n",
            ),
        )
        run(
            "gateway: login (argon2id)",
            f"{gateway}/api/v1/auth/login",
            connections=8,
            script=lua(
                scripts / "login.lua",
                'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f'wrk.body = \'{{"email": "{login_email}", "password": "{PASSWORD}"}}\'\n',
            ),
        )
        cold = "recommendations cold (5 seeds, sequential)"
        if not self.only or any(part in cold for part in self.only):
            self.results.append(self.cold_recommendations(api, few_id, few, runs=30))
        # Last: the consumers may still be catching up when the write runs end.
        self.write_scenarios(wrk, stack, api, scripts, bare_holder, run)
        self.drain(stack)
        if not self.only or any(part in IMPORTS for part in self.only):
            self.extra["imports"] = self.import_times(api, sandbox)
            self.drain(stack)
        if self.only:
            if "imports" in self.extra:
                print(self.extra["imports"])
            return  # a partial run, for tuning: its results are printed as they are
        self.extra.update(
            {
                "tmdb_calls_per_1000": 1000 * tmdb_calls / max(user_requests, 1),
                "tmdb_calls": tmdb_calls,
                "user_requests": user_requests,
                "cache_hit_ratio": hits["hit"] / max(sum(hits.values()), 1),
                "rss_mb": self.rss_mb(stack),
                **self.event_throughput(stack),
                **self.cached_movie_memory(stack, api),
            }
        )

    def import_times(self, api: httpx.Client, sandbox: httpx.Client) -> list[dict[str, Any]]:
        """Letterboxd diaries of 1,000 and 10,000 viewings (the sandbox's films in turn, by
        title and year, so the 10,000 hold each film about six times), each imported by a new
        user through the gateway: the time from the upload to the job's end, and the TMDb
        calls it made (titles the catalog had not cached)."""
        films = sorted(load_movies(REPO_ROOT / "data" / "ml-100k").values(), key=lambda m: m.id)
        timings = []
        for count in IMPORT_ROWS:
            lines = ["Date,Name,Year,Letterboxd URI,Rating,Rewatch,Tags,Watched Date"]
            for n in range(count):
                film = films[n % len(films)]
                day = f"2020-{1 + n % 12:02d}-{1 + n % 28:02d}"
                title = film.title.replace('"', '""')
                lines.append(f'{day},"{title}",{film.year or ""},https://boxd.it/x{n},,,,{day}')
            _, headers = self.user(api)
            calls_before = sandbox.get("/__admin/stats").json()["total"]
            started = time.monotonic()
            accepted = api.post(
                "/me/imports",
                data={"source": "letterboxd"},
                files={"file": ("diary.csv", "\n".join(lines).encode())},
                headers=headers,
                timeout=120,
            )
            accepted.raise_for_status()
            location = accepted.headers["location"].removeprefix("/api/v1")
            while (job := api.get(location, headers=headers).json())["status"] in (
                "queued",
                "running",
            ):
                time.sleep(0.1)
            elapsed = time.monotonic() - started
            timings.append(
                {
                    "rows": count,
                    "seconds": elapsed,
                    "rows_per_s": count / elapsed,
                    "matched": job["matched"],
                    "tmdb_calls": sandbox.get("/__admin/stats").json()["total"] - calls_before,
                    "status": job["status"],
                }
            )
        return timings

    def drain(self, stack: Stack, timeout_s: float = 120) -> None:
        """Wait until every outbox is empty and the consumers have stopped consuming (a
        backlog left by the write runs would be measured as the relay's and consumers'
        rates)."""
        deadline = time.monotonic() + timeout_s
        engines = [make_engine(url) for url in self.database_urls.values()]
        try:
            while time.monotonic() < deadline:
                pending = 0
                for engine in engines:
                    with engine.connect() as connection:
                        pending += int(
                            connection.execute(
                                text("SELECT count(*) FROM outbox_event WHERE sent_at IS NULL")
                            ).scalar_one()
                        )
                if pending == 0:
                    break
                time.sleep(0.5)
            consumers = [stack.url(name) for name in ("recommendations", "catalog")]
            consumed, steady = -1.0, 0
            while time.monotonic() < deadline and steady < 2:
                time.sleep(1.0)
                now = sum(self.metric(url, "events_consumed_total") for url in consumers)
                steady = steady + 1 if now == consumed else 0
                consumed = now
        finally:
            for engine in engines:
                engine.dispose()

    def write_scenarios(
        self,
        wrk: str,
        stack: Stack,
        api: httpx.Client,
        scripts: Path,
        holder: list[subprocess.Popen[bytes]],
        run: Any,
    ) -> None:
        """The peer's favorites, then each write kind through the gateway, 64 users each."""
        wanted = [PEER] + [f"gateway: {kind} writes (64 users)" for kind in WRITES]
        if self.only and not any(part in name for name in wanted for part in self.only):
            return
        tokens = [
            self.user(api)[1]["Authorization"].removeprefix("Bearer ") for _ in range(WRITERS)
        ]
        ensure_database(self.peer_database_url)
        peer_port = free_port()
        holder.append(
            subprocess.Popen(
                [
                    sys.executable, "-m", "uvicorn", "tools.peer_app:app", "--host", "127.0.0.1",
                    "--port", str(peer_port), "--loop", "uvloop", "--http", "httptools",
                    "--no-access-log", "--log-level", "warning",
                ],
                cwd=REPO_ROOT,
                env={**os.environ, "PEER_DATABASE_URL": self.peer_database_url},
            )
        )  # fmt: skip
        _wait_answers(f"http://127.0.0.1:{peer_port}/docs")
        self.profiled["peer"] = holder[-1].pid
        run(
            PEER,
            f"http://127.0.0.1:{peer_port}/",
            script=writes_script(scripts, "peer", tokens, "favorites"),
            measure_cpu=True,
        )
        # The consumers' lag, and the library's own from a write to the broker's confirm.
        consumers = [stack.url(name) for name in ("recommendations", "catalog", "library")]
        for kind in WRITES:
            before = {url: lag_buckets(url) for url in consumers}
            run(
                f"gateway: {kind} writes (64 users)",
                f"{stack.url('gateway')}/",
                script=writes_script(scripts, kind, tokens, kind),
                measure_cpu=True,
            )
            time.sleep(1.0)  # the last events of the run reach their consumers
            if self.results and self.results[-1].name == f"gateway: {kind} writes (64 users)":
                lags: dict[str, float] = {}
                for url in consumers:
                    found = lag_p99_s(before[url], lag_buckets(url))
                    if url == stack.url("library"):
                        lags["library outbox to broker"] = found.get("publish", 0.0)
                    else:
                        lags.update((q, v) for q, v in found.items() if q != "publish")
                self.results[-1].lag_p99_s = lags

    # --- report ----------------------------------------------------------------------------
    def report(self, command: str) -> str:
        by = {r.name: r for r in self.results}
        bare = by[FLOOR]
        catalog = by["catalog: cached trending (direct)"]
        gateway = by["gateway: cached trending"]
        lines = [
            f"Command: `{command}` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, this machine: "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, wrk 2 threads, "
            f"{CONNECTIONS} connections, {self.seconds} s per scenario).",
            "",
            "| scenario | requests/s | p50 ms | p99 ms | errors | ratio |",
            "|---|---|---|---|---|---|",
        ]
        ratios = {
            "catalog: cached trending (direct)": (
                "of the bare app",
                catalog.requests_per_s / bare.requests_per_s,
            ),
            DETAILS_PAGE: (
                "of the bare app",
                by[DETAILS_PAGE].requests_per_s / bare.requests_per_s,
            ),
            DETAILS_DIRECT: (
                "of the bare app on the same 200 paths",
                by[DETAILS_DIRECT].requests_per_s / by[PATHS_FLOOR].requests_per_s,
            ),
            "gateway: cached trending": (
                "of the catalog direct",
                gateway.requests_per_s / catalog.requests_per_s,
            ),
            "gateway: favorites list (10 favorites)": (
                "of gateway trending",
                by["gateway: favorites list (10 favorites)"].requests_per_s
                / gateway.requests_per_s,
            ),
            "gateway: favorites list (10,000 favorites)": (
                "of the 10-favorite user",
                by["gateway: favorites list (10,000 favorites)"].requests_per_s
                / by["gateway: favorites list (10 favorites)"].requests_per_s,
            ),
        }
        for kind in WRITES:
            name = f"gateway: {kind} writes (64 users)"
            ratios[name] = ("of the peer", by[name].requests_per_s / by[PEER].requests_per_s)
        for r in self.results:
            label, ratio = ratios.get(r.name, ("", 0.0))
            ratio_text = f"{ratio:.2f} {label}" if label else ""
            lines.append(
                f"| {r.name} | {r.requests_per_s:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} | {ratio_text} |"
            )
        writes = [by[PEER], *(by[f"gateway: {kind} writes (64 users)"] for kind in WRITES)]
        lines += [
            "",
            "- Writes, 64 users at 32 connections, CPU per acknowledged write (every process on "
            "the machine, wrk's own left out): "
            + "; ".join(f"{r.name.split(':')[0]} {r.name.split(': ')[1].split(' (')[0]} "
                        f"{r.cpu_ms_per_request:.2f} ms" for r in writes if r.cpu_ms_per_request)
            + ".",
            "- The same, by process (ms per write; the busiest, python processes by service, "
            "the stores by command): "
            + "; ".join(
                f"{r.name.split(': ')[1].split(' (')[0]}: "
                + ", ".join(f"{name} {ms:.2f}" for name, ms in (r.cpu_by_process or {}).items())
                for r in writes
                if r.cpu_by_process
            )
            + ".",
            "- Events' lag over each write run, from the write to the broker's confirm (library "
            "outbox to broker) and to each consumer's acknowledgement, 99th percentile (the bound "
            "of its histogram bucket): "
            + "; ".join(
                f"{r.name.split(': ')[1].split(' (')[0]}: "
                + ", ".join(f"{q} <= {v:g} s" for q, v in sorted((r.lag_p99_s or {}).items()))
                for r in writes[1:]
            )
            + ".",
        ]  # fmt: skip
        e = self.extra
        rss = ", ".join(f"{name} {mb:.0f}" for name, mb in sorted(e["rss_mb"].items()))
        lines += [
            "",
            f"- TMDb calls during the read scenarios: {e['tmdb_calls']} for {e['user_requests']} user requests "
            f"({e['tmdb_calls_per_1000']:.3f} per 1,000); catalog cache hit ratio {e['cache_hit_ratio']:.4f}.",
            f"- Resident memory (MiB): {rss}.",
            f"- Cached movie details: {e['redis_bytes_per_movie']:.0f} bytes of Redis each; catalog resident "
            f"memory {e['catalog_rss_kib_per_movie']:.1f} KiB each (its bounded in-process fallback copy).",
            f"- Outbox relay: {e['relay_events_per_s']:.0f} events/s published with confirms; consumer "
            f"(recommendations, the events it handles at once in one transaction): {e['consumer_events_per_s']:.0f} events/s.",
            "- "
            + IMPORTS
            + ": "
            + "; ".join(
                f"{t['rows']:,} rows in {t['seconds']:.1f} s ({t['rows_per_s']:.0f} rows/s, "
                f"{t['matched']:,} matched, {t['tmdb_calls']} TMDb calls)"
                for t in e["imports"]
            )
            + ".",
        ]
        return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk scenario")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument(
        "--only",
        action="append",
        metavar="TEXT",
        help="run only the scenarios whose name contains TEXT (and the floor); prints, never writes",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample every process with py-spy during each scenario, profiles written to DIR",
    )
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-") as work_dir:
        bench = Bench(args.seconds, Path(work_dir), args.only, args.profile)
        started = time.monotonic()
        bench.run(wrk)
        if args.only:
            for result in bench.results:
                print(result)
            return
        section = bench.report("make bench")
    print(section)
    print(f"bench: finished in {time.monotonic() - started:.0f} s")
    if not args.no_write:
        write_section(
            REPO_ROOT / "BENCHMARKS.md",
            "bench",
            section,
            heading="Throughput and latency (`make bench`)",
            title="Benchmarks",
        )


if __name__ == "__main__":
    main()
