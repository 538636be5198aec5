"""Users, logins (sessions) and refresh tokens; request and response shapes."""

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    StrictBool,
    ValidationInfo,
    field_validator,
)
from pydantic import Field as PydanticField
from sqlalchemy import Column, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from auth.passwords import MAX_PASSWORD_LENGTH, PasswordPolicyError, check_policy
from shared.account_export import LibraryExport, NotificationExport, TasteSignalExport
from shared.db import utcnow
from shared.parsing import json_integer
from shared.providers import MAX_PROVIDERS_PER_USER, PROVIDERS, unknown_providers

DISPLAY_NAME_MAX = 50
# What a display name may not hold, stated in the schema so clients know it: control
# characters, and the invisible ones that let one name pass for another (soft hyphen,
# zero-width characters, bidirectional overrides, line separators, word joiners, BOM).
_HIDDEN = r"\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
DISPLAY_NAME_PATTERN = rf"^[^{_HIDDEN}]*[^\s{_HIDDEN}][^{_HIDDEN}]*$"
MAX_PREFERRED_GENRES = 30


# --- preferences ----------------------------------------------------------------------------
class NotifyPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trending: StrictBool = PydanticField(True, description="Notify when new titles enter trending")
    recommendations: StrictBool = PydanticField(
        True, description="Notify about new recommendations"
    )
    releases: StrictBool = PydanticField(
        False,
        description="Notify when a title on your watchlist is released in your region or "
        "arrives on one of your providers",
    )


def _known_providers(provider_ids: list[int] | None) -> list[int] | None:
    if provider_ids is None:
        return None
    if missing := unknown_providers(provider_ids):
        raise ValueError(f"unknown provider ids: {', '.join(map(str, missing))}")
    return list(dict.fromkeys(provider_ids))


# The schema lists the known ids, so clients (and generated ones) know them
ProviderIds = Annotated[
    int,
    PydanticField(gt=0, lt=1_000_000, json_schema_extra={"enum": sorted(PROVIDERS)}),
    BeforeValidator(json_integer),
]
GenreId = Annotated[int, PydanticField(gt=0, lt=1_000_000), BeforeValidator(json_integer)]


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    genres: list[GenreId] = PydanticField(
        default_factory=list,
        max_length=MAX_PREFERRED_GENRES,
        description="Preferred TMDb genre ids",
    )
    language: str = PydanticField("en", pattern=r"^[a-z]{2}$", description="ISO 639-1 language")
    region: str = PydanticField("US", pattern=r"^[A-Z]{2}$", description="ISO 3166-1 region")
    include_adult: StrictBool = PydanticField(False, description="Show adult titles")
    remove_watched_from_watchlist: StrictBool = PydanticField(
        False, description="Watching a title (history) takes it off the watchlist"
    )
    providers: list[ProviderIds] = PydanticField(
        default_factory=list,
        max_length=MAX_PROVIDERS_PER_USER,
        description="The streaming services you have: TMDb watch provider ids",
    )
    notify: NotifyPreferences = PydanticField(default_factory=NotifyPreferences)

    @field_validator("genres")
    @classmethod
    def _unique_genres(cls, genres: list[int]) -> list[int]:
        return list(dict.fromkeys(genres))

    @field_validator("providers")
    @classmethod
    def _providers(cls, provider_ids: list[int]) -> list[int]:
        return _known_providers(provider_ids) or []


class NotifyPreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trending: StrictBool | None = None
    recommendations: StrictBool | None = None
    releases: StrictBool | None = None


