"""Per-request context (request id, correlation id) carried through logs and events."""

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def current_correlation_id() -> str | None:
    """The id tying one user action together: the event's correlation id, else the request id."""
    return correlation_id_var.get() or request_id_var.get()
