"""HTTP caching of catalog answers for clients and CDNs: a strong ETag over the exact bytes, 304
on a matching If-None-Match, Cache-Control by who asked, Vary on what the answer depends on."""

import hashlib
import time

VARY = (b"vary", b"Accept-Language, Authorization")
JSON = (b"content-type", b"application/json")
DETAILS_MAX_AGE_S = 60  # details join this system's live community rating: shared caches
# keep them this long at most, however long the cached TMDb part stays fresh


def etag_of(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'


def matches(if_none_match: str | bytes | None, etag: bytes) -> bool:
    """Whether If-None-Match names this ETag (weak comparison, as RFC 9110 says for it)."""
    if not if_none_match:
        return False
    raw = if_none_match.encode("latin-1") if isinstance(if_none_match, str) else if_none_match
    for candidate in raw.split(b","):
        tag = candidate.strip()
        if tag == b"*" or tag.removeprefix(b"W/") == etag:
            return True
    return False


def cache_headers(
    *,
    etag: bytes,
    cache_status: str,
    fresh_until: float,
    personal: bool,
    max_age_cap_s: int | None = None,
) -> list[tuple[bytes, bytes]]:
    """Headers of a 200 or a 304: anonymous answers may be kept by anyone for the freshness
    they have left; personalised ones (a signed-in user's language, region, adult choice) by
    the client only."""
    if personal:
        control = b"private"
    else:
        left_s = max(0, int(fresh_until - time.time()))
        if max_age_cap_s is not None:
            left_s = min(left_s, max_age_cap_s)
        control = b"public, max-age=%d" % left_s
    return [
        (b"etag", etag),
        (b"cache-control", control),
        VARY,
        (b"x-cache", cache_status.encode()),
    ]
