"""Blocking work off the event loop: the one worker-thread hop routes and handlers use.

`run_sync` runs a function in a worker thread with the caller's context (request and
correlation ids reach the thread's logs). A caller cancelled while the function runs waits
for it to end, then is cancelled: a transaction is never left running behind a request that
stopped waiting, and the cancellation is not lost. That is what Starlette's
`run_in_threadpool` (anyio's `run_sync`) does too, at about three times the CPU per hop: in a
loop of empty calls on this machine, 86 to 88 us against 30 to 38 (BENCHMARKS.md, "sixth
steps").

Loops that run work whose caller may stop waiting on purpose (the outbox relay, background
checks) keep their own `run_in_executor` calls: there, abandoning the await is the point.
"""

import asyncio
import contextvars
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

logger = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

# As many threads as anyio's default limiter gave these calls before: more than any service's
# database pool and its overflow (the library's: 20 and 10), so a call waits for a connection,
# not for a thread.
WORKER_THREADS = 40
_executor = ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="worker")


async def run_sync(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` in a worker thread; see the module's docstring."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    work = loop.run_in_executor(
        _executor, functools.partial(context.run, function, *args, **kwargs)
    )
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await _until_done(work)
        raise


async def _until_done(work: "asyncio.Future[Any]") -> None:
    """Waits for `work` whatever cancels the caller meanwhile (they are one cancellation,
    raised by `run_sync` once the work has ended)."""
    while not work.done():
        try:
            await asyncio.wait({work})
        except asyncio.CancelledError:
            continue
    error = None if work.cancelled() else work.exception()
    if error is not None:  # its caller is gone: said here, or nowhere
        logger.warning("work failed after its caller was cancelled", exc_info=error)
