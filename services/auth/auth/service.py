"""Accounts and logins: plain functions over a database session, no HTTP here."""

import hashlib
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from auth.config import AuthSettings
from auth.events import PRODUCER
from auth.models import (
    AuthSession,
    Preferences,
    ProfileUpdate,
    RefreshToken,
    RegisterIn,
    User,
)
from auth.passwords import Passwords
from auth.revocations import RevocationCopy, RevocationUnavailable
from shared.db import utcnow
from shared.events import (
    SessionRevoked,
    UserDeleted,
    UserPasswordChanged,
    UserPreferencesChanged,
    UserRegistered,
)
from shared.outbox import add_event
from shared.security import issue_access_token


class EmailTaken(Exception):
    pass


class InvalidRefreshToken(Exception):
    pass


class RefreshTokenReused(Exception):
    """A spent refresh token came back: the whole login has been revoked."""

    def __init__(self, session_id: str) -> None:
        super().__init__(session_id)
        self.session_id = session_id


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str


def _hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def get_user(session: Session, *, user_id: uuid.UUID) -> User | None:
    """The user with this id."""
    return session.get(User, user_id)


def get_user_by_email(session: Session, *, email: str) -> User | None:
    """The user with this email, compared case-insensitively.

    Both sides are lowered by PostgreSQL, as the unique index is: Python's `lower()` and
    PostgreSQL's disagree on some letters ("İ"), and an account registered with one could
    never be found with the other. The text is composed (NFC) as registration stores it."""
    wanted = unicodedata.normalize("NFC", email.strip())
    statement = select(User).where(func.lower(User.email) == func.lower(wanted))  # type: ignore[arg-type]
    return session.scalars(statement).first()


def register(session: Session, *, data: RegisterIn, passwords: Passwords) -> User:
    """Create an account; raises EmailTaken when the email is in use in any letter case."""
    email = str(data.email)
    if get_user_by_email(session, email=email) is not None:
        raise EmailTaken(email)
    user = User(
        email=email,
        password_hash=passwords.hash(data.password),
        display_name=data.display_name or email.split("@", 1)[0][:50],
    )
    session.add(user)
    add_event(
        session,
        UserRegistered(
            user_id=user.id, display_name=user.display_name, registered_at=user.created_at
        ),
        producer=PRODUCER,
    )
    try:
        session.commit()
    except IntegrityError as exc:  # a concurrent registration won the race
        session.rollback()
        raise EmailTaken(email) from exc
    return user


def authenticate(
    session: Session, *, email: str, password: str, passwords: Passwords
) -> User | None:
    """The user if the password matches; unknown emails cost the same time as wrong passwords."""
    user = get_user_by_email(session, email=email)
    if not passwords.verify(user.password_hash if user else None, password) or user is None:
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
        session.add(user)
        session.commit()
    return user


def _issue(session: Session, *, auth_session: AuthSession, settings: AuthSettings) -> IssuedTokens:
    refresh_token = secrets.token_urlsafe(48)
    session.add(
        RefreshToken(token_hash=_hash_refresh_token(refresh_token), session_id=auth_session.id)
    )
    access_token, _ = issue_access_token(
        user_id=auth_session.user_id,
        session_id=auth_session.id,
        secret=settings.jwt_secret,
        algorithm=settings.jwt_algorithm,
        ttl_s=settings.access_token_ttl_s,
    )
    return IssuedTokens(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=settings.access_token_ttl_s,
        session_id=auth_session.id,
    )


def start_session(session: Session, *, user: User, settings: AuthSettings) -> IssuedTokens:
    """Open a login and issue its first token pair."""
    auth_session = AuthSession(
        id=uuid.uuid4().hex,
        user_id=user.id,
        expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl_s),
    )
    session.add(auth_session)
    session.flush()
    tokens = _issue(session, auth_session=auth_session, settings=settings)
    session.commit()
    return tokens


def rotate_refresh_token(
    session: Session, *, refresh_token: str, settings: AuthSettings, copy: RevocationCopy
) -> IssuedTokens:
    """Spend a refresh token for a new pair; a spent one revokes its whole login."""
    stored = session.scalars(
        select(RefreshToken)
        .where(RefreshToken.token_hash == _hash_refresh_token(refresh_token))  # type: ignore[arg-type]
        .with_for_update()
    ).first()
    if stored is None:
        raise InvalidRefreshToken
    auth_session = session.get(AuthSession, stored.session_id, with_for_update=True)
    now = utcnow()
    if (
        auth_session is None
        or auth_session.revoked_at is not None
        or auth_session.expires_at <= now
    ):
        session.rollback()
        raise InvalidRefreshToken
    if stored.spent_at is not None:
        copy.hold_shared(session)
        _revoke(session, auth_session=auth_session, reason="refresh_reuse")
        _commit_revoked(session, copy, [auth_session])
        raise RefreshTokenReused(auth_session.id)
    stored.spent_at = now
    session.add(stored)
    tokens = _issue(session, auth_session=auth_session, settings=settings)
    session.commit()
    return tokens


def _revoke(session: Session, *, auth_session: AuthSession, reason: str) -> None:
    auth_session.revoked_at = utcnow()
    auth_session.revoked_reason = reason
    session.add(auth_session)
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.session_id == auth_session.id, RefreshToken.spent_at.is_(None))  # type: ignore[arg-type, union-attr]
        .values(spent_at=utcnow())
    )
    add_event(
        session,
        SessionRevoked(user_id=auth_session.user_id, session_ids=[auth_session.id], reason=reason),
        producer=PRODUCER,
    )


