"""Subscribers (who wants what, from auth's events) and their notifications."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
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
WEBHOOK_DISABLED = "webhook.disabled"
RELEASE_AVAILABLE = "release.available"


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
    # ISO 3166-1 (None: the catalog's default, US): release alerts are for this region
    region: str | None = Field(default=None, sa_column=Column(String(2)))
    providers: list[int] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Integer), nullable=False, server_default=text("'{}'")),
    )
    notify_releases: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # When the account was created (as auth announced it): trending refreshes from then on
    # are theirs, however late this service learns of them.
    subscribed_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=text("now()")),
    )


class Watchlisted(SQLModel, table=True):
    """A title on a subscriber's watchlist (from the library's events): release alerts are for
    the titles users wait for."""

    __tablename__ = "watchlisted"
    user_id: uuid.UUID = Field(primary_key=True)
    movie_id: int = Field(primary_key=True, index=True)
    added_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ReleaseAlert(SQLModel, table=True):
    """A release alert sent: one per user, title and kind, whichever event brought it."""

    __tablename__ = "release_alert"
    user_id: uuid.UUID = Field(primary_key=True)
    movie_id: int = Field(primary_key=True)
    kind: str = Field(sa_column=Column(String(16), primary_key=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


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


class NotificationTurn(SQLModel, table=True):
    """A user's turn to be given notifications: each transaction that writes them some locks
    this row first (service.in_turn), so their notifications become visible in seq order.
    A deleted account's row stays, marked `forgotten_at`: no notification is written for
    them again, whatever event comes late."""

    __tablename__ = "notification_turn"
    user_id: uuid.UUID = Field(primary_key=True)
    forgotten_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


WEBHOOK_EVENTS = ("notification.created", "import.finished")


class Webhook(SQLModel, table=True):
    """A URL a user wants their notifications delivered to, and its signing secret."""

    __tablename__ = "webhook"
    __table_args__ = (Index("ix_webhook_user", "user_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(nullable=False)
    url: str = Field(sa_column=Column(String(2000), nullable=False))
    events: list[str] = Field(sa_column=Column(ARRAY(String(40)), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(String(500)))
    secret: str = Field(sa_column=Column(String(100), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # Since when every delivery has failed (none delivered since); three days of it disables it
    failing_since: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    disabled_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class WebhookDelivery(SQLModel, table=True):
    """One event for one webhook: kept until delivered or given up (the id is its Webhook-Id,
    the same on every attempt)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_webhook_created", "webhook_id", "created_at"),
        Index(
            "ix_webhook_delivery_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        UniqueConstraint("webhook_id", "source_id", "event"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    webhook_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("webhook.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: uuid.UUID = Field(nullable=False)
    event: str = Field(sa_column=Column(String(40), nullable=False))
    source_id: uuid.UUID = Field(
        nullable=False
    )  # the notification (or import, or ping) it tells of
    payload: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))  # pending delivered failed
    attempts: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    last_status: int | None = Field(default=None, sa_column=Column(Integer))
    last_error: str | None = Field(default=None, sa_column=Column(String(300)))
    next_attempt_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class WebhookIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/movies",
                    "events": ["notification.created", "import.finished"],
                    "description": "My home server",
                }
            ]
        },
    )
    url: str = PydanticField(min_length=8, max_length=2000, pattern=r"^https?://[^\x00\s]+$")
    events: list[Literal["notification.created", "import.finished", "release.available"]] = (
        PydanticField(min_length=1, max_length=3)
    )
    description: str | None = PydanticField(default=None, max_length=500, pattern=r"^[^\x00]*$")


class WebhookPublic(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str | None
    created_at: datetime
    disabled_at: datetime | None


class WebhookCreated(WebhookPublic):
    secret: str = PydanticField(description="Signs every delivery; shown this once")


class WebhooksPage(Page[WebhookPublic]):
    pass


class DeliveryPublic(BaseModel):
    id: uuid.UUID = PydanticField(description="The Webhook-Id header of every attempt")
    event: str
    status: str = PydanticField(description="pending, delivered or failed")
    attempts: int
    last_status: int | None = PydanticField(description="The receiver's last HTTP status")
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime


class DeliveriesPage(Page[DeliveryPublic]):
    pass


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
