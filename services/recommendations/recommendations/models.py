"""The taste profile read model, built only from events (never another service's database)."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Integer, Numeric, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

import shared.db  # noqa: F401  (the naming convention, before any table is defined)


class TasteSignal(SQLModel, table=True):
    """Something a user did with a movie (favorite, rating or watched), as the events tell
    it; kept with its removal time so that events applied out of order still end right."""

    __tablename__ = "taste_signal"

    user_id: uuid.UUID = Field(primary_key=True)
    movie_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    kind: str = Field(sa_column=Column(String(16), primary_key=True))
    score: float | None = Field(default=None, sa_column=Column(Numeric(3, 1)))
    added_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    removed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class TastePreference(SQLModel, table=True):
    """A user's preferred genres and adult setting, from `user.preferences_changed`."""

    __tablename__ = "taste_preference"

    user_id: uuid.UUID = Field(primary_key=True)
    genres: list[int] = Field(
        default_factory=list, sa_column=Column(ARRAY(Integer), nullable=False)
    )
    include_adult: bool = False
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TopPick(SQLModel, table=True):
    """A user's top recommendations at the last trending refresh, to tell what is new."""

    __tablename__ = "top_pick"

    user_id: uuid.UUID = Field(primary_key=True)
    movie_ids: list[int] = Field(
        default_factory=list, sa_column=Column(ARRAY(Integer), nullable=False)
    )
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ForgottenUser(SQLModel, table=True):
    """A deleted account: nothing of it is written again, whatever event comes late."""

    __tablename__ = "forgotten_user"

    user_id: uuid.UUID = Field(primary_key=True)
    forgotten_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
