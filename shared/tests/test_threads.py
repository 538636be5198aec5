"""The worker-thread hop: results, errors, the caller's context, and cancellation."""

import asyncio
import contextvars
import logging
import threading

import pytest

from shared.threads import run_sync

request_id = contextvars.ContextVar("request_id", default="none")


async def test_the_function_runs_in_a_worker_thread_with_the_callers_context() -> None:
    request_id.set("abc")

    def seen(prefix: str, *, suffix: str) -> tuple[str, str]:
        return threading.current_thread().name, f"{prefix}{request_id.get()}{suffix}"

    thread_name, value = await run_sync(seen, "<", suffix=">")

    assert thread_name != threading.current_thread().name
    assert thread_name.startswith("worker")
    assert value == "<abc>"


async def test_an_error_reaches_the_caller() -> None:
    def fails() -> None:
        raise LookupError("no such row")

    with pytest.raises(LookupError, match="no such row"):
        await run_sync(fails)


async def test_a_cancelled_caller_waits_for_the_work_then_is_cancelled() -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[str] = []

    def transaction() -> str:
        started.set()
        release.wait(timeout=5)
        finished.append("committed")
        return "done"

    caller = asyncio.create_task(run_sync(transaction))
    await asyncio.to_thread(started.wait, 5)
    caller.cancel()
    await asyncio.sleep(0.05)
    caller.cancel()  # a second cancel while it waits changes nothing
    await asyncio.sleep(0.05)
    assert not caller.done(), "the caller stopped waiting while its transaction ran"

    release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(caller, timeout=5)
    assert finished == ["committed"]


async def test_a_failure_after_the_caller_was_cancelled_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started, release = threading.Event(), threading.Event()

    def fails_late() -> None:
        started.set()
        release.wait(timeout=5)
        raise RuntimeError("lost connection")

    caller = asyncio.create_task(run_sync(fails_late))
    await asyncio.to_thread(started.wait, 5)
    caller.cancel()
    await asyncio.sleep(0.05)
    release.set()
    with (
        caplog.at_level(logging.WARNING, logger="shared.threads"),
        pytest.raises(asyncio.CancelledError),
    ):
        await asyncio.wait_for(caller, timeout=5)
    assert any(
        "after its caller was cancelled" in record.message
        and record.exc_info
        and "lost connection" in str(record.exc_info[1])
        for record in caplog.records
    )
