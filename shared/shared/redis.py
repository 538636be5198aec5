"""The Redis clients every service uses, with short timeouts so an outage fails fast.

A Redis is given as a `RedisTarget`: a URL, or Sentinels and a master name (REDIS_SENTINELS,
SECURITY_REDIS_SENTINELS), in which case the client asks the Sentinels for the primary on each
new connection and again after a failover (a connection error or a READONLY answer from a
demoted server), so the services follow a failover without a restart."""

import logging
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry  # the asyncio one: the sync Retry never retries a coroutine
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.client import Redis as SyncRedis
from redis.exceptions import RedisError
from redis.retry import Retry as SyncRetry
from redis.sentinel import Sentinel as SyncSentinel

from shared.config import RedisTarget

logger = logging.getLogger(__name__)


# Short timeouts so an outage fails fast; one reconnect for a connection the server dropped.
_TIMEOUTS: dict[str, Any] = {
    "socket_connect_timeout": 1.0,
    "socket_timeout": 2.0,
    "health_check_interval": 15,
}
_SENTINEL_TIMEOUTS: dict[str, Any] = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}


def _backoff() -> ExponentialBackoff:
    return ExponentialBackoff(cap=0.2, base=0.02)


def _target(where: str | RedisTarget) -> RedisTarget:
    return RedisTarget(url=where) if isinstance(where, str) else where


def _credentials(url: str) -> dict[str, Any]:
    """What a Sentinel-found server needs from the URL: database, user and password."""
    parts = urlsplit(url)
    database = parts.path.strip("/")
    found: dict[str, Any] = {"db": int(database) if database.isdigit() else 0}
    if parts.username:
        found["username"] = unquote(parts.username)
    if parts.password:
        found["password"] = unquote(parts.password)
    return found


def make_redis(where: str | RedisTarget) -> Redis:
    target = _target(where)
    options = {**_TIMEOUTS, "retry": Retry(_backoff(), retries=1), "max_connections": 200}
    if not target.sentinels:
        return Redis.from_url(target.url, **options)
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=_SENTINEL_TIMEOUTS)
    return sentinel.master_for(
        target.master, redis_class=Redis, **options, **_credentials(target.url)
    )


def make_sync_redis(where: str | RedisTarget) -> SyncRedis:
    """The blocking client, for code that already runs in a worker thread (service functions)."""
    target = _target(where)
    options = {**_TIMEOUTS, "retry": SyncRetry(_backoff(), retries=1)}
    if not target.sentinels:
        return SyncRedis.from_url(target.url, **options)
    sentinel = SyncSentinel(list(target.sentinels), sentinel_kwargs=_SENTINEL_TIMEOUTS)
    return sentinel.master_for(
        target.master, redis_class=SyncRedis, **options, **_credentials(target.url)
    )


def as_redis_error(exc: Exception) -> RedisError:
    """A failure of a batched read as the RedisError its callers handle as Redis being
    unavailable (a client bug, say, must not reach them as something else)."""
    return exc if isinstance(exc, RedisError) else RedisError(repr(exc))


async def warn_if_evicting(redis: Redis) -> str | None:
    """Log an error if this Redis may evict keys (it must not hold security state then);
    returns its policy, or None when it cannot be read (managed Redis may hide CONFIG)."""
    try:
        config = await redis.config_get("maxmemory*")
    except Exception:
        logger.info("could not read the security Redis's eviction policy")
        return None
    policy = str(config.get("maxmemory-policy", "noeviction"))
    if policy != "noeviction" and int(config.get("maxmemory", 0) or 0) > 0:
        logger.error(
            "the security Redis evicts keys (maxmemory-policy %s): revocations and login "
            "throttling need maxmemory-policy noeviction (SECURITY_REDIS_URL)",
            policy,
        )
    return policy
