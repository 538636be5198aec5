"""A dict with a size limit, for the catalog's in-process memories (the one-second copy, the
fast path's built answers and parsed queries, parsed Accept-Language headers): each keeps at
most `limit` items and forgets the oldest first, so one burst of new keys (a crawl of search
pages, a client making up query strings) pushes out the oldest, never everything at once.

A dict itself, so reads (`get`, `in`) stay the dict's own: these memories are read on every
request of the hot path (measured: a wrapper's method call there showed in its rate)."""

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Bounded(dict[K, V]):
    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> None:
        """Add or replace; when full, the oldest item (dicts keep insertion order) goes."""
        if key not in self and len(self) >= self.limit:
            del self[next(iter(self))]
        self[key] = value
