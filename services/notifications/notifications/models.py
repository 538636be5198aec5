"""Subscribers (who wants what, from auth's events) and their notifications."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

import shared.db  # noqa: F401  (the naming convention, before any table is defined)
from shared.catalog_models import Page
from shared.db import utcnow

TRENDING_NEW = "trending.new"
RECOMMENDATIONS_NEW = "recommendations.new"
IMPORT_FINISHED = "import.finished"


class Subscriber(SQLModel, table=True):
    __tablename__ = "subscriber"

    user_id: uuid.UUID = Field(primary_key=True)
    notify_trending: bool = True
    notify_recommendations: bool = True
    genres: list[int] = Field(
        default_factory=list, sa_column=Column(ARRAY(Integer), nullable=False)
    )
    # ISO 639-1 from their preferences: titles are named in it (None: the catalog's default)
    language: str | None = Field(default=None, sa_column=Column(String(2)))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # When the account was created (as auth announced it): trending refreshes from then on
    # are theirs, however late this service learns of them.
    subscribed_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=text("now()")),
    )


class TrendingRefresh(SQLModel, table=True):
    """A recent trending refresh that had new titles, kept a day for subscribers whose
    registration reaches this service after the refresh does. Each movie is kept as
    `fan_out_trending` takes it: id, title, genre_ids and its title in other languages."""

    __tablename__ = "trending_refresh"
    __table_args__ = (Index("ix_trending_refresh_refreshed_at", "refreshed_at"),)

    event_id: uuid.UUID = Field(primary_key=True)
    refreshed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    movies: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))


class Notification(SQLModel, table=True):
    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("user_id", "source_event_id", "type"),
        Index("ix_notification_user_seq", "user_id", "seq"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # Orders a user's notifications and is the SSE event id clients resume from.
    seq: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(), unique=True, nullable=False)
    )
    user_id: uuid.UUID = Field(nullable=False)
    type: str = Field(sa_column=Column(String(32), nullable=False))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    body: str = Field(sa_column=Column(String(1000), nullable=False))
    movie_ids: list[int] = Field(
        default_factory=list, sa_column=Column(ARRAY(Integer), nullable=False)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    read_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    source_event_id: uuid.UUID = Field(nullable=False)


class NotificationPublic(BaseModel):
    id: uuid.UUID
    type: str = PydanticField(description="trending.new, recommendations.new or import.finished")
    title: str
    body: str
    movie_ids: list[int]
    created_at: datetime
    read_at: datetime | None


class NotificationsPage(Page[NotificationPublic]):
    pass
