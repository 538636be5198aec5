"""The event bus on RabbitMQ (aio-pika): typed subscriptions (`Subscription.on(EventClass)`)
over the queues and exchanges one `Topology` names (shared/bus/topology.py)."""

from shared.bus.bus import EventBus, Handler, Subscription, TransientError
from shared.bus.topology import Topology

__all__ = ["EventBus", "Handler", "Subscription", "Topology", "TransientError"]
