"""Background tasks stop when told, waits end by their deadlines, cancellations propagate;
a service's runtime stops everything it started, also after a failed start."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from shared.config import DatabaseSettings
from shared.lifecycle import Deadline, Tasks, cancel_and_wait, wait_event
from shared.runtime import Runtime, build_runtime


class Stubborn:
    """A task that takes a cancellation for an ordinary error (the bug guarded against),
    until the test lets it end."""

    def __init__(self) -> None:
        self.ignored = asyncio.Event()
        self.released = asyncio.Event()

    async def run(self) -> None:
        while not self.released.is_set():
            try:
                await self.released.wait()
            except asyncio.CancelledError:
                self.ignored.set()

    async def end(self, task: "asyncio.Task[None]") -> None:
        self.released.set()
        await asyncio.wait({task}, timeout=5)
        assert task.done()


async def test_wait_event_never_loses_a_cancel_that_lands_with_the_event() -> None:
    """CPython gh-86296: asyncio.wait_for on 3.11 returns the result instead."""
    event = asyncio.Event()
    waiter = asyncio.create_task(wait_event(event, 10))
    await asyncio.sleep(0.01)
    event.set()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_wait_event_reports_a_timeout_and_a_set_event() -> None:
    event = asyncio.Event()
    assert not await wait_event(event, 0.01)
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5)


async def test_cancel_and_wait_gives_up_on_a_task_that_does_not_end() -> None:
    stubborn = Stubborn()
    task = asyncio.create_task(stubborn.run())
    await asyncio.sleep(0)
    assert not await cancel_and_wait(task, 0.1)
    assert stubborn.ignored.is_set()
    await stubborn.end(task)


async def test_the_caller_of_cancel_and_wait_can_be_cancelled() -> None:
    """contextlib.suppress(CancelledError) around `await task` swallowed this."""
    stubborn = Stubborn()
    task = asyncio.create_task(stubborn.run())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(cancel_and_wait(task, 30))
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await stubborn.end(task)


async def test_tasks_stop_together_by_one_deadline_and_name_what_was_abandoned() -> None:
    tasks = Tasks()
    stubborn = Stubborn()
    tasks.spawn(asyncio.sleep(3600), name="polite")
    task = tasks.spawn(stubborn.run(), name="stubborn")
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await tasks.stop(0.3) == ["stubborn"]
    assert loop.time() - started < 1
    assert tasks.running == []
    await stubborn.end(task)


def test_a_deadline_counts_down_and_still_gives_a_closing_step_a_moment() -> None:
    deadline = Deadline(0)
    assert deadline.passed and deadline.left() == 0
    assert deadline.step() > 0


@pytest.fixture
async def runtime(infra, make_database) -> AsyncIterator[Runtime]:  # type: ignore[no-untyped-def]
    settings = DatabaseSettings(
        database_url=make_database("catalog"),
        redis_url=infra.redis_url,
        security_redis_url=infra.security_redis_url,
        amqp_url=infra.amqp_url,
        bus_namespace=f"test-runtime-{uuid.uuid4().hex[:8]}",
        bus_queue_expires_ms=60_000,
        shutdown_deadline_s=5,
    )
    runtime = build_runtime(settings)
    yield runtime
    await runtime.stop(2)


async def test_a_failed_start_stops_what_was_started(runtime: Runtime) -> None:
    async def spawn_then_fail(rt: Runtime) -> None:
        rt.spawn(asyncio.sleep(3600), name="started-before-the-failure")
        raise RuntimeError("a start hook failed")

    runtime.on_start.append(spawn_then_fail)
    with pytest.raises(RuntimeError, match="a start hook failed"):
        await runtime.start()
    assert runtime.tasks.running == []
    assert runtime.relay is not None and not runtime.relay.running
    assert runtime.bus is not None and runtime.bus._task is not None and runtime.bus._task.done()


async def test_stop_keeps_its_deadline_and_names_what_it_abandoned(runtime: Runtime) -> None:
    stubborn = Stubborn()
    spawned: list[asyncio.Task[None]] = []

    async def spawn_stubborn(rt: Runtime) -> None:
        spawned.append(rt.spawn(stubborn.run(), name="stubborn"))

    async def hanging_close(_: Runtime) -> None:
        await asyncio.sleep(3600)

    runtime.on_start.append(spawn_stubborn)
    runtime.on_stop.append(hanging_close)
    await runtime.start()
    assert runtime.bus is not None
    await runtime.bus.wait_ready(15)
    loop = asyncio.get_running_loop()
    started = loop.time()
    abandoned = await runtime.stop(1.0)
    assert loop.time() - started < 1.6
    assert "task stubborn" in abandoned and "stop hook hanging_close" in abandoned
    assert not runtime.bus.is_connected
    await stubborn.end(spawned[0])
