"""Calls asked for in one turn of the event loop, made as one; reads asked for while one is in
flight, made as the next."""

import asyncio

import pytest

from shared.coalesce import Coalescer, ReadBatches


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


class _Reads:
    """A ReadBatches whose reads are recorded and held until released."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.release = asyncio.Event()
        self.fail: Exception | None = None
        self.batches: ReadBatches[int, str] = ReadBatches(
            self._read, failure=lambda exc: _Abandoned(repr(exc)), max_batch=3
        )

    async def _read(self, items: list[int]) -> list[str | Exception]:
        self.calls.append(items)
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return [ValueError(f"no {item}") if item < 0 else f"read {item}" for item in items]


async def test_a_read_alone_goes_at_once_and_those_asked_meanwhile_go_together() -> None:
    reads = _Reads()
    first = reads.batches.submit(1)
    await asyncio.sleep(0)
    assert reads.calls == [[1]]  # nothing in flight: it went alone, straight away
    later = [reads.batches.submit(item) for item in (2, 3, 4, 5)]
    await asyncio.sleep(0)
    assert reads.calls == [[1]]  # they wait for the read in flight, not read before it ended
    reads.release.set()
    assert await asyncio.gather(first, *later) == [f"read {n}" for n in (1, 2, 3, 4, 5)]
    assert reads.calls == [[1], [2, 3, 4], [5]]  # then in batches of at most max_batch


async def test_an_item_fails_alone_and_a_failed_read_fails_its_whole_batch() -> None:
    reads = _Reads()
    reads.release.set()
    outcomes = await asyncio.gather(
        reads.batches.submit(1), reads.batches.submit(-1), return_exceptions=True
    )
    assert outcomes[0] == "read 1" and isinstance(outcomes[1], ValueError)
    reads.fail = ConnectionError("store down")
    outcomes = await asyncio.gather(
        reads.batches.submit(2), reads.batches.submit(3), return_exceptions=True
    )
    assert [type(outcome) for outcome in outcomes] == [_Abandoned, _Abandoned]
    reads.fail = None
    assert await reads.batches.submit(4) == "read 4"  # the next read works


async def test_a_caller_gone_away_leaves_the_others_their_answers() -> None:
    reads = _Reads()
    first, second = reads.batches.submit(1), reads.batches.submit(2)
    await asyncio.sleep(0)
    first.cancel()
    reads.release.set()
    assert await second == "read 2"
    assert first.cancelled()


async def test_closed_it_stops_reading_and_cancels_every_answer_still_owed() -> None:
    reads = _Reads()
    answers = [reads.batches.submit(item) for item in (1, 2, 3, 4)]
    await asyncio.sleep(0)
    assert reads.calls == [[1, 2, 3]]
    reader = reads.batches._reader
    async with asyncio.timeout(5):
        await reads.batches.close()
    assert reader is not None and reader.cancelled()
    assert all(answer.cancelled() for answer in answers)  # in flight and queued alike
    reads.release.set()
    assert await reads.batches.submit(5) == "read 5"  # a new reader for the next read
