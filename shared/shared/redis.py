"""The Redis clients every service uses, with short timeouts so an outage fails fast."""

import logging
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry  # the asyncio one: the sync Retry never retries a coroutine
from redis.backoff import ExponentialBackoff
from redis.client import Redis as SyncRedis
from redis.retry import Retry as SyncRetry

logger = logging.getLogger(__name__)


# Short timeouts so an outage fails fast; one reconnect for a connection the server dropped.
_TIMEOUTS: dict[str, Any] = {
    "socket_connect_timeout": 1.0,
    "socket_timeout": 2.0,
    "health_check_interval": 15,
}


def _backoff() -> ExponentialBackoff:
    return ExponentialBackoff(cap=0.2, base=0.02)


def make_redis(url: str) -> Redis:
    return Redis.from_url(url, **_TIMEOUTS, retry=Retry(_backoff(), retries=1), max_connections=200)


def make_sync_redis(url: str) -> SyncRedis:
    """The blocking client, for code that already runs in a worker thread (service functions)."""
    return SyncRedis.from_url(url, **_TIMEOUTS, retry=SyncRetry(_backoff(), retries=1))


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
