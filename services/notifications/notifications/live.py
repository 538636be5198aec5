"""Live delivery: new notifications go out on a per-user Redis channel, so every replica's
open streams get them; a stream that reconnects with Last-Event-ID reads what it missed from
the database first.

The database is the truth and the channel a fast copy of it: a publish can fail (Redis
unreachable for a moment, after the notification was stored) while a stream stays open, and
that stream would never hear of it. So each open stream also looks at the database once per
keep-alive period for what the channel did not bring (`stream`).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from notifications.service import Delivered

PUBLISH_BATCH = 500


def channel(user_id: uuid.UUID) -> str:
    return f"notifications:live:{user_id}"


async def publish(redis: Redis, delivered: list[Delivered]) -> None:
    for start in range(0, len(delivered), PUBLISH_BATCH):
        async with redis.pipeline(transaction=False) as pipe:
            for item in delivered[start : start + PUBLISH_BATCH]:
                pipe.publish(channel(item.user_id), f"{item.seq}|".encode() + item.payload)
            await pipe.execute()


def sse(seq: int, payload: bytes) -> bytes:
    return b"id: " + str(seq).encode() + b"\nevent: notification\ndata: " + payload + b"\n\n"


async def stream(
    pubsub: PubSub,
    *,
    missed: Callable[[int], Awaitable[list[tuple[int, bytes]]]],
    newest: Callable[[], Awaitable[int]],
    resume_after: int | None,
    look_every_s: float,
) -> AsyncIterator[bytes]:
    """A user's stream, `pubsub` already subscribed to their channel: what they missed after
    `resume_after` (when given), each notification published from then on, and every
    `look_every_s` (with a keep-alive comment) those the database holds and the channel did
    not bring, each sent once. `missed(seq)` reads the stored ones after `seq`, oldest first,
    as (seq, payload); `newest()` the user's last seq when the stream starts."""
    yield b"retry: 3000\n\n"
    loop = asyncio.get_running_loop()
    looked_upto = resume_after if resume_after is not None else await newest()
    # The channel's messages are sent above this: before the first look, any a new stream
    # hears (one stored just before it opened, published just after, is not in the list its
    # client read); after a look, those the look did not cover.
    floor = resume_after or 0
    seen: set[int] = set()  # sent from the channel since the last look
    next_look = loop.time() if resume_after is not None else loop.time() + look_every_s
    while True:
        if (wait_s := next_look - loop.time()) > 0:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=wait_s)
            if message is not None:
                seq_text, _, payload = bytes(message["data"]).partition(b"|")
                seq = int(seq_text)
                if seq > floor and seq not in seen:
                    seen.add(seq)
                    yield sse(seq, payload)
            continue
        for seq, payload in await missed(looked_upto):
            if seq not in seen:
                yield sse(seq, payload)
            looked_upto = max(looked_upto, seq)
        seen = {seq for seq in seen if seq > looked_upto}
        floor = looked_upto
        next_look = loop.time() + look_every_s
        yield b": keep-alive\n\n"
