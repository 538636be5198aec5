"""TMDb payloads (validated before anything is cached) and the public shapes of movies; the
summary, the page and the internal routes' shapes are the shared contract
(shared/catalog_models.py)."""

from pydantic import BaseModel, ConfigDict, Field

from shared.catalog_models import (
    MovieBatch,
    MovieList,
    MovieSummary,
    Page,
    RelatedIds,
    RelatedLists,
)


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


class MoviePage(Page[MovieSummary]):
    pass


__all__ = [
    "CommunityRating",
    "Genre",
    "MovieBatch",
    "MovieDetail",
    "MovieList",
    "MoviePage",
    "MovieSummary",
    "RelatedIds",
    "RelatedLists",
    "TmdbGenre",
    "TmdbGenreList",
    "TmdbMovie",
    "TmdbMovieDetail",
    "TmdbPage",
]