class PreferencesUpdate(BaseModel):
    """Fields given replace the stored ones; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")
    genres: list[GenreId] | None = PydanticField(None, max_length=MAX_PREFERRED_GENRES)
    language: str | None = PydanticField(None, pattern=r"^[a-z]{2}$")
    region: str | None = PydanticField(None, pattern=r"^[A-Z]{2}$")
    include_adult: StrictBool | None = None
    remove_watched_from_watchlist: StrictBool | None = None
    providers: list[ProviderIds] | None = PydanticField(None, max_length=MAX_PROVIDERS_PER_USER)
    notify: NotifyPreferencesUpdate | None = None

    @field_validator("providers")
    @classmethod
    def _providers(cls, provider_ids: list[int] | None) -> list[int] | None:
        return _known_providers(provider_ids)


# --- tables ---------------------------------------------------------------------------------
class User(SQLModel, table=True):
    __tablename__ = "user_account"
    __table_args__ = (Index("uq_user_account_email_lower", func.lower(text("email")), unique=True),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(sa_column=Column(String(320), nullable=False))
    password_hash: str = Field(sa_column=Column(String(255), nullable=False))
    display_name: str = Field(sa_column=Column(String(DISPLAY_NAME_MAX), nullable=False))
    preferences: dict[str, Any] = Field(
        default_factory=lambda: Preferences().model_dump(),
        sa_column=Column(JSONB, nullable=False),
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    password_changed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    # Set when the account was deleted: the row stays, anonymised, so its revoked logins keep
    # being refused until their tokens expire (the revocations' truth is auth_session).
    deleted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class AuthSession(SQLModel, table=True):
    """One login: every refresh token it rotates through and every access token share its id."""

    __tablename__ = "auth_session"

    id: str = Field(primary_key=True, max_length=64)
    user_id: uuid.UUID = Field(
        sa_column=Column(
            ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    revoked_reason: str | None = Field(default=None, max_length=50)


class RefreshToken(SQLModel, table=True):
    """Refresh tokens by SHA-256; a spent one presented again means the login was stolen."""

    __tablename__ = "refresh_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    session_id: str = Field(
        sa_column=Column(
            ForeignKey("auth_session.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    issued_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    spent_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


# --- requests and responses -----------------------------------------------------------------
def _clean_display_name(value: str) -> str:
    """Stored as typed, composed (NFC) and without surrounding spaces; the field's pattern
    has already refused hidden characters and names that are all spaces."""
    value = unicodedata.normalize("NFC", value).strip()
    if not value:
        raise ValueError("Display name must not be blank")
    return value


class RegisterIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "ada@example.com",
                    "password": "correct horse battery",
                    "display_name": "Ada",
                }
            ]
        },
    )
    email: EmailStr = PydanticField(max_length=320)
    password: str = PydanticField(
        min_length=8, max_length=128, description="8 to 128 characters, not a common password"
    )
    display_name: str | None = PydanticField(
        None, min_length=1, max_length=DISPLAY_NAME_MAX, pattern=DISPLAY_NAME_PATTERN
    )

    @field_validator("password")
    @classmethod
    def _password_policy(cls, value: str, info: ValidationInfo) -> str:
        email = info.data.get("email")  # validated first; absent if it was refused
        try:
            return check_policy(value, email=str(email) if email else None)
        except PasswordPolicyError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str | None) -> str | None:
        return None if value is None else _clean_display_name(value)


class LoginIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "ada@example.com", "password": "correct horse battery"}]
        }
    )
    email: str = PydanticField(min_length=1, max_length=320)
    password: str = PydanticField(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class RefreshIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"refresh_token": "the refresh token from login"}]}
    )
    refresh_token: str = PydanticField(min_length=1, max_length=512)


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "current_password": "correct horse battery",
                    "new_password": "a new long passphrase",
                }
            ]
        },
    )
    current_password: str = PydanticField(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: str = PydanticField(
        min_length=8, max_length=128, description="8 to 128 characters, not a common password"
    )

    @field_validator("new_password")
    @classmethod
    def _password_policy(cls, value: str) -> str:
        try:
            return check_policy(value)
        except PasswordPolicyError as exc:
            raise ValueError(str(exc)) from exc


class AccountDeleteIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"password": "my current password"}]}
    )
    password: str = PydanticField(
        min_length=1, max_length=MAX_PASSWORD_LENGTH, description="The current password"
    )


class ProfileUpdate(BaseModel):
    """Only these fields can change; any other field is refused (422)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "display_name": "Ada",
                    "preferences": {"genres": [18, 878], "language": "fr", "region": "FR"},
                }
            ]
        },
    )
    display_name: str | None = PydanticField(
        None, min_length=1, max_length=DISPLAY_NAME_MAX, pattern=DISPLAY_NAME_PATTERN
    )
    preferences: PreferencesUpdate | None = None

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str | None) -> str | None:
        return None if value is None else _clean_display_name(value)


class UserPublic(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str
    created_at: datetime


class ProfilePublic(UserPublic):
    preferences: Preferences


class AccountExport(LibraryExport):
    """Everything the system holds of a user: the profile, the library's sections, the
    notifications and what recommendations learned."""

    exported_at: datetime
    profile: ProfilePublic
    notifications: list[NotificationExport]
    taste_signals: list[TasteSignalExport] = PydanticField(
        description="What recommendations are made from"
    )


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = PydanticField(description="Seconds until the access token expires")
