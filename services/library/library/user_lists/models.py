"""A user's own lists: ordered titles with a note each, public or private. The tables and the
request and response shapes."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictBool
from pydantic import Field as PydanticField
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, text
from sqlmodel import Field, SQLModel

from library.models import MovieIdValue
from shared.catalog_models import MovieSummary, Page
from shared.parsing import json_integer

MAX_LISTS_PER_USER = 200
MAX_ITEMS_PER_LIST = 5_000


class UserList(SQLModel, table=True):
    __tablename__ = "user_list"
    __table_args__ = (
        # One name per user, whatever its case
        Index("uq_user_list_user_name", "user_id", text("lower(name)"), unique=True),
        Index("ix_user_list_user_created", "user_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(nullable=False)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(String(2000)))
    public: bool = Field(sa_column=Column(Boolean, nullable=False))
    item_count: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ListItem(SQLModel, table=True):
    __tablename__ = "list_item"
    __table_args__ = (
        Index("ix_list_item_list_position", "list_id", "position"),
        Index("ix_list_item_user_movie", "user_id", "movie_id"),
    )

    list_id: uuid.UUID = Field(
        sa_column=Column(
            ForeignKey("user_list.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    movie_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    user_id: uuid.UUID = Field(nullable=False)  # the list's owner, for the per-user rules
    position: int = Field(sa_column=Column(Integer, nullable=False))  # 1, 2, ... in list order
    note: str | None = Field(default=None, sa_column=Column(String(500)))
    added_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


# Some text that is not all space, and no NUL anywhere (PostgreSQL cannot store it)
_TEXT = r"^[^\x00]*[^\x00\s][^\x00]*$"
_NO_NUL = r"^[^\x00]*$"
_NAME = PydanticField(min_length=1, max_length=100, pattern=_TEXT)
_DESCRIPTION = PydanticField(default=None, max_length=2000, pattern=_NO_NUL)


class ListIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Best of 1977", "description": "Mine", "public": True}]
        },
    )
    name: str = _NAME
    description: str | None = _DESCRIPTION
    public: StrictBool = False


class ListUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Rainy days", "public": False}]}
    )
    # Left out: unchanged (a name and the public flag cannot be null; a description can)
    name: str = PydanticField(default=None, min_length=1, max_length=100, pattern=_TEXT)  # type: ignore[assignment]
    description: str | None = _DESCRIPTION
    public: StrictBool = None  # type: ignore[assignment]


class Owner(BaseModel):
    id: uuid.UUID
    display_name: str | None


class ListPublic(BaseModel):
    id: uuid.UUID
    owner: Owner
    name: str
    description: str | None
    public: bool
    item_count: int
    created_at: datetime
    updated_at: datetime


class ListsPage(Page[ListPublic]):
    pass


class ListItemIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"movie_id": 11, "note": "The first one", "position": 1}]},
    )
    movie_id: MovieIdValue = PydanticField(description="TMDb movie id (a positive integer)")
    note: str | None = PydanticField(default=None, max_length=500, pattern=_NO_NUL)
    position: Annotated[int, PydanticField(ge=1), BeforeValidator(json_integer)] | None = (
        PydanticField(default=None, description="Where it goes (1: first); at the end without it")
    )


class ListItemPublic(BaseModel):
    movie: MovieSummary
    position: int
    note: str | None
    added_at: datetime


class ListItemsPage(Page[ListItemPublic]):
    pass


class ListOrder(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"movie_ids": [11, 1891, 1892]}]}
    )
    movie_ids: list[MovieIdValue] = PydanticField(
        max_length=MAX_ITEMS_PER_LIST, description="Every title of the list, in its new order"
    )
