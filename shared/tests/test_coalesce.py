"""Calls asked for in one turn of the event loop, made as one."""

import asyncio

import pytest

from shared.coalesce import Coalescer


class _Abandoned(Exception):
    pass


def _recording(fail: Exception | None = None) -> tuple[Coalescer[int], list[list[int]]]:
    calls: list[list[int]] = []

    async def run(items: list[int]) -> None:
        calls.append(items)
        await asyncio.sleep(0.01)
        if fail is not None:
            raise fail

    return Coalescer(run, abandoned=_Abandoned), calls


async def test_items_asked_for_together_go_in_one_call_each_once() -> None:
    coalescer, calls = _recording()
    await asyncio.gather(*(coalescer(item) for item in (3, 1, 3, 2)))
    assert calls == [[3, 1, 2]]
    await coalescer(4)  # asked for later: a call of its own
    assert calls == [[3, 1, 2], [4]]


async def test_a_failed_call_fails_every_caller_that_joined_it() -> None:
    coalescer, _ = _recording(fail=ValueError("store down"))
    outcomes = await asyncio.gather(*(coalescer(item) for item in range(3)), return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [ValueError] * 3
    assert coalescer.gathering == 0


async def test_a_cancelled_first_caller_abandons_the_call_for_the_others() -> None:
    coalescer, calls = _recording()
    first = asyncio.create_task(coalescer(1))
    second = asyncio.create_task(coalescer(2))
    await asyncio.sleep(0)  # the first waits for others; the second has joined
    assert coalescer.gathering == 2
    first.cancel()
    outcomes = await asyncio.gather(first, second, return_exceptions=True)
    assert isinstance(outcomes[0], asyncio.CancelledError)
    assert isinstance(outcomes[1], _Abandoned)
    assert calls == [] and coalescer.gathering == 0
    await coalescer(3)  # the next call works
    assert calls == [[3]]


async def test_a_follower_cancelled_leaves_the_call_to_the_others() -> None:
    coalescer, calls = _recording()
    first = asyncio.create_task(coalescer(1))
    second = asyncio.create_task(coalescer(2))
    await asyncio.sleep(0)
    second.cancel()
    await first
    with pytest.raises(asyncio.CancelledError):
        await second
    assert calls == [[1, 2]]
