"""Live delivery: new notifications go out on a per-user Redis channel, so every replica's
open streams get them; a stream that reconnects with Last-Event-ID reads what it missed from
the database first."""

import uuid

from redis.asyncio import Redis

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
