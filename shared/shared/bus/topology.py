"""Every name and argument of the bus's RabbitMQ topology, in one value.

One topic exchange `<ns>.events` (routing key = event type); per consuming service a quorum
queue `<ns>.<service>` bound to the event types it handles, a retry queue
`<ns>.<service>.retry` whose messages come back to the main queue after a delay, and a
dead-letter queue `<ns>.<service>.dlq` behind the direct exchange `<ns>.dead-letter`. The bus
declares it, the dead-letter tool reads it; neither spells a name of its own.
"""

from dataclasses import dataclass
from typing import Any

DLQ_SUFFIX = ".dlq"
RETRY_SUFFIX = ".retry"


@dataclass(frozen=True, slots=True)
class Topology:
    namespace: str
    retry_delay_ms: int = 2000
    queue_expires_ms: int | None = None  # test namespaces let their queues go when idle

    @property
    def exchange(self) -> str:
        return f"{self.namespace}.events"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.namespace}.dead-letter"

    def queue(self, consumer: str) -> str:
        return f"{self.namespace}.{consumer}"

    def retry_queue(self, consumer: str) -> str:
        return f"{self.queue(consumer)}{RETRY_SUFFIX}"

    def dead_letter_queue(self, consumer: str) -> str:
        return f"{self.queue(consumer)}{DLQ_SUFFIX}"

    def _expiry(self) -> dict[str, Any]:
        return {"x-expires": self.queue_expires_ms} if self.queue_expires_ms else {}

    def queue_arguments(self, consumer: str) -> dict[str, Any]:
        """A quorum queue that dead-letters into this consumer's dead-letter queue."""
        return {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": self.queue(consumer),
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
            **self._expiry(),
        }

    def retry_queue_arguments(self, consumer: str) -> dict[str, Any]:
        """Messages wait out the delay, then go back to the consumer's queue."""
        return {
            "x-message-ttl": self.retry_delay_ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.queue(consumer),
            **self._expiry(),
        }

    def dead_letter_queue_arguments(self) -> dict[str, Any]:
        return {"x-queue-type": "quorum", **self._expiry()}

    def resolve(self, name: str) -> tuple[str, str]:
        """(dead-letter queue, the consumer queue it belongs to) from a consumer's name, its
        queue's name or its dead-letter queue's name."""
        consumer = name.removesuffix(DLQ_SUFFIX).removeprefix(f"{self.namespace}.")
        return self.dead_letter_queue(consumer), self.queue(consumer)
