"""One title as the user has it, for drawing a details page in one call."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class TitleState(BaseModel):
    movie_id: int
    favorite: bool
    on_watchlist: bool
    rating: float | None = Field(description="The user's score, or null")
    watched_at: datetime | None = Field(description="When they last watched it, or null")
    review_id: uuid.UUID | None = Field(description="Their review of it, or null")
    not_interested: bool
    list_ids: list[uuid.UUID] = Field(description="Your lists that hold it")
