"""Reviews and their authors' names: the tables and the request and response shapes."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Strict
from pydantic import Field as PydanticField
from sqlalchemy import Column, DateTime, Index, Numeric, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from library.ratings.models import Score
from shared.catalog_models import Page
from shared.db import utcnow

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
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"body": "Tense from the first minute.", "score": 8}]},
    )
    body: ReviewBody = PydanticField(description="Plain text, 1 to 5000 characters")
    score: Score | None = PydanticField(None, description="Optional, 0.5 to 10 in steps of 0.5")


class ReviewUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"body": "Even better the second time."}]}
    )
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
