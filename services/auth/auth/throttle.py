"""Login throttling in the security Redis: attempts counted per account and per client IP.

An attempt is counted before its password is checked, in one atomic step that also refuses it
when a limit is reached, so simultaneous guesses cannot all slip past the check (counting only
after a failed check let 16 concurrent guesses through a limit of 5). A successful login gives
its attempt back, and so does one whose password could not be checked (the database failed):
an outage must not lock out the users retrying through it. A locked account unlocks by itself
when its window ends (minutes, not hours), so an attacker can slow a real user down but not
lock them out for long. If the security Redis is down, attempts are refused (503) rather than
let through unthrottled.
"""

import hashlib
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

# KEYS: account, ip; ARGV: account limit, ip limit, window. Returns 0 when counted, else the
# seconds until the fuller key's window ends (the attempt is then not counted).
_ATTEMPT = """
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[i]) then
    local ttl = redis.call('TTL', key)
    if ttl < 1 then ttl = 1 end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[3], 'NX')
end
return 0
"""

# KEYS: account, ip. The account starts afresh; the IP gets the attempt back if still counted.
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 0
"""


# KEYS: account, ip. An attempt that reached no verdict (the database failed) is not counted.
_UNDECIDED = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"""


class ThrottleUnavailable(Exception):
    """The security Redis is down: attempts cannot be counted."""


@dataclass
class LoginThrottle:
    redis: Redis
    failures_per_account: int
    failures_per_ip: int
    window_s: int

    def __post_init__(self) -> None:
        self._attempt = self.redis.register_script(_ATTEMPT)
        self._succeeded = self.redis.register_script(_SUCCEEDED)
        self._undecided = self.redis.register_script(_UNDECIDED)

    @staticmethod
    def _keys(email: str, ip: str) -> tuple[str, str]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return f"auth:login-fail:acct:{account}", f"auth:login-fail:ip:{ip}"

    async def attempt(self, *, email: str, ip: str) -> int | None:
        """Count an attempt; None when it may go ahead, else the seconds to wait."""
        try:
            wait_s = await self._attempt(
                keys=list(self._keys(email, ip)),
                args=[self.failures_per_account, self.failures_per_ip, self.window_s],
            )
        except RedisError as exc:
            raise ThrottleUnavailable(str(exc)) from exc
        return int(wait_s) or None

    async def undecided(self, *, email: str, ip: str) -> None:
        """The password could not be checked (the database failed, a failover under way): the
        attempt is given back, so a user retrying through an outage is not locked out. Best
        effort: if Redis fails too, the attempt stays counted (the window ends it)."""
        try:
            await self._undecided(keys=list(self._keys(email, ip)))
        except RedisError:
            return

    async def succeeded(self, *, email: str, ip: str) -> None:
        """The attempt was right: the account starts afresh and the IP gets its attempt back."""
        try:
            await self._succeeded(keys=list(self._keys(email, ip)))
        except RedisError as exc:
            raise ThrottleUnavailable(str(exc)) from exc
