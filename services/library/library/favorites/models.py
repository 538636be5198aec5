"""A user's favorite movies: the table and the request and response shapes."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import Column, DateTime, Index, Integer
from sqlmodel import Field, SQLModel

from library.models import MovieIdValue
from shared.catalog_models import MovieSummary, Page
from shared.db import utcnow


class Favorite(SQLModel, table=True):
    __tablename__ = "favorite"
    __table_args__ = (Index("ix_favorite_user_newest", "user_id", "added_at", "movie_id"),)

    user_id: uuid.UUID = Field(primary_key=True)
    movie_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    added_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class FavoriteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"movie_id": 550}]})
    movie_id: MovieIdValue = PydanticField(description="TMDb movie id (a positive integer)")


class FavoritePublic(BaseModel):
    movie_id: int
    added_at: datetime


class FavoriteWithMovie(BaseModel):
    movie: MovieSummary
    added_at: datetime


class FavoritesPage(Page[FavoriteWithMovie]):
    pass
