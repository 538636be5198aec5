"""Password policy and hashing parameters."""

import pytest
from argon2 import PasswordHasher

from auth.config import OWASP_MIN_MEMORY_KIB, AuthSettings
from auth.passwords import PasswordPolicyError, Passwords, check_policy


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords(time_cost=2, memory_kib=OWASP_MIN_MEMORY_KIB, parallelism=1)


@pytest.mark.parametrize("password", ["short", "x" * 7, "y" * 129])
def test_length_limits(password: str) -> None:
    with pytest.raises(PasswordPolicyError):
        check_policy(password)


@pytest.mark.parametrize(
    "password", ["password", "Password1", "12345678", "qwertyuiop", "iloveyou"]
)
def test_common_passwords_refused(password: str) -> None:
    with pytest.raises(PasswordPolicyError, match="too common"):
        check_policy(password)


def test_long_password_is_kept_whole(passwords: Passwords) -> None:
    password = "a-long-passphrase-" + "z" * 110  # 128 characters
    assert check_policy(password) == password
    stored = passwords.hash(password)
    assert passwords.verify(stored, password)
    assert not passwords.verify(stored, password[:-1])


def test_hash_is_argon2id_with_owasp_parameters(passwords: Passwords) -> None:
    stored = passwords.hash("a fine passphrase")
    assert stored.startswith("$argon2id$")
    params = dict(part.split("=") for part in stored.split("$")[3].split(","))
    assert int(params["m"]) >= 19 * 1024
    assert int(params["t"]) >= 2


def test_unknown_user_verification_is_false(passwords: Passwords) -> None:
    assert passwords.verify(None, "whatever password") is False


def test_old_parameters_need_rehash(passwords: Passwords) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(
        "a fine passphrase"
    )
    assert passwords.needs_rehash(weak)
    assert not passwords.needs_rehash(passwords.hash("a fine passphrase"))


def test_settings_refuse_weaker_than_owasp() -> None:
    with pytest.raises(ValueError):
        AuthSettings(argon2_time_cost=1)
    with pytest.raises(ValueError):
        AuthSettings(argon2_memory_kib=4096)
