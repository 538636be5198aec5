"""A user's ratings: the table and the request and response shapes."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Strict
from pydantic import Field as PydanticField
from sqlalchemy import Column, DateTime, Index, Integer, Numeric
from sqlmodel import Field, SQLModel

from shared.catalog_models import Page
from shared.db import utcnow

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
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"score": 8.5}]})
    score: Score = PydanticField(description="0.5 to 10 in steps of 0.5")


class RatingPublic(BaseModel):
    movie_id: int
    score: float
    rated_at: datetime


class RatingsPage(Page[RatingPublic]):
    pass
