"""Freshness and single flight: what the catalog serves from its cache and when it asks TMDb.

An entry is fresh for its TTL (with a tenth of jitter, so keys cached together do not all
expire together): a fresh entry is a HIT. A missing or stale one is fetched once per key in a
process however many requests want it (single flight), and once across replicas: the first
takes a short Redis lock and the others wait for what it stores. While TMDb is slow, down or
rate-limiting, a stale entry is served after `stale_wait_s` (a STALE answer, the last good
copy) until its stale time runs out; with no copy at all the caller gets the upstream error.
A title TMDb does not know is remembered as "not found" for a short while.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from catalog.cache import CACHE_REQUESTS, CatalogCache, Entry
from catalog.config import CatalogSettings
from catalog.tmdb import TmdbNotFound, TmdbUnavailable

OTHER_REPLICA_POLL_S = 0.05


class NotInTmdb(Exception):
    """TMDb has no such title, person or collection (cached as such for a while)."""


@dataclass(frozen=True, slots=True)
class Served:
    entry: Entry
    cache_status: str  # HIT, MISS or STALE
    companions: tuple[bytes | None, ...] = ()  # raw values read with the entry


class Freshness:
    def __init__(self, cache: CatalogCache, settings: CatalogSettings) -> None:
        self.cache = cache
        self.settings = settings
        self._inflight: dict[str, asyncio.Task[Entry]] = {}

    async def serve(
        self,
        key: str,
        ttl_s: int,
        fetch: Callable[[], Awaitable[Entry]],
        *,
        companions: tuple[str, ...] = (),
        note: tuple[str, str] | None = None,
    ) -> Served:
        """The cached entry, or TMDb's answer stored for the next (with `note`, a set and a
        member written in the same Redis transaction as the entry)."""
        cached, extras = await self.cache.get_with(key, companions)
        found = tuple(extras)
        if cached is not None and cached.is_fresh():
            CACHE_REQUESTS.labels("hit").inc()
            return self.checked(key, Served(cached, "HIT", found))
        flight = self.flight(key, ttl_s, fetch, note)
        try:
            if cached is None:
                fresh = await asyncio.shield(flight)
            else:  # a stale copy can be served: wait for TMDb only briefly
                async with asyncio.timeout(self.settings.stale_wait_s):
                    fresh = await asyncio.shield(flight)
        except (TmdbUnavailable, TimeoutError):
            if cached is None:
                CACHE_REQUESTS.labels("miss").inc()
                raise
            CACHE_REQUESTS.labels("stale").inc()
            return self.checked(key, Served(cached, "STALE", found))
        CACHE_REQUESTS.labels("miss").inc()
        return self.checked(key, Served(fresh, "MISS", found))

    async def refetch(self, key: str, ttl_s: int, fetch: Callable[[], Awaitable[Entry]]) -> Entry:
        """Fetch from TMDb now, whatever the cache holds, and store the result."""
        return await asyncio.shield(self.flight(key, ttl_s, fetch))

    def checked(self, key: str, served: Served) -> Served:
        if served.entry.not_found:
            raise NotInTmdb
        return served

    def flight(
        self,
        key: str,
        ttl_s: int,
        fetch: Callable[[], Awaitable[Entry]],
        note: tuple[str, str] | None = None,
    ) -> asyncio.Task[Entry]:
        """One fetch per key in this process, however many requests want it."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch_and_store(key, ttl_s, fetch, note))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return task

    def _finished(self, key: str, task: asyncio.Task[Entry]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here so a fetch nobody awaits any more is not logged

    async def _fetch_and_store(
        self,
        key: str,
        ttl_s: int,
        fetch: Callable[[], Awaitable[Entry]],
        note: tuple[str, str] | None,
    ) -> Entry:
        lock_ms = int(self.settings.tmdb_retry_budget_s * 1000) + 1000
        locked = await self.cache.try_lock(key, lock_ms)
        if (
            not locked
            and (entry := await self._await_other_replica(key, lock_ms / 1000)) is not None
        ):
            return entry
        try:
            try:
                entry = await fetch()
            except TmdbNotFound:
                not_found = Entry(b"", time.time() + self.settings.not_found_ttl_s, not_found=True)
                await self.cache.put(
                    key, not_found, keep_s=self.settings.not_found_ttl_s, note=note
                )
                return not_found
            await self.cache.put(
                key, entry, keep_s=ttl_s * 1.1 + self.settings.stale_ttl_s, note=note
            )
            return entry
        finally:
            if locked:
                await self.cache.unlock(key)

    async def _await_other_replica(self, key: str, timeout_s: float) -> Entry | None:
        """The entry another replica is fetching, once stored; None when it gave up (its lock
        is gone and nothing fresh was stored) or took too long: then this one fetches."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await asyncio.sleep(OTHER_REPLICA_POLL_S)
            entry = await self.cache.get(key)
            if entry is not None and entry.is_fresh():
                return entry
            if not await self.cache.is_locked(key):
                # released: it stored the entry just now, or failed to
                entry = await self.cache.get(key)
                return entry if entry is not None and entry.is_fresh() else None
        return None
