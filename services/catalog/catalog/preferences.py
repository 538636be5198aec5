"""What the catalog knows of its viewers: whether they allow adult titles, their language and
region, and the streaming services they have; a read model kept from
`user.preferences_changed` events.

Its truth is the catalog's `viewer` table (each event applied once, through the inbox, a newer
change never replaced by an older one); the set of adult viewers and the hash of locales in
Redis that requests read are a copy with one completeness mark (`shared/mirror.py`), rebuilt by
the catalog when lost. Until it is whole again, and while Redis is down, everyone gets the safe
default: no adult titles, the language the request itself asks for, and no services.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.client import Pipeline
from redis.client import Redis as SyncRedis
from redis.exceptions import RedisError
from sqlalchemy import Boolean, Column, DateTime, Integer, String, false, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlmodel import Field, Session, SQLModel, col

import shared.db  # noqa: F401  (the naming convention, before any table is defined)
from catalog.locale import Locale
from shared.events import UserPreferences
from shared.mirror import RedisMirror

ADULT_USERS_KEY = "catalog:adult-users"
LOCALES_KEY = "catalog:viewer-locales"  # user id -> "fr-CA"
PROVIDERS_KEY = "catalog:viewer-providers"  # user id -> "8,337"
VIEWERS_COMPLETE_KEY = "catalog:viewers:complete"
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


class Viewer(SQLModel, table=True):
    __tablename__ = "viewer"

    user_id: uuid.UUID = Field(primary_key=True)
    allowed: bool = Field(sa_column=Column(Boolean, nullable=False))  # adult titles
    language: str | None = Field(default=None, sa_column=Column(String(2), nullable=True))
    region: str | None = Field(default=None, sa_column=Column(String(2), nullable=True))
    providers: list[int] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Integer), nullable=False, server_default=text("'{}'")),
    )
    changed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # A deleted account's row stays as a tombstone: a `user.preferences_changed` arriving after
    # the `user.deleted` (redelivered, or late from another queue) must not bring it back.
    forgotten: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )


@dataclass(frozen=True, slots=True)
class ViewerPreferences:
    allows_adult: bool = False
    locale: Locale | None = None  # None: the request's own (explicit or Accept-Language)
    providers: tuple[int, ...] = ()  # the streaming services they have


ANONYMOUS = ViewerPreferences()


def _locale_of(language: str | None, region: str | None) -> Locale | None:
    if not language or not region or len(language) != 2 or len(region) != 2:
        return None
    return Locale(language.lower(), region.upper())


# What the copy holds of a viewer: user id, adult titles allowed, "fr-CA", "8,337".
ViewerCopy = tuple[str, bool, str | None, str | None]


class Viewers(RedisMirror[ViewerCopy]):
    lock_id = 0x61647574  # "adut"
    mark_key = VIEWERS_COMPLETE_KEY
    name = "viewers"

    def apply(
        self, session: Session, *, user_id: uuid.UUID, preferences: UserPreferences, at: datetime
    ) -> bool:
        """Record a user's preferences (an older change arriving late changes nothing, nor does
        any change of a deleted account) and copy the result to Redis before the caller commits;
        raises RedisError if it cannot. True if the change was recorded."""
        self.hold_shared(session)
        locale = _locale_of(preferences.language, preferences.region)
        values = {
            "allowed": preferences.include_adult,
            "language": locale.language if locale else None,
            "region": locale.region if locale else None,
            "providers": sorted(set(preferences.providers)),
            "changed_at": at,
        }
        statement = insert(Viewer).values(user_id=user_id, **values)
        written = session.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id"],
                set_=values,
                where=(col(Viewer.changed_at) < statement.excluded.changed_at)
                & ~col(Viewer.forgotten),
            ).returning(col(Viewer.user_id))
        ).first()
        row = session.get(Viewer, user_id, populate_existing=True)
        assert row is not None
        self._copy(self.redis, (str(user_id), row.allowed, _tag(row), _services(row)))
        return written is not None

    def forget(self, session: Session, *, user_id: uuid.UUID, at: datetime) -> None:
        """A deleted account's preferences go, from the table (its row left as a tombstone that
        no later change overwrites) and from the copy (before commit)."""
        self.hold_shared(session)
        tombstone: dict[str, object] = {
            "allowed": False,
            "language": None,
            "region": None,
            "providers": [],
            "changed_at": at,
            "forgotten": True,
        }
        statement = insert(Viewer).values(user_id=user_id, **tombstone)
        session.execute(statement.on_conflict_do_update(index_elements=["user_id"], set_=tombstone))
        self._copy(self.redis, (str(user_id), False, None, None))

    def _copy(self, target: SyncRedis | Pipeline, item: ViewerCopy) -> None:
        user_id, allowed, tag, services = item
        if allowed:
            target.sadd(ADULT_USERS_KEY, user_id)
        else:
            target.srem(ADULT_USERS_KEY, user_id)
        if tag:
            target.hset(LOCALES_KEY, user_id, tag)
        else:
            target.hdel(LOCALES_KEY, user_id)
        if services:
            target.hset(PROVIDERS_KEY, user_id, services)
        else:
            target.hdel(PROVIDERS_KEY, user_id)

    def load(self, session: Session, now: datetime) -> Sequence[ViewerCopy]:
        # Members of the adult set with no row come from before the table existed (every
        # change since writes its row first): keep them, so an upgrade forgets nobody's choice.
        known = {str(user_id) for user_id in session.scalars(select(col(Viewer.user_id)))}
        for member in self.redis.smembers(ADULT_USERS_KEY):
            text = member.decode() if isinstance(member, bytes) else str(member)
            if text not in known:
                session.add(Viewer(user_id=uuid.UUID(text), allowed=True, changed_at=_LONG_AGO))
        session.flush()
        return [
            (str(row.user_id), row.allowed, _tag(row), _services(row))
            for row in session.scalars(select(Viewer).where(~col(Viewer.forgotten)))
        ]

    def replace(self, pipe: Pipeline, items: Sequence[ViewerCopy], now: datetime) -> None:
        pipe.delete(ADULT_USERS_KEY, LOCALES_KEY, PROVIDERS_KEY)
        adult = [user_id for user_id, allowed, _, _ in items if allowed]
        if adult:
            pipe.sadd(ADULT_USERS_KEY, *adult)
        for user_id, _, tag, services in items:
            if tag:
                pipe.hset(LOCALES_KEY, user_id, tag)
            if services:
                pipe.hset(PROVIDERS_KEY, user_id, services)


def _tag(row: Viewer) -> str | None:
    return f"{row.language}-{row.region}" if row.language and row.region else None


def _services(row: Viewer) -> str | None:
    return ",".join(map(str, row.providers)) if row.providers else None


async def viewer_preferences(redis: Redis, user_id: uuid.UUID | None) -> ViewerPreferences:
    """One round trip. Anonymous users, everyone while Redis is down and everyone while the
    copy is being rebuilt get the safe default."""
    if user_id is None:
        return ANONYMOUS
    member = str(user_id)
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.sismember(ADULT_USERS_KEY, member)
            pipe.hget(LOCALES_KEY, member)
            pipe.hget(PROVIDERS_KEY, member)
            pipe.exists(VIEWERS_COMPLETE_KEY)
            adult, tag, services, complete = await pipe.execute()
    except RedisError:
        return ANONYMOUS
    if not complete:
        return ANONYMOUS
    locale = None
    if tag:
        text = tag.decode() if isinstance(tag, bytes) else str(tag)
        language, _, region = text.partition("-")
        locale = _locale_of(language, region)
    return ViewerPreferences(
        allows_adult=bool(adult), locale=locale, providers=_provider_ids(services)
    )


def _provider_ids(services: bytes | str | None) -> tuple[int, ...]:
    if not services:
        return ()
    text = services.decode() if isinstance(services, bytes) else str(services)
    return tuple(int(part) for part in text.split(",") if part.isdigit())
