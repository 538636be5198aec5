"""Password hashing (argon2id) and the policy new passwords must meet."""

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128


class PasswordPolicyError(ValueError):
    pass


class Passwords:
    """Hashes and verifies; unknown users are verified against a dummy hash for even timing."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        self._dummy_hash = self.hasher.hash("dummy password for timing")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash or self._dummy_hash, password) and (
                password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def common_passwords(count: int = 10_000) -> frozenset[str]:
    """The `count` most common passwords of public breach corpora (zxcvbn's ranked list)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"][:count])


def check_policy(password: str, *, email: str | None = None) -> str:
    """Return the password unchanged if acceptable; never truncates."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(
            f"Password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    lowered = password.lower()
    if lowered in common_passwords():
        raise PasswordPolicyError("This password is too common; choose another")
    if email and lowered == email.lower():
        raise PasswordPolicyError("The password must not be the email address")
    return password
