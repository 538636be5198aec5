"""The gateway's micro-cache of anonymous catalog reads."""

import time

from gateway.proxy import MicroCache


def test_entries_expire_and_the_cache_stays_bounded() -> None:
    cache = MicroCache(ttl_s=0.05, max_entries=2)
    cache.put("/a", 200, [(b"x-cache", b"HIT")], b"{}")
    assert cache.get("/a") == (200, [(b"x-cache", b"HIT")], b"{}")
    time.sleep(0.06)
    assert cache.get("/a") is None
    for key in ("/1", "/2", "/3"):
        cache.put(key, 200, [], b"")
    assert len(cache.entries) <= 2


def test_a_zero_ttl_turns_it_off() -> None:
    cache = MicroCache(ttl_s=0, max_entries=10)
    cache.put("/a", 200, [], b"{}")
    assert cache.get("/a") is None
