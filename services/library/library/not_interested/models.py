"""Titles a user does not want suggested (Trakt's "hide"): the table."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Integer
from sqlmodel import Field, SQLModel


class NotInterestedEntry(SQLModel, table=True):
    __tablename__ = "not_interested_entry"

    user_id: uuid.UUID = Field(primary_key=True)
    movie_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    added_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
