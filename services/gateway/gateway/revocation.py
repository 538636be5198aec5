"""Revocation checks for every authenticated request, batched into shared Redis reads.

Each request still waits for an answer from Redis given after it arrived, so a logout is
refused everywhere at once; but while one read is in flight, the checks that arrive queue
up and go together in the next one. Under load that turns one round trip per request into
one per batch (a Redis command measured at about a fifth of the gateway's time per request);
when idle, a check goes out alone, straight away.

Each check reads the login's revocation mark together with the copy's completeness mark, in
the security Redis: a copy that lost its data answers RevocationCopyIncomplete (503), never
"not revoked".
"""

import asyncio

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.security import Principal, RevocationCopyIncomplete, revocation_keys, revoked_from


class RevocationChecks:
    def __init__(self, redis: Redis, *, max_batch: int = 256) -> None:
        self.redis = redis
        self.max_batch = max_batch
        self._waiting: list[tuple[tuple[str, str], asyncio.Future[bool]]] = []
        self._reader: asyncio.Task[None] | None = None

    async def revoked(self, principal: Principal) -> bool:
        """True if the token's login was revoked; raises RedisError if that cannot be told."""
        return await self.submit(principal)

    def submit(self, principal: Principal) -> "asyncio.Future[bool]":
        """Queue a check and return its answer to await, so the caller can do other work
        (read a cached page) meanwhile; cancel it if the answer is no longer wanted."""
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((revocation_keys(principal), answer))
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_while_waiting())
        return answer

    async def _read_while_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            keys = [key for pair, _ in batch for key in pair]
            try:
                values = await self.redis.mget(keys)
            except Exception as exc:  # every waiting request must get an answer
                failure = exc if isinstance(exc, RedisError) else RedisError(repr(exc))
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(failure)
                continue
            for index, (_, answer) in enumerate(batch):
                if answer.done():  # its request may have gone away meanwhile
                    continue
                try:
                    answer.set_result(revoked_from(values[2 * index : 2 * index + 2]))
                except RevocationCopyIncomplete as exc:
                    answer.set_exception(exc)
