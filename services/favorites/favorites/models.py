"""A user's favorite movies: the table and the request and response shapes."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Strict
from pydantic import Field as PydanticField
from sqlalchemy import Column, DateTime, Index, Integer, Numeric, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.catalog_models import MovieSummary, Page
from shared.db import utcnow


def _json_integer(value: object) -> object:
    """A JSON integer: 7 or 7.0, never "7" or true (JSON Schema's own definition)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Input should be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("Input should be a whole number")
        return int(value)
    return value


# The constraints come first so the JSON Schema states them (exclusiveMinimum, maximum).
MovieIdValue = Annotated[int, PydanticField(gt=0, le=2**31 - 1), BeforeValidator(_json_integer)]


class Favorite(SQLModel, table=True):
    __tablename__ = "favorite"
    __table_args__ = (Index("ix_favorite_user_newest", "user_id", "added_at", "movie_id"),)

    user_id: uuid.UUID = Field(primary_key=True)
    movie_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    added_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class FavoriteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    movie_id: MovieIdValue = PydanticField(description="TMDb movie id (a positive integer)")


class FavoritePublic(BaseModel):
    movie_id: int
    added_at: datetime


class FavoriteWithMovie(BaseModel):
    movie: MovieSummary
    added_at: datetime


class FavoritesPage(Page[FavoriteWithMovie]):
    pass


# --- ratings --------------------------------------------------------------------------------
Score = Annotated[float, Strict(), PydanticField(ge=0.5, le=10, multiple_of=0.5)]


class Rating(SQLModel, table=True):
    __tablename__ = "rating"
    __table_args__ = (Index("ix_rating_user_newest", "user_id", "rated_at"),)

    user_id: uuid.UUID = Field(primary_key=True)
    movie_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    score: float = Field(sa_column=Column(Numeric(3, 1), nullable=False))
    rated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: Score = PydanticField(description="0.5 to 10 in steps of 0.5")


class RatingPublic(BaseModel):
    movie_id: int
    score: float
    rated_at: datetime


class RatingsPage(Page[RatingPublic]):
    pass


# --- reviews --------------------------------------------------------------------------------
REVIEW_MAX_CHARACTERS = 5000


class Review(SQLModel, table=True):
    __tablename__ = "review"
    __table_args__ = (
        UniqueConstraint("user_id", "movie_id"),
        Index("ix_review_movie_newest", "movie_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(nullable=False)
    movie_id: int = Field(nullable=False)
    body: str = Field(sa_column=Column(Text, nullable=False))
    score: float | None = Field(default=None, sa_column=Column(Numeric(3, 1)))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


# Some text that is not all space, and no NUL (PostgreSQL cannot store it): the pattern
# states both in the schema, so a client (or a fuzzer) knows what is refused.
ReviewBody = Annotated[
    str,
    Strict(),
    PydanticField(
        min_length=1, max_length=REVIEW_MAX_CHARACTERS, pattern=r"^[^\x00]*[^\x00\s][^\x00]*$"
    ),
]


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: ReviewBody = PydanticField(description="Plain text, 1 to 5000 characters")
    score: Score | None = PydanticField(None, description="Optional, 0.5 to 10 in steps of 0.5")


class ReviewUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: ReviewBody | None = None
    score: Score | None = None


class Author(BaseModel):
    id: uuid.UUID
    display_name: str


class ReviewPublic(BaseModel):
    id: uuid.UUID
    movie_id: int
    author: Author
    body: str
    score: float | None
    created_at: datetime
    updated_at: datetime


class ReviewsPage(Page[ReviewPublic]):
    pass


class UserDirectoryEntry(SQLModel, table=True):
    """Display names of users, from auth's events (for review authors)."""

    __tablename__ = "user_directory"

    user_id: uuid.UUID = Field(primary_key=True)
    display_name: str = Field(max_length=50)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


# --- watch history --------------------------------------------------------------------------
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


class HistoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    movie_id: MovieIdValue
    watched_at: (
        Annotated[AwareDatetime, BeforeValidator(_date_time_text), AfterValidator(_utc)] | None
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
