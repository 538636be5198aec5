"""A user's live stream on the real Redis: the channel's notifications as they come, and the
ones the channel did not bring read from the database at the next look, each sent once."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from notifications import live
from notifications.service import Delivered
from shared.redis import make_redis
from testsupport.infra import Infra

LOOK_EVERY_S = 0.3


class _Stored:
    """The database's side: a user's stored notifications as (seq, payload)."""

    def __init__(self, *seqs: int) -> None:
        self.rows = [(seq, b'{"n": %d}' % seq) for seq in seqs]
        self.looks = 0

    def add(self, seq: int) -> None:
        self.rows.append((seq, b'{"n": %d}' % seq))

    async def missed(self, after_seq: int) -> list[tuple[int, bytes]]:
        self.looks += 1
        return [row for row in sorted(self.rows) if row[0] > after_seq]

    async def newest(self) -> int:
        return max((seq for seq, _ in self.rows), default=0)


@pytest.fixture
async def redis(infra: Infra) -> AsyncIterator[Redis]:
    client = make_redis(infra.redis_url)
    yield client
    await client.aclose()


async def _streamed(
    redis: Redis, user_id: uuid.UUID, stored: _Stored, resume_after: int | None = None
) -> tuple["asyncio.Queue[int]", asyncio.Task[None]]:
    """The seqs the stream sends, as they are sent."""
    sent: asyncio.Queue[int] = asyncio.Queue()
    pubsub = redis.pubsub()
    await pubsub.subscribe(live.channel(user_id))

    async def read() -> None:
        try:
            chunks = live.stream(
                pubsub,
                missed=stored.missed,
                newest=stored.newest,
                resume_after=resume_after,
                look_every_s=LOOK_EVERY_S,
            )
            async for chunk in chunks:
                if chunk.startswith(b"id: "):
                    sent.put_nowait(int(chunk.split(b"\n")[0].removeprefix(b"id: ")))
        finally:
            await pubsub.aclose()

    return sent, asyncio.create_task(read())


async def _next(sent: "asyncio.Queue[int]", within_s: float = 3) -> int:
    async with asyncio.timeout(within_s):
        return await sent.get()


async def _publish(redis: Redis, stored: _Stored, user_id: uuid.UUID, seq: int) -> None:
    stored.add(seq)
    await live.publish(redis, [Delivered(user_id, seq, b'{"n": %d}' % seq, uuid.uuid4())])


async def test_published_notifications_come_at_once_and_older_ones_never(redis: Redis) -> None:
    user_id, stored = uuid.uuid4(), _Stored(1, 2)  # two from before the stream opened
    sent, task = await _streamed(redis, user_id, stored)
    await asyncio.sleep(0.05)
    await _publish(redis, stored, user_id, 3)
    assert await _next(sent, within_s=LOOK_EVERY_S / 2) == 3  # from the channel, before a look
    await asyncio.sleep(3 * LOOK_EVERY_S)  # the looks find nothing the channel did not bring
    assert sent.empty() and stored.looks >= 2
    task.cancel()


async def test_a_notification_the_channel_lost_comes_at_the_next_look_once(redis: Redis) -> None:
    user_id, stored = uuid.uuid4(), _Stored()
    sent, task = await _streamed(redis, user_id, stored)
    await asyncio.sleep(0.05)
    stored.add(1)  # stored, but its publish failed
    await _publish(redis, stored, user_id, 2)  # a later one that was published
    assert await _next(sent) == 2
    assert await _next(sent, within_s=3 * LOOK_EVERY_S) == 1  # the database's, at the next look
    await asyncio.sleep(2 * LOOK_EVERY_S)
    assert sent.empty()  # 2 is not sent again by the look that found 1
    task.cancel()


async def test_a_resumed_stream_gets_what_it_missed_first(redis: Redis) -> None:
    user_id, stored = uuid.uuid4(), _Stored(4, 5, 6)
    sent, task = await _streamed(redis, user_id, stored, resume_after=4)
    assert [await _next(sent, within_s=LOOK_EVERY_S / 2) for _ in range(2)] == [5, 6]
    await _publish(redis, stored, user_id, 7)
    assert await _next(sent) == 7
    task.cancel()
