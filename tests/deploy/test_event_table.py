"""README.md's event table is the code's: who publishes each event (each service's
PUBLISHES) and who consumes it (the event classes each service's subscription handles)."""

import re
from pathlib import Path

from auth.events import PUBLISHES as AUTH_PUBLISHES
from catalog.events import PUBLISHES as CATALOG_PUBLISHES
from catalog.handlers import subscription as catalog_subscription
from library.events import PUBLISHES as LIBRARY_PUBLISHES
from library.handlers import subscription as library_subscription
from notifications.handlers import subscription as notifications_subscription
from recommendations.events import PUBLISHES as RECOMMENDATIONS_PUBLISHES
from recommendations.handlers import subscription as recommendations_subscription
from shared.bus import Subscription
from shared.events import EVENT_TYPES

README = Path(__file__).resolve().parents[2] / "README.md"
PUBLISHED = {
    "auth": AUTH_PUBLISHES,
    "catalog": CATALOG_PUBLISHES,
    "library": LIBRARY_PUBLISHES,
    "recommendations": RECOMMENDATIONS_PUBLISHES,
    "notifications": (),
}


def _subscriptions() -> dict[str, Subscription]:
    """Each service's subscription; the handlers are only registered, never called, so
    nothing they would use is needed."""
    nothing: object = None
    return {
        "catalog": catalog_subscription(
            catalog=nothing,
            engine=nothing,
            mirror=nothing,
            viewers=nothing,  # type: ignore[arg-type]
        ),
        "library": library_subscription(engine=nothing, pages=nothing),  # type: ignore[arg-type]
        "recommendations": recommendations_subscription(engine=nothing, cache=nothing),  # type: ignore[arg-type]
        "notifications": notifications_subscription(
            engine=nothing,
            redis=nothing,
            catalog=nothing,
            settings=nothing,  # type: ignore[arg-type]
        ),
    }


def _table() -> dict[str, tuple[set[str], set[str]]]:
    """event type -> (publishers, consumers) as README.md's table states them."""
    lines = README.read_text().splitlines()
    start = lines.index("| event | published by | when | consumed by |")
    rows: dict[str, tuple[set[str], set[str]]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        events, publisher, _, consumers = (cell.strip() for cell in line.strip("|").split("|"))
        consumed = re.sub(r"\([^)]*\)", "", consumers)  # "catalog (why), notifications"
        names = {name.strip() for name in consumed.split(",") if name.strip()}
        for event in re.findall(r"`([a-z_.]+)`", events):
            rows[event] = ({publisher}, names)
    return rows


def test_every_event_is_in_the_table() -> None:
    assert set(_table()) == set(EVENT_TYPES)


def test_the_table_names_each_events_publisher() -> None:
    table = _table()
    for service, events in PUBLISHED.items():
        for event in events:
            assert service in table[event.event_type][0], (event.event_type, service)
    published = {event.event_type for events in PUBLISHED.values() for event in events}
    assert published == set(EVENT_TYPES)


def test_the_table_names_each_events_consumers() -> None:
    consumers: dict[str, set[str]] = {event: set() for event in EVENT_TYPES}
    for service, subscription in _subscriptions().items():
        for event in subscription.events:
            consumers[event].add(service)
    table = _table()
    assert {event: table[event][1] for event in EVENT_TYPES} == consumers
