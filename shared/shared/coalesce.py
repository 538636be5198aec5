"""Calls asked for at the same moment, made as one.

Under load many coroutines resume in the same turn of the event loop (a consumer's events
applied in one transaction; concurrent requests) and each would send its own command to Redis.
`Coalescer` gathers the items asked for in one turn: the first caller waits that turn out, then
runs the batch function once for all of them; every caller returns when that call is done and
sees its exception if it failed. A first caller cancelled before the call ends fails the others
with `abandoned` (their callers treat it as the store being unavailable).

`ReadBatches` is for reads on a request's path (the gateway's revocation checks and cached
pages): a read asked for while none is in flight goes out at once, alone; those asked for while
one is in flight go together in the next. Each caller still gets an answer read after it asked.
"""

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
V = TypeVar("V")


@dataclass(slots=True)
class _Batch(Generic[K]):
    items: dict[K, None]  # in the order asked, each once
    done: asyncio.Future[None]


class Coalescer(Generic[K]):
    def __init__(
        self, run: Callable[[list[K]], Awaitable[object]], *, abandoned: Callable[[], Exception]
    ) -> None:
        self._run = run
        self._abandoned = abandoned
        self._open: _Batch[K] | None = None  # the batch the next callers join

    @property
    def gathering(self) -> int:
        """How many items wait for the next call (0 when none is being gathered)."""
        return len(self._open.items) if self._open is not None else 0

    async def __call__(self, item: K) -> None:
        batch = self._open
        if batch is not None:
            batch.items[item] = None
            await asyncio.shield(batch.done)
            return
        batch = self._open = _Batch({item: None}, asyncio.get_running_loop().create_future())
        try:
            await asyncio.sleep(0)  # the others asking in this turn join
            self._open = None
            await self._run(list(batch.items))
        except BaseException as exc:
            if self._open is batch:
                self._open = None
            if not batch.done.done():
                failure = exc if isinstance(exc, Exception) else self._abandoned()
                batch.done.set_exception(failure)
                batch.done.exception()  # retrieved: a batch of one leaves nobody to read it
            raise
        batch.done.set_result(None)


class ReadBatches(Generic[T, V]):
    """`submit(item)` queues a read and returns its answer to await; `read` reads a batch of
    items in one call and gives each item's answer in order (a value, or an exception for that
    item alone). A failed call fails every item of its batch with `failure(exc)`; the task
    reading them, if cancelled (`close`), cancels the answers still owed."""

    def __init__(
        self,
        read: Callable[[list[T]], Awaitable[Sequence[V | Exception]]],
        *,
        failure: Callable[[Exception], Exception],
        max_batch: int = 256,
    ) -> None:
        self._read = read
        self._failure = failure
        self.max_batch = max_batch
        self._waiting: list[tuple[T, asyncio.Future[V]]] = []
        self._reader: asyncio.Task[None] | None = None

    async def close(self) -> None:
        """Stop the reading under way, if any (its owner's shutdown): the answers still owed
        are cancelled."""
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.cancel()
            await asyncio.wait({reader})

    def submit(self, item: T) -> "asyncio.Future[V]":
        """The item's answer to await; cancel it if the answer is no longer wanted."""
        answer: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, answer))
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_while_waiting())
        return answer

    async def _read_while_waiting(self) -> None:
        batch: list[tuple[T, asyncio.Future[V]]] = []
        try:
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                try:
                    values = await self._read([item for item, _ in batch])
                    if len(values) != len(batch):
                        raise ValueError(f"{len(values)} answers read for {len(batch)} items")
                except Exception as exc:  # every waiting caller must get an answer
                    failure = self._failure(exc)
                    for _, answer in batch:
                        if not answer.done():
                            answer.set_exception(failure)
                    continue
                for (_, answer), value in zip(batch, values, strict=True):  # as many, checked
                    if answer.done():  # its caller may have gone away meanwhile
                        continue
                    if isinstance(value, Exception):
                        answer.set_exception(value)
                    else:
                        answer.set_result(value)
        except asyncio.CancelledError:
            for _, answer in [*batch, *self._waiting]:
                answer.cancel()
            self._waiting.clear()
            raise
