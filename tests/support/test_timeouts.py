"""The suite's per-test deadline (testsupport/timeouts.py): a hang fails fast, with stacks."""

import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

HANGING_TESTS = """
import asyncio
import signal
import time


async def _forever():
    await asyncio.Event().wait()


async def test_hangs_in_a_task():
    await _forever()


def test_runs_after_the_hang():
    pass


def test_cannot_be_interrupted():
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
    time.sleep(120)
"""


def _run(tmp_path: Path, *selection: str) -> tuple[subprocess.CompletedProcess[str], float]:
    (tmp_path / "test_hanging.py").write_text(HANGING_TESTS)
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "testsupport.timeouts",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "--rootdir",
            str(tmp_path),
            "-q",
            *(f"test_hanging.py::{name}" for name in selection),
        ],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "TEST_TIMEOUT_S": "1",
            "TEST_HARD_EXIT_GRACE_S": "2",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, time.monotonic() - started


def test_a_hanging_test_fails_with_the_stacks_and_the_run_goes_on(tmp_path: Path) -> None:
    result, took_s = _run(tmp_path, "test_hangs_in_a_task", "test_runs_after_the_hang")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "1 failed, 1 passed" in output
    assert "took longer than 1 s" in output
    assert "asyncio task(s)" in output and "in _forever" in output  # the chain of awaits
    assert "Current thread" in output or "Thread 0x" in output  # every thread's stack
    assert took_s < 30


def test_a_hang_that_cannot_be_interrupted_ends_the_run(tmp_path: Path) -> None:
    result, took_s = _run(tmp_path, "test_cannot_be_interrupted")
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "did not end 2 s after its timeout; ending the run" in output
    assert "test_cannot_be_interrupted" in output
    assert took_s < 30
