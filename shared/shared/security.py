"""Access tokens: issuing, verifying and revoking, shared by the auth service and the gateway.

Revocation is by login (`sid`): auth's database is the truth, and a copy in the security Redis
lets every gateway replica refuse a revoked token on the very next request. The copy is trusted
only while its completeness mark exists, so losing it fails closed.
"""

import hmac
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from redis.asyncio import Redis
from redis.exceptions import RedisError

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


# --- revocation -----------------------------------------------------------------------------
# PostgreSQL (auth's `auth_session.revoked_at`) is the truth; the security Redis holds a copy for
# the per-request check. The copy is only trusted while COPY_COMPLETE_KEY exists: auth writes that
# mark after loading every recent revocation from its database, so a Redis that lost its data
# (restart, flush, failover to an empty replica) has no mark, and every check fails closed until
# auth has rebuilt the copy. See services/auth/auth/revocations.py.
REVOKED_SESSION_PREFIX = "sec:revoked:sid:"
COPY_COMPLETE_KEY = "sec:revocations:complete"
# The longest access-token lifetime the auth settings allow: a revocation older than this (plus
# the leeway) can no longer match a live token.
MAX_ACCESS_TOKEN_TTL_S = 3600
REVOCATION_KEEP_S = MAX_ACCESS_TOKEN_TTL_S + CLOCK_LEEWAY_S


class RevocationCopyIncomplete(RedisError):
    """The security Redis lost its copy of the revocations; nobody can tell whether a token is
    revoked until auth rebuilds it. Callers answer 503, as for Redis being down."""


def revoked_session_key(session_id: str) -> str:
    return f"{REVOKED_SESSION_PREFIX}{session_id}"


def revocation_keys(principal: Principal) -> tuple[str, str]:
    """The keys one check reads together: the login's revocation mark and the copy's mark."""
    return revoked_session_key(principal.session_id), COPY_COMPLETE_KEY


def revoked_from(values: Sequence[object]) -> bool:
    """Interpret the values of `revocation_keys`; raises RevocationCopyIncomplete."""
    revoked, complete = values
    if complete is None:
        raise RevocationCopyIncomplete("the revocation copy is being rebuilt")
    return revoked is not None


async def is_revoked(redis: Redis, principal: Principal) -> bool:
    """True if the token's login was revoked; raises RedisError when that cannot be told."""
    return revoked_from(await redis.mget(*revocation_keys(principal)))


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


def principal_named_by_gateway(headers: Mapping[str, str]) -> Principal | None:
    """The caller the gateway names in a request's headers (whoever calls this has checked
    the internal secret), or None if any of them is missing or malformed."""
    try:
        return Principal(
            user_id=uuid.UUID(headers[USER_ID_HEADER]),
            session_id=headers[SESSION_ID_HEADER],
            token_id=headers[TOKEN_ID_HEADER],
            expires_at=datetime.fromtimestamp(float(headers[TOKEN_EXPIRES_HEADER]), UTC),
        )
    except (KeyError, ValueError, OverflowError, OSError):  # OverflowError: "1e400" and such
        return None
