"""TMDb payloads (validated before anything is cached) and the public shapes of movies."""

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator


# --- what TMDb sends ------------------------------------------------------------------------
class _Tmdb(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TmdbGenre(_Tmdb):
    id: int
    name: str


class TmdbMovie(_Tmdb):
    id: int = Field(gt=0)
    title: str
    overview: str | None = None
    release_date: str | None = None
    genre_ids: list[int] = Field(default_factory=list)
    vote_average: float = 0.0
    vote_count: int = 0
    popularity: float = 0.0
    poster_path: str | None = None
    adult: bool = False


class TmdbPage(_Tmdb):
    page: int = Field(ge=1)
    results: list[TmdbMovie]
    total_pages: int = Field(ge=0)
    total_results: int = Field(ge=0)


class TmdbMovieDetail(_Tmdb):
    id: int = Field(gt=0)
    title: str
    overview: str | None = None
    release_date: str | None = None
    genres: list[TmdbGenre] = Field(default_factory=list)
    vote_average: float = 0.0
    vote_count: int = 0
    popularity: float = 0.0
    poster_path: str | None = None
    backdrop_path: str | None = None
    adult: bool = False
    runtime: int | None = None
    tagline: str | None = None
    status: str | None = None
    original_language: str | None = None


class TmdbGenreList(_Tmdb):
    genres: list[TmdbGenre]


# --- what clients get -----------------------------------------------------------------------
class Genre(BaseModel):
    id: int
    name: str


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
        if value in ("", None):
            return None
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            return None


class CommunityRating(BaseModel):
    average: float | None = Field(description="Mean score of this system's users, or null")
    count: int


class MovieDetail(MovieSummary):
    genres: list[Genre]
    runtime: int | None
    tagline: str | None
    status: str | None
    original_language: str | None
    backdrop_url: str | None
    community_rating: CommunityRating


class MoviePage(BaseModel):
    page: int
    total_pages: int
    total_results: int
    results: list[MovieSummary]


class MovieBatch(BaseModel):
    results: list[MovieSummary]
    missing: list[int] = Field(description="Ids TMDb does not know")
    unavailable: list[int] = Field(description="Ids TMDb could not be asked about now")
    adult_ids: list[int] = Field(description="Adult titles among the results")
    hidden: list[int] = Field(description="Adult titles left out for the viewer")
