"""The catalog's contract with the other services, and the one page shape every list uses.

The catalog declares its internal routes with these models (its OpenAPI shows them) and
`shared.catalog_client` returns them, so a service reading movie data sees one `MovieSummary`,
whichever service it is. `Page[T]` and `paginate()` are the page every list answers with.
"""

import math
from datetime import date
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

T = TypeVar("T")


class MovieSummary(BaseModel):
    id: int
    title: str
    overview: str
    release_date: date | None = Field(description="YYYY-MM-DD, or null when unknown")
    genre_ids: list[int]
    vote_average: float
    vote_count: int
    popularity: float
    poster_url: str | None = Field(description="Absolute image URL, or null")

    @field_validator("release_date", mode="before")
    @classmethod
    def _empty_date_is_null(cls, value: object) -> object:
        if value in ("", None) or isinstance(value, date):
            return value or None
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            return None

    @classmethod
    def placeholder(cls, movie_id: int) -> "MovieSummary":
        """A movie the catalog cannot describe right now: its id, nothing else."""
        return cls(
            id=movie_id,
            title="",
            overview="",
            release_date=None,
            genre_ids=[],
            vote_average=0.0,
            vote_count=0,
            popularity=0.0,
            poster_url=None,
        )


class MovieBrief(BaseModel):
    """What an event carries of a movie so its consumer needs not ask the catalog."""

    id: int
    title: str
    genre_ids: list[int] = Field(default_factory=list)


class Page(BaseModel, Generic[T]):
    page: int
    total_pages: int
    total_results: int
    results: list[T]


PageT = TypeVar("PageT", bound=Page[Any])


def page_count(total: int, limit: int) -> int:
    return math.ceil(total / limit) if limit > 0 else 0


def paginate(model: type[PageT], results: list[Any], *, total: int, page: int, limit: int) -> PageT:
    """Page `page` of a list of `total` items, `limit` a page: `results` are its items."""
    return model(
        page=page, total_pages=page_count(total, limit), total_results=total, results=results
    )


# --- the catalog's internal routes ----------------------------------------------------------
class MovieBatch(BaseModel):
    """GET /internal/movies: many movies in one call."""

    results: list[MovieSummary]
    missing: list[int] = Field(description="Ids TMDb does not know")
    unavailable: list[int] = Field(description="Ids TMDb could not be asked about now")
    adult_ids: list[int] = Field(description="Adult titles among the results")
    hidden: list[int] = Field(
        default_factory=list, description="Adult titles left out for the viewer"
    )


class MovieList(BaseModel):
    """GET /internal/trending and /internal/discover: several pages as one list."""

    results: list[MovieSummary]
    adult_ids: list[int] = Field(description="Adult titles among the results")


class RelatedLists(BaseModel):
    """GET /internal/related: TMDb's recommendations (or similar titles) of many movies."""

    lists: dict[int, list[MovieSummary]]
    adult_ids: list[int] = Field(description="Adult titles among the lists")


class RelatedIds(BaseModel):
    """GET /internal/related?ids_only=true: the same lists, each movie by its id only."""

    lists: dict[int, list[int]]
    adult_ids: list[int] = Field(description="Adult titles among the lists")


class MatchRow(BaseModel):
    """POST /internal/match: one row of another site's export, by what identifies its film."""

    model_config = ConfigDict(extra="forbid")
    tmdb_id: int | None = Field(None, gt=0, le=2**31 - 1)
    imdb_id: str | None = Field(None, pattern=r"^tt\d{7,8}$")
    title: str | None = Field(None, max_length=500)
    year: int | None = Field(None, ge=1800, le=2200)


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: list[MatchRow] = Field(max_length=100)


class Matched(BaseModel):
    movie_id: int | None
    problem: str | None = Field(description="unknown, ambiguous or unavailable (try later)")
    reason: str | None = Field(description="Why it was not matched, for the user")


class MatchAnswer(BaseModel):
    results: list[Matched]


class CalendarProvider(BaseModel):
    id: int
    name: str
    logo_url: str | None


class CalendarEntry(BaseModel):
    movie: MovieSummary
    date: date
    kind: Literal["theatrical", "digital", "streaming"] = Field(
        description="Released in cinemas, to rent or buy, or arrived on one of your services"
    )
    provider: CalendarProvider | None = Field(None, description="The service (streaming only)")


class Calendar(BaseModel):
    """The catalog's answer to /internal/calendar, and the public calendar's shape."""

    results: list[CalendarEntry]
