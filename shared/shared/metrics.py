"""Prometheus metrics shared by every service, and the /metrics response."""

from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response

HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request duration by route template, method and status",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter("events_published_total", "Events confirmed by the broker", ["type"])
EVENTS_CONSUMED = Counter(
    "events_consumed_total", "Events handled and acknowledged", ["queue", "type"]
)
EVENTS_DEAD_LETTERED = Counter(
    "events_dead_lettered_total", "Events sent to a dead-letter queue", ["queue", "reason"]
)
EVENTS_RETRIED = Counter("events_retried_total", "Events scheduled for another try", ["queue"])
EVENTS_CONSUMER_LAG = Histogram(
    "events_consumer_lag_seconds",
    "From an event's occurrence to its consumer handling it (outbox wait, broker, retries)",
    ["queue"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 5, 10, 30, 60, 300, 900),
)
EVENTS_PUBLISH_LAG = Histogram(
    "events_publish_lag_seconds",
    "From an event's occurrence to the broker confirming it (commit, outbox wait, publish)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 5, 10, 30, 60, 300, 900),
)
OUTBOX_PENDING = Gauge("outbox_pending_events", "Outbox rows not yet confirmed by the broker")


DEAD_LETTER_REASONS = ("malformed", "handler_failed")


def declare_event_metrics(
    *, publishes: Iterable[str], queue: str | None, consumes: Iterable[str]
) -> None:
    """Export a zero for every label set this process can produce, so `rate()` and alerts see
    a series from start-up (a labelled counter exports nothing until first used)."""
    for event_type in publishes:
        EVENTS_PUBLISHED.labels(event_type)
    if queue is None:
        return
    EVENTS_RETRIED.labels(queue)
    for reason in DEAD_LETTER_REASONS:
        EVENTS_DEAD_LETTERED.labels(queue, reason)
    for event_type in consumes:
        EVENTS_CONSUMED.labels(queue, event_type)


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
