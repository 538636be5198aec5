"""The export of an account, section by section: each service holding a user's data answers
its part at /internal/users/{user_id}/export in these shapes, and auth joins them into the
answer of GET /me/export."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class ListedExport(BaseModel):
    movie_id: int
    added_at: datetime


class RatingExport(BaseModel):
    movie_id: int
    score: float
    rated_at: datetime


class ReviewExport(BaseModel):
    id: uuid.UUID
    movie_id: int
    body: str
    score: float | None
    created_at: datetime
    updated_at: datetime


class WatchExport(BaseModel):
    movie_id: int
    watched_at: datetime


class ListItemExport(BaseModel):
    movie_id: int
    position: int
    note: str | None
    added_at: datetime


class ListExport(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    public: bool
    created_at: datetime
    updated_at: datetime
    items: list[ListItemExport]


class UnmatchedRow(BaseModel):
    """A row of an import that was not brought over, and why."""

    row: str = Field(description="Where it is in the upload: file and line (or item)")
    title: str | None
    year: int | None
    reason: str


class ImportExport(BaseModel):
    """An import from another site and its report."""

    id: uuid.UUID
    source: str
    status: str
    rows: int
    matched: int
    created: dict[str, int]
    unmatched: list[UnmatchedRow]
    created_at: datetime
    finished_at: datetime | None


class LibraryExport(BaseModel):
    favorites: list[ListedExport]
    watchlist: list[ListedExport]
    not_interested: list[ListedExport]
    ratings: list[RatingExport]
    reviews: list[ReviewExport]
    history: list[WatchExport]
    lists: list[ListExport] = Field(default_factory=list)
    imports: list[ImportExport] = Field(default_factory=list)


class NotificationExport(BaseModel):
    id: uuid.UUID
    type: str
    title: str
    body: str
    movie_ids: list[int]
    created_at: datetime
    read_at: datetime | None


class TasteSignalExport(BaseModel):
    """What recommendations learned from: one thing the user did with a movie."""

    movie_id: int
    kind: str = Field(description="favorite, rating, watched, watchlist, listed or not_interested")
    score: float | None
    at: datetime
