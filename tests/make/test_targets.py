"""Every `make` target README.md names runs here, at least in a quick mode, so none breaks
unnoticed. Each runs the real command from the repository's root, as a person would.

`make test` is the run this module is part of; `make chaos --quick` injects only the faults
that leave the machine's servers running; `make bench` runs one short scenario and `make eval`
a few users, and neither writes its report.
"""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from shared.migrations import drop_database
from tools.stack import free_port
from tools.supervise import SANDBOX, SERVICES

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(900)  # each target's own subprocess timeout comes first
SMOKED = {"run", "test", "eval", "bench", "chaos", "stop-check", "lint", "format", "migrate"}
# Not run here, by design: compose-check and ha-check install and start a Docker engine and
# build every image (minutes, and a daemon of the machine's). Their command lines are checked
# below; their figures are in DEPLOYMENT.md.
# `make screenshots` rewrites docs/screenshots/ with the browser test, which make test runs.
BY_HAND = {"compose-check", "ha-check", "screenshots"}


def _make(*args: str, timeout_s: float, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["make", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"make {' '.join(args)} failed:\n{output[-4000:]}"
    return output


def test_every_target_the_readme_names_is_smoked_here() -> None:
    named = set(re.findall(r"`make ([a-z-]+)", (ROOT / "README.md").read_text()))
    assert named <= SMOKED | BY_HAND, f"README names targets nothing here runs: {named - SMOKED}"
    makefile = (ROOT / "Makefile").read_text()
    for target in SMOKED | BY_HAND:
        assert re.search(rf"^{target}:", makefile, re.M), f"no {target} target in the Makefile"


@pytest.mark.parametrize("tool", ["tools.compose_check", "tools.ha_check"])
def test_the_container_checks_load_and_know_their_options(tool: str) -> None:
    output = subprocess.run(
        [sys.executable, "-m", tool, "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "--no-write" in output and "--keep" in output


def test_make_eval_quick() -> None:
    output = _make("eval", "ARGS=--users 20", timeout_s=300)
    assert '"users": 20' in output


def _tree_diff() -> str:
    return subprocess.run(
        ["git", "diff"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout


def test_make_lint_and_format() -> None:
    _make("lint", timeout_s=600)
    before = _tree_diff()
    _make("format", timeout_s=300)
    assert _tree_diff() == before  # on a tree that lint passed, format changes nothing


def test_make_migrate() -> None:
    output = _make("migrate", timeout_s=300)
    assert "migrate: auth is at the newest schema" in output


def test_make_bench_quick() -> None:
    output = _make("bench", "ARGS=--seconds 1 --only trending", timeout_s=600)
    assert "gateway: cached trending" in output


def test_make_chaos_quick() -> None:
    output = _make("chaos", "ARGS=--quick", timeout_s=600)
    assert "flush the security Redis" in output
    assert "kill -9 gateway" in output


def test_make_stop_check_quick() -> None:
    output = _make("stop-check", "ARGS=--quick", timeout_s=600)
    assert "| library |" in output  # its stop time, and nothing lost (else make fails)


def test_make_run_serves_the_system_and_stops_on_sigterm() -> None:
    tag = uuid.uuid4().hex[:6]
    ports = {spec.name: free_port() for spec in (*SERVICES, SANDBOX)}
    env = {
        **os.environ,
        **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
        **{
            f"GATEWAY_{name.upper()}_URL": f"http://127.0.0.1:{ports[name]}"
            for name in ("auth", "catalog", "library", "recommendations", "notifications")
        },
        **{
            f"{name.upper()}_CATALOG_URL": f"http://127.0.0.1:{ports['catalog']}"
            for name in ("library", "recommendations", "notifications")
        },
        **{
            f"{name.upper()}_DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:5432/smoke_{name}"
            for name in ("auth", "catalog", "library", "recommendations", "notifications")
        },
        "REDIS_URL": "redis://127.0.0.1:6379/10",
        "SECURITY_REDIS_URL": "redis://127.0.0.1:6380/10",
        "BUS_NAMESPACE": f"smoke-{tag}",
        "BUS_QUEUE_EXPIRES_MS": "600000",
    }
    for key in ("TMDB_API_KEY", "TMDB_ACCESS_TOKEN", "TMDB_BASE_URL"):
        env.pop(key, None)
    process = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, "make run exited early"
            assert time.monotonic() < deadline, "make run: the gateway was not ready in time"
            try:
                if httpx.get(f"{gateway}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        api = httpx.Client(base_url=f"{gateway}/api/v1", timeout=20)
        email = f"smoke-{tag}@example.com"
        credentials = {"email": email, "password": "a fine passphrase"}
        assert api.post("/auth/register", json=credentials).status_code == 201
        assert api.post("/auth/login", json=credentials).status_code == 200
        trending = api.get("/movies/trending")
        assert trending.status_code == 200 and trending.json()["results"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
        for name in ("auth", "catalog", "library", "recommendations", "notifications"):
            drop_database(f"postgresql+psycopg2://postgres@127.0.0.1:5432/smoke_{name}")
    assert b"stopping every service" in output
