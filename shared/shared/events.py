"""Event contracts: the envelope and one Pydantic model per event type.

Names are in the past tense. Fields are only ever added, never renamed or removed; a
breaking change is a new `version`, which consumers that do not know it dead-letter.
"""

import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from shared.catalog_models import MovieBrief
from shared.context import current_correlation_id


class IntegrationEvent(BaseModel):
    """Base of every event's data; `event_type` doubles as the routing key."""

    model_config = ConfigDict(frozen=True)
    event_type: ClassVar[str]
    version: ClassVar[int] = 1


class EventEnvelope(BaseModel):
    """What travels on the wire around every event's data."""

    event_id: uuid.UUID = Field(description="Unique id; consumers de-duplicate on it")
    type: str = Field(description="Event type, also the routing key, e.g. favorite.added")
    version: int = Field(1, ge=1, description="Schema version of `data`")
    occurred_at: datetime = Field(description="When the change happened (UTC)")
    correlation_id: str | None = Field(None, description="Request id of the originating action")
    producer: str = Field(description="The service that published it")
    data: dict[str, Any] = Field(description="The event's own fields")

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))


def wrap(event: IntegrationEvent, *, producer: str) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        type=event.event_type,
        version=event.version,
        occurred_at=datetime.now(UTC),
        correlation_id=current_correlation_id(),
        producer=producer,
        data=event.model_dump(mode="json"),
    )


# --- auth -----------------------------------------------------------------------------------
class UserRegistered(IntegrationEvent):
    event_type: ClassVar[str] = "user.registered"
    user_id: uuid.UUID = Field(description="The new user's id")
    display_name: str = Field(description="The name shown to others")
    registered_at: datetime


class NotifyChoices(BaseModel):
    """Which notifications the user wants (both, unless they said otherwise)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    trending: bool = True
    recommendations: bool = True
    releases: bool = False


class UserPreferences(BaseModel):
    """A user's preferences as the events carry them: the one reading every consumer shares.
    Auth validates what users send (its own `Preferences`); here a field a newer producer adds
    is ignored and one an older producer left out takes its default, so the wire format (a
    JSON object) stays as it was. A language or region left out means "the request's own"."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    genres: tuple[int, ...] = ()
    language: str | None = Field(None, pattern=r"^[a-z]{2}$")
    region: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    include_adult: bool = False
    remove_watched_from_watchlist: bool = False
    providers: tuple[int, ...] = ()  # TMDb watch provider ids of the services the user has
    notify: NotifyChoices = NotifyChoices()


class UserPreferencesChanged(IntegrationEvent):
    event_type: ClassVar[str] = "user.preferences_changed"
    user_id: uuid.UUID
    preferences: UserPreferences = Field(description="The full preferences after the change")
    display_name: str | None = Field(None, description="The display name after the change")


class SessionRevoked(IntegrationEvent):
    event_type: ClassVar[str] = "session.revoked"
    user_id: uuid.UUID
    session_ids: list[str] = Field(description="Logins whose tokens no longer work")
    reason: str = Field(description="logout, refresh_reuse or password_changed")


class UserPasswordChanged(IntegrationEvent):
    event_type: ClassVar[str] = "user.password_changed"
    user_id: uuid.UUID
    changed_at: datetime


class UserDeleted(IntegrationEvent):
    """The account is gone: every service removes or anonymises what it holds of the user."""

    event_type: ClassVar[str] = "user.deleted"
    user_id: uuid.UUID
    deleted_at: datetime


# --- favorites ------------------------------------------------------------------------------
class FavoriteAdded(IntegrationEvent):
    event_type: ClassVar[str] = "favorite.added"
    user_id: uuid.UUID
    movie_id: int = Field(gt=0)
    at: datetime = Field(description="When the movie was added")


class FavoriteRemoved(IntegrationEvent):
    event_type: ClassVar[str] = "favorite.removed"
    user_id: uuid.UUID
    movie_id: int = Field(gt=0)
    at: datetime = Field(description="When the movie was removed")


class RatingSet(IntegrationEvent):
    event_type: ClassVar[str] = "rating.set"
    user_id: uuid.UUID
    movie_id: int = Field(gt=0)
    score: float = Field(ge=0.5, le=10, description="The new score")
    previous_score: float | None = Field(None, description="The score it replaced, if any")
    at: datetime


class RatingRemoved(IntegrationEvent):
    event_type: ClassVar[str] = "rating.removed"
    user_id: uuid.UUID
    movie_id: int = Field(gt=0)
    score: float = Field(ge=0.5, le=10, description="The score that was removed")
    at: datetime


class ReviewCreated(IntegrationEvent):
    event_type: ClassVar[str] = "review.created"
    review_id: uuid.UUID
    user_id: uuid.UUID
    movie_id: int = Field(gt=0)
    score: float | None = None
    at: datetime


class ReviewDeleted(IntegrationEvent):
    event_type: ClassVar[str] = "review.deleted"
    review_id: uuid.UUID
    user_id: uuid.UUID
    movie_id: int = Field(gt=0)
    at: datetime


class HistoryAdded(IntegrationEvent):
    event_type: ClassVar[str] = "history.added"
    user_id: uuid.UUID
    movie_id: int = Field(gt=0)
    watched_at: datetime


class HistoryRemoved(IntegrationEvent):
    event_type: ClassVar[str] = "history.removed"
    user_id: uuid.UUID
    movie_id: int = Field(gt=0)
    at: datetime


