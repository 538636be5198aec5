"""TMDb payloads (validated before anything is cached) and the public shapes of movies and
people; the summary, the page and the internal routes' shapes are the shared contract
(shared/catalog_models.py)."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class TmdbFind(_Tmdb):
    """TMDb's /find/{external_id}: what it knows by another site's id (movies only here)."""

    movie_results: list[TmdbMovie] = Field(default_factory=list)


class TmdbCastMember(_Tmdb):
    id: int
    name: str
    character: str | None = None
    profile_path: str | None = None
    order: int = 0


class TmdbCrewMember(_Tmdb):
    id: int
    name: str
    job: str | None = None
    department: str | None = None


class TmdbCredits(_Tmdb):
    cast: list[TmdbCastMember] = Field(default_factory=list)
    crew: list[TmdbCrewMember] = Field(default_factory=list)


class TmdbVideo(_Tmdb):
    site: str
    key: str
    type: str | None = None
    official: bool = False
    name: str | None = None
    published_at: str | None = None


class TmdbVideos(_Tmdb):
    results: list[TmdbVideo] = Field(default_factory=list)


class TmdbReleaseDate(_Tmdb):
    certification: str | None = None
    type: int | None = None
    release_date: str | None = None  # ISO 8601, "2026-12-18T00:00:00.000Z"


class TmdbCountryReleases(_Tmdb):
    iso_3166_1: str
    release_dates: list[TmdbReleaseDate] = Field(default_factory=list)


class TmdbReleaseDates(_Tmdb):
    results: list[TmdbCountryReleases] = Field(default_factory=list)


class TmdbProvider(_Tmdb):
    provider_id: int
    provider_name: str
    logo_path: str | None = None
    display_priority: int = 0


class TmdbRegionProviders(_Tmdb):
    link: str | None = None
    flatrate: list[TmdbProvider] = Field(default_factory=list)
    rent: list[TmdbProvider] = Field(default_factory=list)
    buy: list[TmdbProvider] = Field(default_factory=list)


class TmdbWatchProviders(_Tmdb):
    results: dict[str, TmdbRegionProviders] = Field(default_factory=dict)


class TmdbExternalIds(_Tmdb):
    imdb_id: str | None = None


class TmdbKeyword(_Tmdb):
    id: int
    name: str


class TmdbKeywords(_Tmdb):
    keywords: list[TmdbKeyword] = Field(default_factory=list)


class TmdbCollectionRef(_Tmdb):
    id: int = Field(gt=0)
    name: str


class TmdbCollection(_Tmdb):
    id: int = Field(gt=0)
    name: str
    parts: list[TmdbMovie] = Field(default_factory=list)


class TmdbPerson(_Tmdb):
    id: int = Field(gt=0)
    name: str
    biography: str | None = None
    birthday: str | None = None
    place_of_birth: str | None = None
    profile_path: str | None = None
    known_for_department: str | None = None


class TmdbPersonListItem(_Tmdb):
    id: int = Field(gt=0)
    name: str
    profile_path: str | None = None
    known_for_department: str | None = None
    adult: bool = False


class TmdbPeoplePage(_Tmdb):
    page: int = Field(ge=1)
    results: list[TmdbPersonListItem]
    total_pages: int = Field(ge=0)
    total_results: int = Field(ge=0)


class TmdbCastCredit(TmdbMovie):
    character: str | None = None


class TmdbCrewCredit(TmdbMovie):
    job: str | None = None


class TmdbPersonCredits(_Tmdb):
    cast: list[TmdbCastCredit] = Field(default_factory=list)
    crew: list[TmdbCrewCredit] = Field(default_factory=list)


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
    belongs_to_collection: TmdbCollectionRef | None = None
    # append_to_response parts, under TMDb's names
    credits: TmdbCredits | None = None
    videos: TmdbVideos | None = None
    release_dates: TmdbReleaseDates | None = None
    watch_providers: TmdbWatchProviders | None = Field(None, alias="watch/providers")
    external_ids: TmdbExternalIds | None = None
    keywords: TmdbKeywords | None = None


class TmdbGenreList(_Tmdb):
    genres: list[TmdbGenre]


# --- what clients get -----------------------------------------------------------------------
class Genre(BaseModel):
    id: int
    name: str


class CommunityRating(BaseModel):
    average: float | None = Field(description="Mean score of this system's users, or null")
    count: int


class CastMember(BaseModel):
    id: int
    name: str
    character: str | None
    profile_url: str | None
    order: int


class CrewMember(BaseModel):
    id: int
    name: str
    job: str | None
    department: str | None


class Credits(BaseModel):
    cast: list[CastMember] = Field(description="Top-billed cast, in billing order")
    crew: list[CrewMember] = Field(description="Directors and writers")


class Video(BaseModel):
    site: str = Field(description="YouTube or Vimeo")
    key: str
    url: str
    type: str
    official: bool
    name: str | None


class Provider(BaseModel):
    id: int
    name: str
    logo_url: str | None


class WatchProviders(BaseModel):
    region: str
    link: str | None = Field(description="TMDb's JustWatch page for the region, or null")
    flatrate: list[Provider]
    rent: list[Provider]
    buy: list[Provider]
    mine: list[Provider] = Field(
        default_factory=list,
        description="Of `flatrate`, the services the signed-in user has (preferences.providers)",
    )


class Keyword(BaseModel):
    id: int
    name: str


class ExternalIds(BaseModel):
    imdb_id: str | None


class Collection(BaseModel):
    id: int
    name: str
    parts: list[MovieSummary]


DETAIL_PARTS = (
    "credits",
    "videos",
    "watch_providers",
    "certification",
    "collection",
    "external_ids",
    "keywords",
)


class MovieDetail(MovieSummary):
    genres: list[Genre]
    runtime: int | None = Field(description="Minutes, or null when unknown")
    tagline: str | None
    status: str | None
    original_language: str | None
    backdrop_url: str | None
    community_rating: CommunityRating
    # The included parts (?include=; all of them without it)
    credits: Credits | None = None
    videos: list[Video] | None = Field(None, description="Trailers and teasers, official first")
    watch_providers: WatchProviders | None = Field(None, description="For the answer's region")
    certification: str | None = Field(None, description="For the answer's region, or null")
    collection: Collection | None = None
    external_ids: ExternalIds | None = None
    keywords: list[Keyword] | None = None

    @classmethod
    def base_fields(cls) -> tuple[str, ...]:
        """What is cached as the details' object: all but the parts and the community rating,
        which are joined in per answer."""
        return tuple(
            name
            for name in cls.model_fields
            if name not in DETAIL_PARTS and name != "community_rating"
        )


class MoviePage(Page[MovieSummary]):
    pass


class Person(BaseModel):
    id: int
    name: str
    biography: str
    birthday: date | None
    place_of_birth: str | None
    profile_url: str | None
    known_for_department: str | None

    @field_validator("birthday", mode="before")
    @classmethod
    def _unknown_date_is_null(cls, value: object) -> object:
        try:
            return date.fromisoformat(str(value)) if value else None
        except ValueError:
            return None


class PersonCredit(MovieSummary):
    character: str | None = Field(None, description="Who they played, for an acting credit")
    job: str | None = Field(None, description="What they did, for a crew credit")


class PersonCreditPage(Page[PersonCredit]):
    pass


class MovieResult(MovieSummary):
    type: Literal["movie"] = "movie"


class PersonResult(BaseModel):
    type: Literal["person"] = "person"
    id: int
    name: str
    profile_url: str | None
    known_for_department: str | None


class SearchPage(Page[MovieResult | PersonResult]):
    pass


__all__ = [
    "DETAIL_PARTS",
    "CastMember",
    "Collection",
    "CommunityRating",
    "Credits",
    "CrewMember",
    "ExternalIds",
    "Genre",
    "Keyword",
    "MovieBatch",
    "MovieDetail",
    "MovieList",
    "MoviePage",
    "MovieResult",
    "MovieSummary",
    "Person",
    "PersonCredit",
    "PersonCreditPage",
    "PersonResult",
    "Provider",
    "RelatedIds",
    "RelatedLists",
    "SearchPage",
    "TmdbCastCredit",
    "TmdbCollection",
    "TmdbCrewCredit",
    "TmdbFind",
    "TmdbGenre",
    "TmdbGenreList",
    "TmdbMovie",
    "TmdbMovieDetail",
    "TmdbPage",
    "TmdbPeoplePage",
    "TmdbPerson",
    "TmdbPersonCredits",
    "TmdbProvider",
    "TmdbReleaseDate",
    "Video",
    "WatchProviders",
]
