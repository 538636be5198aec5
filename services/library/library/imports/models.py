"""Imports: a job per uploaded file and its rows, kept until the job is done (the job is
resumable from its rows by any replica), and the shapes of the public answers."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import Column, DateTime, Index, Integer, Numeric, SmallInteger, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared.account_export import UnmatchedRow
from shared.catalog_models import Page

MAX_RUNNING_PER_USER = 3
UNMATCHED_SHOWN = 500
CREATED_KINDS = ("ratings", "history", "watchlist", "favorites", "lists")


class ImportJob(SQLModel, table=True):
    __tablename__ = "import_job"
    __table_args__ = (
        Index("ix_import_job_user_created", "user_id", "created_at"),
        Index(
            "ix_import_job_unfinished",
            "created_at",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(nullable=False)
    source: str = Field(sa_column=Column(String(16), nullable=False))
    file_name: str = Field(sa_column=Column(String(255), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))  # queued running done failed
    rows: int = Field(sa_column=Column(Integer, nullable=False))
    processed: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    matched: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    created: dict[str, int] = Field(sa_column=Column(JSONB, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(String(1000)))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # The replica working on it, until when (renewed as it goes; another takes over after).
    lease_owner: str | None = Field(default=None, sa_column=Column(String(100)))
    lease_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class ImportRow(SQLModel, table=True):
    """One thing to bring over, as read from the file; `state` pending, done or unmatched."""

    __tablename__ = "import_row"
    __table_args__ = (
        Index(
            "ix_import_row_pending", "import_id", "seq", postgresql_where=text("state = 'pending'")
        ),
        Index(
            "ix_import_row_unmatched",
            "import_id",
            "seq",
            postgresql_where=text("state = 'unmatched'"),
        ),
    )

    import_id: uuid.UUID = Field(primary_key=True)
    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    user_id: uuid.UUID = Field(nullable=False)
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    ref: str = Field(sa_column=Column(String(300), nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    title: str | None = Field(default=None, sa_column=Column(String(500)))
    year: int | None = Field(default=None, sa_column=Column(SmallInteger))
    tmdb_id: int | None = Field(default=None, sa_column=Column(Integer))
    imdb_id: str | None = Field(default=None, sa_column=Column(String(12)))
    score: float | None = Field(default=None, sa_column=Column(Numeric(3, 1)))
    at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    list_name: str | None = Field(default=None, sa_column=Column(String(100)))
    list_description: str | None = Field(default=None, sa_column=Column(String(2000)))
    note: str | None = Field(default=None, sa_column=Column(String(500)))
    not_a_film: str | None = Field(default=None, sa_column=Column(String(100)))
    reason: str | None = Field(default=None, sa_column=Column(String(300)))


class ImportPublic(BaseModel):
    id: uuid.UUID
    source: str = PydanticField(description="letterboxd, imdb or trakt")
    status: str = PydanticField(description="queued, running, done or failed")
    rows: int = PydanticField(description="Things to bring over found in the file")
    processed: int
    matched: int
    created: dict[str, int] = PydanticField(
        description="New entries: ratings, history, watchlist, favorites, lists"
    )
    unmatched: list[UnmatchedRow] = PydanticField(description=f"The first {UNMATCHED_SHOWN}")
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class ImportsPage(Page[ImportPublic]):
    pass


def no_created() -> dict[str, Any]:
    return dict.fromkeys(CREATED_KINDS, 0)
