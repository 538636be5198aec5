"""Access tokens: issuing, verifying and revoking, shared by the auth service and the gateway.

Revocation lives in Redis so every gateway replica refuses a revoked token on the very next
request: a denylist entry by `jti` (one token) and by `sid` (every token of one login), each
kept only until the longest access token it could match has expired.
"""

import hmac
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from redis.asyncio import Redis

ACCESS_TOKEN_TYPE = "access"
REFRESH_TOKEN_TYPE = "refresh"
REQUIRED_CLAIMS = ["sub", "jti", "type", "iat", "exp", "sid"]
CLOCK_LEEWAY_S = 10

USER_ID_HEADER = "x-user-id"
SESSION_ID_HEADER = "x-session-id"
TOKEN_ID_HEADER = "x-token-id"
TOKEN_EXPIRES_HEADER = "x-token-expires-at"
INTERNAL_TOKEN_HEADER = "x-internal-token"
CLIENT_IP_HEADER = "x-client-ip"


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired, of the wrong type or revoked."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller."""

    user_id: uuid.UUID
    session_id: str
    token_id: str
    expires_at: datetime


def issue_access_token(
    *, user_id: uuid.UUID, session_id: str, secret: str, algorithm: str, ttl_s: int
) -> tuple[str, str]:
    """A signed access token and its `jti`."""
    now = datetime.now(UTC)
    token_id = uuid.uuid4().hex
    claims = {
        "sub": str(user_id),
        "sid": session_id,
        "jti": token_id,
        "type": ACCESS_TOKEN_TYPE,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_s),
    }
    return jwt.encode(claims, secret, algorithm=algorithm), token_id


def decode_access_token(token: str, *, secret: str, algorithm: str) -> Principal:
    """Check signature, pinned algorithm, required claims, times and type; no revocation check."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[algorithm],
            options={"require": REQUIRED_CLAIMS},
            leeway=CLOCK_LEEWAY_S,
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if claims["type"] != ACCESS_TOKEN_TYPE:
        raise InvalidToken("not an access token")
    issued_at = float(claims["iat"])
    if issued_at > datetime.now(UTC).timestamp() + CLOCK_LEEWAY_S:
        raise InvalidToken("token issued in the future")
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError as exc:
        raise InvalidToken("malformed subject") from exc
    return Principal(
        user_id=user_id,
        session_id=str(claims["sid"]),
        token_id=str(claims["jti"]),
        expires_at=datetime.fromtimestamp(float(claims["exp"]), UTC),
    )


class VerifiedTokens:
    """Access tokens whose signature and claims were already checked, until they expire.

    Checking an HS256 token measured at about a quarter of the gateway's time per request;
    a token's claims never change, so the check is done once per token. Revocation is not
    cached: callers still ask Redis on every request. Bounded: the table is emptied when full.
    """

    def __init__(
        self,
        *,
        secret: str,
        algorithm: str,
        max_entries: int = 50_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.secret = secret
        self.algorithm = algorithm
        self.max_entries = max_entries
        self._checked: dict[str, tuple[float, Principal]] = {}

    def decode(self, token: str) -> Principal:
        """As `decode_access_token`; raises InvalidToken for a bad or expired token."""
        found = self._checked.get(token)
        now = self.clock()
        if found is not None:
            if found[0] > now:
                return found[1]
            del self._checked[token]
        principal = decode_access_token(token, secret=self.secret, algorithm=self.algorithm)
        if len(self._checked) >= self.max_entries:
            self._checked.clear()
        # Valid until `exp` (PyJWT allows the leeway past it; a cached copy does not).
        self._checked[token] = (principal.expires_at.timestamp(), principal)
        return principal


def _token_key(token_id: str) -> str:
    return f"auth:revoked:jti:{token_id}"


def _session_key(session_id: str) -> str:
    return f"auth:revoked:sid:{session_id}"


def revocation_keys(principal: Principal) -> tuple[str, str]:
    """The Redis keys whose presence revokes this token: its own, and its login's."""
    return _token_key(principal.token_id), _session_key(principal.session_id)


async def is_revoked(redis: Redis, principal: Principal) -> bool:
    values = await redis.mget(*revocation_keys(principal))
    return any(value is not None for value in values)


async def revoke_token(redis: Redis, principal: Principal) -> None:
    ttl_s = int((principal.expires_at - datetime.now(UTC)).total_seconds()) + CLOCK_LEEWAY_S
    await redis.set(_token_key(principal.token_id), b"1", ex=max(ttl_s, 1))


async def revoke_sessions(redis: Redis, session_ids: list[str], *, access_ttl_s: int) -> None:
    """Refuse every access token of these logins until the longest of them has expired."""
    if not session_ids:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for session_id in session_ids:
            pipe.set(_session_key(session_id), b"1", ex=access_ttl_s + CLOCK_LEEWAY_S)
        await pipe.execute()


async def verify_access_token(
    token: str, *, secret: str, algorithm: str, redis: Redis
) -> Principal:
    principal = decode_access_token(token, secret=secret, algorithm=algorithm)
    if await is_revoked(redis, principal):
        raise InvalidToken("token revoked")
    return principal


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def internal_token_valid(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())