def _commit_revoked(session: Session, copy: RevocationCopy, revoked: list[AuthSession]) -> None:
    """Copy the revocations to the security Redis, then commit; nothing is committed (and
    RevocationUnavailable is raised) if the copy cannot be written. Call with the copy's lock
    held shared (`copy.hold_shared`)."""
    try:
        copy.write((row.id, row.revoked_at) for row in revoked if row.revoked_at is not None)
    except RevocationUnavailable:
        session.rollback()
        raise
    session.commit()


def end_session(
    session: Session, *, session_id: str, copy: RevocationCopy, reason: str = "logout"
) -> None:
    """Revoke one login and every refresh token it has (again into the copy if already revoked).
    Raises RevocationUnavailable, with nothing changed, if the security Redis fails."""
    copy.hold_shared(session)
    auth_session = session.get(AuthSession, session_id, with_for_update=True)
    if auth_session is None:
        session.commit()
        return
    if auth_session.revoked_at is None:
        _revoke(session, auth_session=auth_session, reason=reason)
    _commit_revoked(session, copy, [auth_session])


def active_session_ids(
    session: Session, *, user_id: uuid.UUID, except_session_id: str | None
) -> list[str]:
    """Ids of the user's logins that are neither revoked nor expired."""
    statement = select(AuthSession.id).where(
        AuthSession.user_id == user_id,  # type: ignore[arg-type]
        AuthSession.revoked_at.is_(None),  # type: ignore[union-attr]
        AuthSession.expires_at > utcnow(),  # type: ignore[arg-type]
    )
    return [sid for sid in session.scalars(statement) if sid != except_session_id]


def change_password(
    session: Session,
    *,
    user: User,
    new_password: str,
    keep_session_id: str,
    passwords: Passwords,
    copy: RevocationCopy,
) -> list[str]:
    """Set a new password and end every other login; returns the ended logins' ids.
    Raises RevocationUnavailable, with nothing changed, if the security Redis fails."""
    copy.hold_shared(session)
    now = utcnow()
    user.password_hash = passwords.hash(new_password)
    user.password_changed_at = now
    user.updated_at = now
    session.add(user)
    ended = active_session_ids(session, user_id=user.id, except_session_id=keep_session_id)
    revoked = []
    for session_id in ended:
        auth_session = session.get(AuthSession, session_id, with_for_update=True)
        if auth_session is not None:
            _revoke(session, auth_session=auth_session, reason="password_changed")
            revoked.append(auth_session)
    add_event(session, UserPasswordChanged(user_id=user.id, changed_at=now), producer=PRODUCER)
    _commit_revoked(session, copy, revoked)
    return ended


DELETED_NAME = "Deleted user"
UNUSABLE_PASSWORD_HASH = "!"  # matches no password: argon2 refuses it as a hash


def delete_account(session: Session, *, user: User, copy: RevocationCopy) -> list[str]:
    """End every login of the account at once, anonymise it (its email can sign up again) and
    announce the deletion, so every service removes what it holds; returns the ended logins.
    Raises RevocationUnavailable, with nothing changed, if the security Redis fails."""
    copy.hold_shared(session)
    session.refresh(user, with_for_update=True)
    now = utcnow()
    ended = active_session_ids(session, user_id=user.id, except_session_id=None)
    revoked = []
    for session_id in ended:
        auth_session = session.get(AuthSession, session_id, with_for_update=True)
        if auth_session is not None:
            _revoke(session, auth_session=auth_session, reason="account_deleted")
            revoked.append(auth_session)
    user.email = f"deleted-{user.id.hex}@deleted.invalid"
    user.password_hash = UNUSABLE_PASSWORD_HASH
    user.display_name = DELETED_NAME
    user.preferences = Preferences().model_dump()
    user.deleted_at = user.updated_at = now
    session.add(user)
    add_event(session, UserDeleted(user_id=user.id, deleted_at=now), producer=PRODUCER)
    _commit_revoked(session, copy, revoked)
    return ended


def update_profile(session: Session, *, user: User, changes: ProfileUpdate) -> User:
    """Apply a partial profile change; announces it when anything changed.

    The row is read again under a lock, so concurrent partial changes (one sets the genres,
    another the language) both last, and each event carries the whole result."""
    session.refresh(user, with_for_update=True)
    before = (user.display_name, dict(user.preferences))
    if changes.display_name is not None:
        user.display_name = changes.display_name
    if changes.preferences is not None:
        merged = Preferences.model_validate(user.preferences).model_dump()
        patch = changes.preferences.model_dump(exclude_unset=True, exclude_none=True)
        notify_patch = patch.pop("notify", None) or {}
        merged.update(patch)
        merged["notify"].update(notify_patch)
        user.preferences = Preferences.model_validate(merged).model_dump()
    if (user.display_name, user.preferences) != before:
        user.updated_at = utcnow()
        session.add(user)
        add_event(
            session,
            UserPreferencesChanged(
                user_id=user.id, preferences=user.preferences, display_name=user.display_name
            ),
            producer=PRODUCER,
        )
    session.commit()  # also ends the lock when nothing changed
    return user
