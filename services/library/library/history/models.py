"""What a user watched: the table and the request and response shapes."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import Column, DateTime, Index, Integer
from sqlmodel import Field, SQLModel

from library.models import MovieIdValue
from shared.catalog_models import MovieSummary, Page


class WatchEntry(SQLModel, table=True):
    __tablename__ = "watch_entry"
    __table_args__ = (Index("ix_watch_entry_user_newest", "user_id", "watched_at"),)

    user_id: uuid.UUID = Field(primary_key=True)
    movie_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    watched_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


def _date_time_text(value: object) -> object:
    """Only an RFC 3339 string is a date-time here (not a number of seconds)."""
    if not isinstance(value, str):
        raise ValueError("Input should be an RFC 3339 date-time string")
    return value


def _utc(moment: datetime) -> datetime:
    """Any offset is accepted and kept as UTC (PostgreSQL only stores offsets up to 15:59)."""
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError("Input is out of the range of dates") from exc


# A client's clock may be ahead of ours, or its time zone wrong by up to 14 hours.
CLOCK_ALLOWANCE = timedelta(days=1)


def _not_ahead(moment: datetime) -> datetime:
    """A viewing is in the past: a time more than a day ahead of now is a client's mistake."""
    if moment > datetime.now(UTC) + CLOCK_ALLOWANCE:
        raise ValueError("A viewing cannot be in the future")
    return moment


class HistoryIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"movie_id": 550, "watched_at": "2026-11-30T20:15:00Z"}]},
    )
    movie_id: MovieIdValue
    watched_at: (
        Annotated[
            AwareDatetime,
            BeforeValidator(_date_time_text),
            AfterValidator(_utc),
            AfterValidator(_not_ahead),
        ]
        | None
    ) = PydanticField(
        None, description="When it was watched (ISO 8601 with a time zone); now if left out"
    )


class HistoryPublic(BaseModel):
    movie_id: int
    watched_at: datetime


class HistoryWithMovie(BaseModel):
    movie: MovieSummary
    watched_at: datetime


class HistoryPage(Page[HistoryWithMovie]):
    pass
