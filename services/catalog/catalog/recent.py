"""The one-second copy: what the fast path (fastpath.py) answers without Redis.

Three kinds of value go in, the three the fast path serves: trending pages and movie details
as cached entries, and community ratings as JSON bytes. Each is kept `ttl_s` (a second by
default): short enough that an invalidation or a new rating shows within it, long enough that a
hot key costs one Redis read a second per process. The routes put what they served in; the
fast path reads it, and puts in what it read again from Redis. At most `max_entries` of each
kind, the oldest forgotten first, so a crawl of many titles never empties the copy at once.

A read from Redis that was under way when a key was forgotten (an invalidation in this
process) may bring back the value from before it: what it read is put in only if nothing was
forgotten since it began (`mark`, then `remember_*(..., since=mark)`). Forgetting is rare (an
invalidation), so a read that is turned away costs one more read a second later at most.
"""

import time
from typing import TYPE_CHECKING

from catalog.bounded import Bounded

if TYPE_CHECKING:  # the cache holds this copy: no import of it at run time
    from catalog.cache import Entry

RECENT_MAX_ENTRIES = 4_096


class RecentCopy:
    def __init__(self, ttl_s: float, max_entries: int = RECENT_MAX_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self._entries: Bounded[str, tuple[Entry, float]] = Bounded(max_entries)
        self._ratings: Bounded[str, tuple[bytes, float]] = Bounded(max_entries)
        self._forgotten = 0  # forgets so far

    def mark(self) -> int:
        """Taken before a read whose result goes in: see the module's docstring."""
        return self._forgotten

    def remember_entry(self, key: str, entry: "Entry", *, since: int) -> None:
        if self.ttl_s > 0 and since == self._forgotten:
            self._entries.put(key, (entry, time.monotonic() + self.ttl_s))

    def entry(self, key: str) -> "Entry | None":
        found = self.held(key)
        return found[0] if found is not None else None

    def held(self, key: str) -> "tuple[Entry, float] | None":
        """The entry and the seconds it has left in the copy, while it has some."""
        found = self._entries.get(key)
        if found is None or (left_s := found[1] - time.monotonic()) < 0:
            return None
        return found[0], left_s

    def remember_rating(self, key: str, body: bytes, *, since: int) -> None:
        if self.ttl_s > 0 and since == self._forgotten:
            self._ratings.put(key, (body, time.monotonic() + self.ttl_s))

    def rating(self, key: str) -> bytes | None:
        found = self._ratings.get(key)
        return found[0] if found is not None and found[1] >= time.monotonic() else None

    def forget(self, key: str) -> None:
        self._forgotten += 1
        self._entries.pop(key, None)
        self._ratings.pop(key, None)