class WatchlistAdded(IntegrationEvent):
    event_type: ClassVar[str] = "watchlist.added"
    user_id: uuid.UUID
    movie_id: int = Field(gt=0)
    at: datetime


class WatchlistRemoved(IntegrationEvent):
    event_type: ClassVar[str] = "watchlist.removed"
    user_id: uuid.UUID
    movie_id: int = Field(gt=0)
    at: datetime


class NotInterestedAdded(IntegrationEvent):
    """The user does not want this title suggested (Trakt's "hide")."""

    event_type: ClassVar[str] = "not_interested.added"
    user_id: uuid.UUID
    movie_id: int = Field(gt=0)
    at: datetime


class NotInterestedRemoved(IntegrationEvent):
    event_type: ClassVar[str] = "not_interested.removed"
    user_id: uuid.UUID
    movie_id: int = Field(gt=0)
    at: datetime


class ListItemAdded(IntegrationEvent):
    """A title put on one of the user's own lists (a weak taste signal)."""

    event_type: ClassVar[str] = "list.item_added"
    user_id: uuid.UUID
    list_id: uuid.UUID
    movie_id: int = Field(gt=0)
    at: datetime


class ListItemRemoved(IntegrationEvent):
    """A title taken off one of the user's lists (or its list deleted)."""

    event_type: ClassVar[str] = "list.item_removed"
    user_id: uuid.UUID
    list_id: uuid.UUID
    movie_id: int = Field(gt=0)
    still_listed: bool = Field(description="Whether the title is still on another of their lists")
    at: datetime


class ImportFinished(IntegrationEvent):
    """An import of the user's history from another site ended (done, or failed)."""

    event_type: ClassVar[str] = "import.finished"
    user_id: uuid.UUID
    import_id: uuid.UUID
    source: str = Field(description="letterboxd, imdb or trakt")
    status: str = Field(description="done or failed")
    matched: int
    unmatched: int
    at: datetime


# --- recommendations ------------------------------------------------------------------------
class RecommendationsUpdated(IntegrationEvent):
    event_type: ClassVar[str] = "recommendations.updated"
    user_id: uuid.UUID
    new_movie_ids: list[int] = Field(description="Titles that entered the user's top picks")
    new_movies: list[MovieBrief] = Field(
        default_factory=list,
        description="Those titles' names and genres, so a consumer need not ask the catalog "
        "(empty in events from before it was carried)",
    )
    at: datetime


# --- catalog --------------------------------------------------------------------------------
class CatalogTrendingRefreshed(IntegrationEvent):
    event_type: ClassVar[str] = "catalog.trending.refreshed"
    window: str = Field(description="day or week")
    movie_ids: list[int] = Field(description="The first page of trending after the refresh")
    new_movie_ids: list[int] = Field(description="Titles not on the previous first page")
    new_movies: list[MovieBrief] = Field(
        default_factory=list,
        description="Those titles' names and genres (empty in events from before it was carried)",
    )
    refreshed_at: datetime


class CatalogMovieUpdated(IntegrationEvent):
    event_type: ClassVar[str] = "catalog.movie.updated"
    movie_id: int
    updated_at: datetime


class CatalogViewerChanged(IntegrationEvent):
    """The catalog now shows this user titles by their new preferences (the adult filter,
    language, region): pages other services cached from the catalog's answers for them are
    dropped on this, not on `user.preferences_changed`, which they may handle before the
    catalog does and then cache a page built by the old preferences."""

    event_type: ClassVar[str] = "catalog.viewer.changed"
    user_id: uuid.UUID
    changed_at: datetime


class CatalogReleaseAvailable(IntegrationEvent):
    """A watched title became watchable in a region: released in cinemas (`theatrical`), to
    rent or buy (`digital`), or on a streaming service (`streaming`, naming it). Announced once
    per title, region, kind (and provider) by the catalog's scheduled check of the titles on
    users' watchlists and favorites."""

    event_type: ClassVar[str] = "catalog.release.available"
    movie_id: int = Field(gt=0)
    title: str = Field(description="In the catalog's default language")
    region: str = Field(pattern=r"^[A-Z]{2}$")
    kind: Literal["theatrical", "digital", "streaming"]
    provider_id: int | None = Field(None, description="The streaming service (streaming only)")
    provider_name: str | None = None
    available_on: date = Field(description="The release date, or the day it was seen streaming")
    observed_at: datetime = Field(description="When the catalog saw it")


EVENT_TYPES: dict[str, type[IntegrationEvent]] = {
    cls.event_type: cls
    for cls in (
        UserRegistered,
        UserPreferencesChanged,
        SessionRevoked,
        UserPasswordChanged,
        UserDeleted,
        FavoriteAdded,
        FavoriteRemoved,
        RatingSet,
        RatingRemoved,
        ReviewCreated,
        ReviewDeleted,
        HistoryAdded,
        HistoryRemoved,
        WatchlistAdded,
        WatchlistRemoved,
        NotInterestedAdded,
        NotInterestedRemoved,
        ListItemAdded,
        ListItemRemoved,
        ImportFinished,
        RecommendationsUpdated,
        CatalogTrendingRefreshed,
        CatalogMovieUpdated,
        CatalogViewerChanged,
        CatalogReleaseAvailable,
    )
}
