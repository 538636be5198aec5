"""Dead-letter queue tools: list, inspect and replay what consumers gave up on.

Messages are browsed with basic.get and handed back to the queue unless replayed, so
listing never loses anything.
"""

import json
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from shared.bus.bus import (
    CONNECT_TIMEOUT_S,
    ERROR_HEADER,
    PUBLISH_TIMEOUT_S,
    RETRY_COUNT_HEADER,
    copy_message,
)


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    event_type: str
    error: str
    retries: int
    headers: dict[str, Any]
    body: bytes

    def summary(self) -> str:
        return f"{self.message_id}  {self.event_type or '-'}  retries={self.retries}  {self.error}"

    def detail(self) -> dict[str, Any]:
        try:
            body: Any = json.loads(self.body)
        except ValueError:
            body = self.body.decode("utf-8", errors="replace")
        return {
            "message_id": self.message_id,
            "type": self.event_type,
            "error": self.error,
            "retries": self.retries,
            "headers": self.headers,
            "body": body,
        }


def _dead_letter(message: AbstractIncomingMessage) -> DeadLetter:
    headers = {
        k: (v.decode() if isinstance(v, bytes) else v) for k, v in (message.headers or {}).items()
    }
    return DeadLetter(
        message_id=message.message_id or "",
        event_type=message.type or "",
        error=str(headers.get(ERROR_HEADER, "")),
        retries=int(str(headers.get(RETRY_COUNT_HEADER, 0) or 0)),
        headers={k: str(v) for k, v in headers.items()},
        body=message.body,
    )


async def _browse(
    channel: AbstractChannel, queue_name: str, limit: int
) -> list[AbstractIncomingMessage]:
    queue = await channel.get_queue(queue_name, ensure=True)
    messages: list[AbstractIncomingMessage] = []
    while len(messages) < limit:
        message = await queue.get(no_ack=False, fail=False)
        if message is None:
            break
        messages.append(message)
    return messages


async def list_dead_letters(amqp_url: str, queue_name: str, limit: int = 100) -> list[DeadLetter]:
    connection = await aio_pika.connect(amqp_url, timeout=CONNECT_TIMEOUT_S)
    async with connection:
        channel = await connection.channel()
        messages = await _browse(channel, queue_name, limit)
        letters = [_dead_letter(m) for m in messages]
        for message in messages:
            await message.nack(requeue=True)
        return letters


async def replay(
    amqp_url: str,
    dead_letter_queue: str,
    target_queue: str,
    *,
    message_id: str | None,
    limit: int = 10_000,
) -> int:
    """Send dead letters (one, or all when `message_id` is None) back to their consumer's queue."""
    connection = await aio_pika.connect(amqp_url, timeout=CONNECT_TIMEOUT_S)
    replayed = 0
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for message in await _browse(channel, dead_letter_queue, limit):
            if message_id is not None and message.message_id != message_id:
                await message.nack(requeue=True)
                continue
            headers = dict(message.headers or {})
            headers[RETRY_COUNT_HEADER] = 0
            headers["x-replayed-error"] = headers.pop(ERROR_HEADER, "")
            await channel.default_exchange.publish(
                copy_message(message, headers),
                routing_key=target_queue,
                timeout=PUBLISH_TIMEOUT_S,
            )
            await message.ack()
            replayed += 1
    return replayed
