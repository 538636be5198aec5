"""Login throttling in Redis: failures counted per account and per client IP.

A locked account unlocks by itself when its window ends (minutes, not hours), so an attacker
can slow a real user down but not lock them out for long. If Redis is down, logins are not
throttled rather than refused: the password check itself still holds.
"""

import hashlib
import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoginThrottle:
    redis: Redis
    failures_per_account: int
    failures_per_ip: int
    window_s: int

    @staticmethod
    def _keys(email: str, ip: str) -> tuple[str, str]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return f"auth:login-fail:acct:{account}", f"auth:login-fail:ip:{ip}"

    async def retry_after_s(self, *, email: str, ip: str) -> int | None:
        """Seconds until another attempt is allowed, or None when it is allowed now."""
        account_key, ip_key = self._keys(email, ip)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(account_key)
                pipe.ttl(account_key)
                pipe.get(ip_key)
                pipe.ttl(ip_key)
                account_count, account_ttl, ip_count, ip_ttl = await pipe.execute()
        except RedisError:
            logger.warning("login throttle unavailable (Redis down); not throttling")
            return None
        waits = []
        if account_count is not None and int(account_count) >= self.failures_per_account:
            waits.append(account_ttl)
        if ip_count is not None and int(ip_count) >= self.failures_per_ip:
            waits.append(ip_ttl)
        return max(max(waits), 1) if waits else None

    async def record_failure(self, *, email: str, ip: str) -> None:
        account_key, ip_key = self._keys(email, ip)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in (account_key, ip_key):
                    pipe.incr(key)
                    pipe.expire(key, self.window_s, nx=True)
                await pipe.execute()
        except RedisError:
            logger.warning("could not record a failed login (Redis down)")

    async def record_success(self, *, email: str) -> None:
        account_key, _ = self._keys(email, "")
        try:
            await self.redis.delete(account_key)
        except RedisError:
            logger.warning("could not reset the login throttle (Redis down)")
