"""What the recommendations service consumes: the events its taste profiles are built from
(a "not interested" mark among them: never recommended), account deletions, and anything that
makes a user's cached recommendations old."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias, get_args

from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlmodel import Session

from recommendations import profile, top_picks
from recommendations.service import Recommender
from shared.bus import Subscription
from shared.bus.bus import TransientError
from shared.events import (
    CatalogTrendingRefreshed,
    CatalogViewerChanged,
    EventEnvelope,
    FavoriteAdded,
    FavoriteRemoved,
    HistoryAdded,
    HistoryRemoved,
    ListItemAdded,
    ListItemRemoved,
    NotInterestedAdded,
    NotInterestedRemoved,
    RatingRemoved,
    RatingSet,
    UserDeleted,
    UserPreferencesChanged,
    WatchlistAdded,
    WatchlistRemoved,
)
from shared.inbox import handle_once
from shared.pagecache import UserPageCache

CONSUMER = "recommendations"


@dataclass(frozen=True, slots=True)
class SignalChange:
    user_id: uuid.UUID
    movie_id: int
    kind: str
    at: datetime
    added: bool
    score: float | None = None


SignalEvent: TypeAlias = (
    FavoriteAdded
    | FavoriteRemoved
    | RatingSet
    | RatingRemoved
    | HistoryAdded
    | HistoryRemoved
    | WatchlistAdded
    | WatchlistRemoved
    | NotInterestedAdded
    | NotInterestedRemoved
    | ListItemAdded
    | ListItemRemoved
)
SIGNAL_EVENTS: tuple[type[SignalEvent], ...] = get_args(SignalEvent)


def signal_change(event: SignalEvent) -> SignalChange:
    """What a favorite, rating or history event changes in the taste profile."""
    match event:
        case FavoriteAdded() | FavoriteRemoved():
            return SignalChange(
                event.user_id,
                event.movie_id,
                profile.FAVORITE,
                event.at,
                added=isinstance(event, FavoriteAdded),
            )
        case RatingSet():
            return SignalChange(
                event.user_id,
                event.movie_id,
                profile.RATING,
                event.at,
                added=True,
                score=event.score,
            )
        case RatingRemoved():
            return SignalChange(
                event.user_id, event.movie_id, profile.RATING, event.at, added=False
            )
        case HistoryAdded():
            return SignalChange(
                event.user_id, event.movie_id, profile.WATCHED, event.watched_at, added=True
            )
        case HistoryRemoved():
            return SignalChange(
                event.user_id, event.movie_id, profile.WATCHED, event.at, added=False
            )
        case WatchlistAdded() | WatchlistRemoved():
            return SignalChange(
                event.user_id,
                event.movie_id,
                profile.WATCHLIST,
                event.at,
                added=isinstance(event, WatchlistAdded),
            )
        case NotInterestedAdded() | NotInterestedRemoved():
            return SignalChange(
                event.user_id,
                event.movie_id,
                profile.NOT_INTERESTED,
                event.at,
                added=isinstance(event, NotInterestedAdded),
            )
        case ListItemAdded() | ListItemRemoved():
            # One signal per title however many lists hold it: it goes with the last one
            return SignalChange(
                event.user_id,
                event.movie_id,
                profile.LISTED,
                event.at,
                added=isinstance(event, ListItemAdded) or event.still_listed,
            )
    raise TypeError(f"not a taste signal: {event.event_type}")


def subscription(
    *, engine: Engine, cache: UserPageCache, recommender: Recommender | None = None
) -> Subscription:
    subscription = Subscription(CONSUMER)

    async def drop(user_id: uuid.UUID) -> None:
        try:
            await cache.drop(user_id)
        except RedisError as exc:
            raise TransientError("Redis unavailable") from exc

    async def on_signal(event: SignalEvent, envelope: EventEnvelope) -> None:
        """Favorites, ratings and viewings all become taste signals the same way."""
        change = signal_change(event)

        def effect(session: Session) -> None:
            if change.added:
                profile.signal_added(
                    session,
                    user_id=change.user_id,
                    movie_id=change.movie_id,
                    kind=change.kind,
                    at=change.at,
                    score=change.score,
                )
            else:
                profile.signal_removed(
                    session,
                    user_id=change.user_id,
                    movie_id=change.movie_id,
                    kind=change.kind,
                    at=change.at,
                )

        await handle_once(engine, consumer=CONSUMER, envelope=envelope, effect=effect)
        await drop(change.user_id)

    for signal_event in SIGNAL_EVENTS:
        subscription.on(signal_event)(on_signal)

    @subscription.on(UserPreferencesChanged)
    async def on_preferences_changed(
        event: UserPreferencesChanged, envelope: EventEnvelope
    ) -> None:
        genres = list(event.preferences.genres)

        def effect(session: Session) -> None:
            profile.preferences_changed(
                session,
                user_id=event.user_id,
                genres=genres,
                include_adult=event.preferences.include_adult,
                at=envelope.occurred_at,
            )

        await handle_once(engine, consumer=CONSUMER, envelope=envelope, effect=effect)
        await drop(event.user_id)

    @subscription.on(CatalogViewerChanged)
    async def on_viewer_changed(event: CatalogViewerChanged, _: EventEnvelope) -> None:
        # The catalog now answers by the user's new preferences: a list ranked in between from
        # its old answers (other titles, another language) goes. Idempotent by nature.
        await drop(event.user_id)

    @subscription.on(UserDeleted)
    async def on_user_deleted(event: UserDeleted, envelope: EventEnvelope) -> None:
        await handle_once(
            engine,
            consumer=CONSUMER,
            envelope=envelope,
            effect=lambda s: profile.forget(s, user_id=event.user_id),
            alone=True,  # it holds the user's lock alone: never in a batch holding others'
        )
        await drop(event.user_id)

    @subscription.on(CatalogTrendingRefreshed)
    async def on_trending_refreshed(event: CatalogTrendingRefreshed, _: EventEnvelope) -> None:
        try:
            await cache.drop_all()
        except RedisError as exc:
            raise TransientError("Redis unavailable") from exc
        if recommender is not None and event.window == "week":
            await top_picks.refresh(engine, recommender)

    return subscription
