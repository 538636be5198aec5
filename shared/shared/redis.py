"""The asyncio Redis client every service uses, with short timeouts so an outage fails fast."""

from redis.asyncio import Redis
from redis.asyncio.retry import Retry  # the asyncio one: the sync Retry never retries a coroutine
from redis.backoff import ExponentialBackoff


def make_redis(url: str) -> Redis:
    return Redis.from_url(
        url,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=1),
        max_connections=200,
    )
