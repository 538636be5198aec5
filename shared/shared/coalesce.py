"""Calls asked for at the same moment, made as one.

Under load many coroutines resume in the same turn of the event loop (a consumer's events
applied in one transaction; concurrent requests) and each would send its own command to Redis.
`Coalescer` gathers the items asked for in one turn: the first caller waits that turn out, then
runs the batch function once for all of them; every caller returns when that call is done and
sees its exception if it failed. A first caller cancelled before the call ends fails the others
with `abandoned` (their callers treat it as the store being unavailable)."""

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


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
