"""Background tasks with one owner, and waits with deadlines.

Every task a service runs beside its requests (the outbox relay, the bus connection, the
refresh scheduler, the Redis copies' keepers, the rate-limit sync) is started by a `Tasks`
owner and stopped by it, within a deadline. Two rules hold everywhere:

- a cancellation is re-raised, never caught as an ordinary error: code that waits for a task
  it cancelled uses `asyncio.wait`, which reports the task's end without raising the task's
  own exception and without swallowing a cancellation aimed at the waiter
  (`contextlib.suppress(asyncio.CancelledError)` around `await task` would swallow both);
- a wait on anything outside the process has a deadline: `asyncio.timeout` (not
  `asyncio.wait_for`, which on Python 3.11 can lose a cancellation that arrives as the
  awaited thing completes, CPython gh-86296).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Coroutine
from typing import Any

logger = logging.getLogger(__name__)
MIN_STEP_S = 0.05  # the least time a closing step is given, even past the deadline


class Deadline:
    """A point in time that several steps share: each asks how long is left."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def step(self) -> float:
        """The time the next step may take (never zero, so a close is at least attempted)."""
        return max(MIN_STEP_S, self.left())

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at


async def wait_event(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until `event` is set or `timeout_s` passes; True if it was set. A cancellation of
    the caller always propagates."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True


async def cancel_and_wait(task: asyncio.Task[Any], timeout_s: float) -> bool:
    """Cancel `task` and wait up to `timeout_s` for it to end; True if it ended. How it ended
    (an error other than the cancellation) is logged, not raised; the caller's own
    cancellation propagates."""
    if not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=max(timeout_s, 0.0))
    if not task.done():
        return False
    if not task.cancelled() and task.exception() is not None:
        logger.warning(
            "background task %s ended with an error",
            task.get_name(),
            exc_info=task.exception(),
        )
    return True


async def within(step: Awaitable[object], timeout_s: float, *, what: str) -> bool:
    """Await a shutdown step for at most `timeout_s`; False if it was cut off. A failing step
    is logged and counts as done: shutdown goes on either way."""
    try:
        async with asyncio.timeout(timeout_s):
            await step
    except TimeoutError:
        return False
    except Exception:
        logger.warning("shutdown step %s failed", what, exc_info=True)
    return True


def log_abandoned(abandoned: list[str]) -> None:
    """Say, once, what a shutdown left undone when its deadline passed."""
    if abandoned:
        logger.error(
            "shutdown deadline passed; abandoned: %s",
            ", ".join(abandoned),
            extra={"abandoned": abandoned},
        )


class Tasks:
    """The owner of a process's background tasks: starts them, stops them all by a deadline."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[Any]] = []

    def spawn(self, coroutine: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.append(task)
        task.add_done_callback(self._report_unexpected_end)
        return task

    @property
    def running(self) -> list[str]:
        return [task.get_name() for task in self._tasks if not task.done()]

    async def stop(self, timeout_s: float) -> list[str]:
        """Cancel every task and wait for them together; returns the names of those still
        running when `timeout_s` passed (they are abandoned, still cancelled)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.remove_done_callback(self._report_unexpected_end)
        ended = await asyncio.gather(*(cancel_and_wait(task, timeout_s) for task in tasks))
        return [task.get_name() for task, done in zip(tasks, ended, strict=True) if not done]

    @staticmethod
    def _report_unexpected_end(task: asyncio.Task[Any]) -> None:
        # A background task runs for the process's lifetime; one that ends on its own is a bug.
        if task.cancelled():
            return
        error = task.exception()
        logger.error(
            "background task %s ended before shutdown",
            task.get_name(),
            exc_info=error,
        )
