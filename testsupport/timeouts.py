"""Every test phase has a deadline, so a hang is a red test with its cause, never a silent
wait for CI's limit.

Each phase of a test (setup, call, teardown; session fixtures are set up and torn down inside
the first and last test's phases) gets `TEST_TIMEOUT_S` seconds (120 by default), or what its
`@pytest.mark.timeout(seconds)` says. When it runs out:
1. SIGALRM: the stacks of every thread and of every asyncio task of the running loop (each
   task's whole chain of awaits) are printed, and the test fails where it stood;
2. if the phase still has not ended `TEST_HARD_EXIT_GRACE_S` (30) seconds later (stuck in C
   code, or the failure was swallowed), a watchdog thread prints the stacks again and ends
   the whole run with exit code 3: a stuck run must not sit until the CI limit.
"""

import asyncio
import contextlib
import faulthandler
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from types import FrameType
from typing import Any, TextIO

import pytest

DEFAULT_TIMEOUT_S = 120.0
HARD_EXIT_GRACE_S = 30.0
HARD_EXIT_CODE = 3


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "timeout(seconds): this test's phases may each take this long (default 120)"
    )


def _hard_exit_grace_s() -> float:
    return float(os.environ.get("TEST_HARD_EXIT_GRACE_S", HARD_EXIT_GRACE_S))


def timeout_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        return float(marker.args[0])
    return float(os.environ.get("TEST_TIMEOUT_S", DEFAULT_TIMEOUT_S))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _deadline(item, "setup"):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _deadline(item, "call"):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    with _deadline(item, "teardown"):
        yield


@contextlib.contextmanager
def _deadline(item: pytest.Item, phase: str) -> Iterator[None]:
    timeout_s = timeout_of(item)
    if timeout_s <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    where = f"{item.nodeid} ({phase})"
    seen_loop: list[asyncio.AbstractEventLoop] = []

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        loop = asyncio._get_running_loop()
        if loop is not None:
            seen_loop.append(loop)
        dump_stacks(sys.stderr, loop, title=f"{where} passed its timeout of {timeout_s:g} s")
        pytest.fail(f"timeout: {where} took longer than {timeout_s:g} s (stacks on stderr)")

    def hard_exit() -> None:
        with contextlib.suppress(Exception):
            capture = item.config.pluginmanager.getplugin("capturemanager")
            capture.suspend_global_capture(in_=True)
        out = sys.__stderr__ or sys.stderr
        dump_stacks(
            out,
            seen_loop[0] if seen_loop else None,
            title=f"{where} did not end {grace_s:g} s after its timeout; ending the run",
        )
        out.flush()
        os._exit(HARD_EXIT_CODE)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    grace_s = _hard_exit_grace_s()
    watchdog = threading.Timer(timeout_s + grace_s, hard_exit)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        watchdog.cancel()


def dump_stacks(out: TextIO, loop: asyncio.AbstractEventLoop | None, *, title: str) -> None:
    """Every thread's stack, then every task of `loop` with its chain of awaits."""
    out.write(f"\n{'+' * 30} {title} {'+' * 30}\n")
    out.flush()
    with contextlib.suppress(Exception):
        faulthandler.dump_traceback(file=out, all_threads=True)
    if loop is None:
        return
    try:
        tasks = list(asyncio.all_tasks(loop))
    except RuntimeError:  # the set changed while copied from another thread
        return
    out.write(f"\n{len(tasks)} asyncio task(s):\n")
    for task in tasks:
        out.write(f"\n--- {task!r}\n")
        out.write("".join(traceback.format_list(_awaits(task.get_coro()))))
    out.flush()


def _awaits(coroutine: Any) -> traceback.StackSummary:
    """The frames of a coroutine and of everything it awaits in turn."""
    frames = []
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "gi_frame", None)
        if frame is None:
            break
        frames.append((frame, frame.f_lineno))
        coroutine = getattr(coroutine, "cr_await", None) or getattr(coroutine, "gi_yieldfrom", None)
    return traceback.StackSummary.extract(frames)
