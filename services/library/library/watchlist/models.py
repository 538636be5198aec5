"""A user's watchlist ("want to watch", apart from favorites, "loved it"): the table and the
request and response shapes."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import Boolean, Column, DateTime, Index, Integer
from sqlmodel import Field, SQLModel

from library.models import MovieIdValue
from shared.catalog_models import MovieSummary, Page


class WatchlistEntry(SQLModel, table=True):
    __tablename__ = "watchlist_entry"
    __table_args__ = (Index("ix_watchlist_entry_user_newest", "user_id", "added_at", "movie_id"),)

    user_id: uuid.UUID = Field(primary_key=True)
    movie_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    added_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class WatchlistSetting(SQLModel, table=True):
    """Whether watching a title takes it off the user's watchlist (their preference
    `remove_watched_from_watchlist`, kept from `user.preferences_changed` events)."""

    __tablename__ = "watchlist_setting"

    user_id: uuid.UUID = Field(primary_key=True)
    remove_when_watched: bool = Field(sa_column=Column(Boolean, nullable=False))
    changed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class WatchlistIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"movie_id": 550}]})
    movie_id: MovieIdValue = PydanticField(description="TMDb movie id (a positive integer)")


class WatchlistPublic(BaseModel):
    movie_id: int
    added_at: datetime


class WatchlistWithMovie(BaseModel):
    movie: MovieSummary
    added_at: datetime


class WatchlistPage(Page[WatchlistWithMovie]):
    pass
