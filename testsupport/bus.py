"""Bus helpers for tests."""

from typing import TypeVar

from shared.bus import Handler, Subscription
from shared.events import IntegrationEvent

E = TypeVar("E", bound=IntegrationEvent)


def subscription_of(name: str, event: type[E], handler: Handler[E]) -> Subscription:
    """A subscription with one handler, as tests need."""
    subscription = Subscription(name)
    subscription.on(event)(handler)
    return subscription
