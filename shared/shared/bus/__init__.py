"""The event bus on RabbitMQ (aio-pika).

Topology, all durable: one topic exchange `<ns>.events`; per consuming service a quorum
queue `<ns>.<service>` bound to the event types it handles, a retry queue
`<ns>.<service>.retry` whose messages come back to the main queue after a delay, and a
dead-letter queue `<ns>.<service>.dlq` behind the exchange `<ns>.dead-letter`.
"""

from shared.bus.bus import EventBus, Handler, Subscription, dead_letter_queue_name

__all__ = ["EventBus", "Handler", "Subscription", "dead_letter_queue_name"]
