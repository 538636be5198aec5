"""Account and login logic against the real PostgreSQL."""

import hashlib
import uuid

import pytest
from sqlalchemy import Engine, select, text
from sqlmodel import Session

from auth import service
from auth.config import AuthSettings
from auth.models import AuthSession, PreferencesUpdate, ProfileUpdate, RefreshToken, RegisterIn
from auth.passwords import Passwords
from auth.revocations import RevocationCopy
from shared.outbox import OutboxEvent
from shared.redis import make_sync_redis

pytestmark = pytest.mark.usefixtures("clean_auth_db")
PASSWORD = "a fine passphrase"


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords(time_cost=2, memory_kib=19 * 1024, parallelism=1)


@pytest.fixture
def copy(auth_settings: AuthSettings) -> RevocationCopy:
    return RevocationCopy(make_sync_redis(auth_settings.security_redis_url))


@pytest.fixture
def session(auth_engine: Engine):  # type: ignore[no-untyped-def]
    with Session(auth_engine, expire_on_commit=False) as session:
        yield session


def _register(session: Session, passwords: Passwords, email: str = "Ann@Example.com"):  # type: ignore[no-untyped-def]
    return service.register(
        session, data=RegisterIn(email=email, password=PASSWORD), passwords=passwords
    )


def _events(session: Session) -> list[str]:
    return [row.type for row in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]  # type: ignore[arg-type]


def test_register_writes_user_and_event(session: Session, passwords: Passwords) -> None:
    user = _register(session, passwords)
    assert user.display_name == "Ann"
    assert user.password_hash.startswith("$argon2id$")
    assert _events(session) == ["user.registered"]


def test_email_is_unique_in_any_case(session: Session, passwords: Passwords) -> None:
    _register(session, passwords)
    with pytest.raises(service.EmailTaken):
        _register(session, passwords, email="ANN@example.COM")


def test_authenticate(session: Session, passwords: Passwords) -> None:
    user = _register(session, passwords)
    found = service.authenticate(
        session, email="ann@EXAMPLE.com", password=PASSWORD, passwords=passwords
    )
    assert found is not None and found.id == user.id
    assert (
        service.authenticate(
            session, email="ann@example.com", password="wrong one!", passwords=passwords
        )
        is None
    )
    assert (
        service.authenticate(
            session, email="nobody@example.com", password=PASSWORD, passwords=passwords
        )
        is None
    )


def test_login_rehashes_old_parameters(session: Session, passwords: Passwords) -> None:
    user = _register(session, passwords)
    weaker = Passwords(time_cost=2, memory_kib=19 * 1024, parallelism=1)
    weaker.hasher = type(passwords.hasher)(time_cost=1, memory_cost=8192, parallelism=1)
    user.password_hash = weaker.hash(PASSWORD)
    session.add(user)
    session.commit()
    service.authenticate(session, email=user.email, password=PASSWORD, passwords=passwords)
    session.refresh(user)
    assert "t=2" in user.password_hash and "m=19456" in user.password_hash


def test_refresh_rotates_and_reuse_revokes_the_login(
    session: Session, passwords: Passwords, auth_settings: AuthSettings, copy: RevocationCopy
) -> None:
    user = _register(session, passwords)
    first = service.start_session(session, user=user, settings=auth_settings)
    second = service.rotate_refresh_token(
        session, refresh_token=first.refresh_token, settings=auth_settings, copy=copy
    )
    assert second.refresh_token != first.refresh_token
    assert second.session_id == first.session_id
    with pytest.raises(service.RefreshTokenReused):
        service.rotate_refresh_token(
            session, refresh_token=first.refresh_token, settings=auth_settings, copy=copy
        )
    # The whole login is gone: even the newest refresh token no longer works.
    with pytest.raises(service.InvalidRefreshToken):
        service.rotate_refresh_token(
            session, refresh_token=second.refresh_token, settings=auth_settings, copy=copy
        )
    login = session.get(AuthSession, first.session_id)
    assert login is not None and login.revoked_reason == "refresh_reuse"
    assert "session.revoked" in _events(session)


def test_refresh_tokens_are_stored_hashed(
    session: Session, passwords: Passwords, auth_settings: AuthSettings
) -> None:
    user = _register(session, passwords)
    tokens = service.start_session(session, user=user, settings=auth_settings)
    stored = session.scalars(select(RefreshToken)).one()
    assert stored.token_hash == hashlib.sha256(tokens.refresh_token.encode()).hexdigest()
    dump = session.execute(text("SELECT row_to_json(r)::text FROM refresh_token r")).scalar_one()
    assert tokens.refresh_token not in dump


def test_unknown_refresh_token(
    session: Session, auth_settings: AuthSettings, copy: RevocationCopy
) -> None:
    with pytest.raises(service.InvalidRefreshToken):
        service.rotate_refresh_token(
            session, refresh_token="nope", settings=auth_settings, copy=copy
        )


def test_password_change_ends_other_logins(
    session: Session, passwords: Passwords, auth_settings: AuthSettings, copy: RevocationCopy
) -> None:
    user = _register(session, passwords)
    kept = service.start_session(session, user=user, settings=auth_settings)
    other = service.start_session(session, user=user, settings=auth_settings)
    ended = service.change_password(
        session,
        user=user,
        new_password="another fine passphrase",
        keep_session_id=kept.session_id,
        passwords=passwords,
        copy=copy,
    )
    assert ended == [other.session_id]
    with pytest.raises(service.InvalidRefreshToken):
        service.rotate_refresh_token(
            session, refresh_token=other.refresh_token, settings=auth_settings, copy=copy
        )
    service.rotate_refresh_token(
        session, refresh_token=kept.refresh_token, settings=auth_settings, copy=copy
    )
    assert service.authenticate(
        session, email=user.email, password="another fine passphrase", passwords=passwords
    )
    assert {"user.password_changed", "session.revoked"} <= set(_events(session))


def test_profile_update_merges_preferences(session: Session, passwords: Passwords) -> None:
    user = _register(session, passwords)
    changes = ProfileUpdate(
        display_name="Annie",
        preferences=PreferencesUpdate.model_validate(
            {"genres": [28, 28, 12], "notify": {"trending": False}}
        ),
    )
    updated = service.update_profile(session, user=user, changes=changes)
    assert updated.display_name == "Annie"
    assert updated.preferences["genres"] == [28, 12]
    assert updated.preferences["notify"] == {
        "trending": False,
        "recommendations": True,
        "releases": False,
    }
    assert updated.preferences["language"] == "en"
    assert _events(session)[-1] == "user.preferences_changed"


def test_unchanged_profile_emits_nothing(session: Session, passwords: Passwords) -> None:
    user = _register(session, passwords)
    service.update_profile(session, user=user, changes=ProfileUpdate())
    assert _events(session) == ["user.registered"]


def test_unknown_user(session: Session) -> None:
    assert service.get_user(session, user_id=uuid.uuid4()) is None
