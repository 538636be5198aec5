"""What the catalog consumes: cache invalidation on catalog events, users' preferences
(adult titles, language, region, services), the titles users watch (for the release check)
and account deletions."""

import logging
from collections.abc import Callable

from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlmodel import Session

from catalog import release_check
from catalog.community import CommunityMirror, apply_delta, community_key
from catalog.events import PRODUCER
from catalog.keys import MAX_PAGE
from catalog.locale import DEFAULT_LOCALE
from catalog.preferences import Viewers
from catalog.service import Catalog
from shared.bus import Subscription
from shared.bus.bus import TransientError
from shared.events import (
    CatalogMovieUpdated,
    CatalogTrendingRefreshed,
    CatalogViewerChanged,
    EventEnvelope,
    FavoriteAdded,
    FavoriteRemoved,
    RatingRemoved,
    RatingSet,
    UserDeleted,
    UserPreferencesChanged,
    WatchlistAdded,
    WatchlistRemoved,
)
from shared.inbox import handle_once
from shared.outbox import add_event

logger = logging.getLogger(__name__)
CONSUMER = "catalog"


def subscription(
    *, catalog: Catalog, engine: Engine, mirror: CommunityMirror, viewers: Viewers
) -> Subscription:
    subscription = Subscription(CONSUMER)
    _community_ratings(subscription, catalog=catalog, engine=engine, mirror=mirror)
    _invalidations(subscription, catalog=catalog)
    _viewers(subscription, engine=engine, viewers=viewers)
    _watched_titles(subscription, engine=engine)
    return subscription


def _community_ratings(
    subscription: Subscription, *, catalog: Catalog, engine: Engine, mirror: CommunityMirror
) -> None:
    """Each rating event moves its movie's community rating, once (the inbox)."""

    async def apply_rating(
        envelope: EventEnvelope, movie_id: int, sum_delta: float, count_delta: int
    ) -> None:
        outcome: list[Callable[[], tuple[int, bytes] | None]] = []

        def effect(session: Session) -> None:  # may run twice: the run that committed counts
            outcome[:] = [
                apply_delta(
                    session, movie_id=movie_id, sum_delta=sum_delta, count_delta=count_delta
                )
            ]

        await handle_once(engine, consumer=CONSUMER, envelope=envelope, effect=effect)
        written = outcome[0]() if outcome else None
        if written is not None:
            try:
                await mirror.publish(movie_id, *written)
            except RedisError:
                # The mirror is a copy: a reader falls back to the database and mirrors it again.
                await catalog.cache.delete(community_key(movie_id))

    @subscription.on(RatingSet)
    async def on_rating_set(event: RatingSet, envelope: EventEnvelope) -> None:
        if event.previous_score is None:
            await apply_rating(envelope, event.movie_id, event.score, 1)
        else:
            await apply_rating(envelope, event.movie_id, event.score - event.previous_score, 0)

    @subscription.on(RatingRemoved)
    async def on_rating_removed(event: RatingRemoved, envelope: EventEnvelope) -> None:
        await apply_rating(envelope, event.movie_id, -event.score, -1)


def _invalidations(subscription: Subscription, *, catalog: Catalog) -> None:
    """Refreshes announced by any replica drop the cached answers they made old."""

    @subscription.on(CatalogTrendingRefreshed)
    async def on_trending_refreshed(event: CatalogTrendingRefreshed, _: EventEnvelope) -> None:
        # Page 1 in the default language was just replaced; every other page was cut from the
        # old list and is dropped.
        languages = {locale.language for locale in await catalog.cached_locales()}
        await catalog.cache.delete(
            *(
                catalog.keys.trending(event.window, page, language)
                for language in sorted(languages)
                for page in range(1 if language != DEFAULT_LOCALE.language else 2, MAX_PAGE + 1)
            )
        )
        logger.info("trending pages dropped after refresh", extra={"window": event.window})

    @subscription.on(CatalogMovieUpdated)
    async def on_movie_updated(event: CatalogMovieUpdated, _: EventEnvelope) -> None:
        await catalog.cache.delete(
            *catalog.keys.of_movie(event.movie_id, await catalog.cached_locales())
        )


def _viewers(subscription: Subscription, *, engine: Engine, viewers: Viewers) -> None:
    """Users' preferences (adult titles, language, region) and deletions (preferences.py)."""

    @subscription.on(UserPreferencesChanged)
    async def on_preferences_changed(
        event: UserPreferencesChanged, envelope: EventEnvelope
    ) -> None:
        def effect(session: Session) -> None:
            if viewers.apply(
                session,
                user_id=event.user_id,
                preferences=event.preferences,
                at=envelope.occurred_at,
            ):  # the services that cached pages from the old answers drop them now
                add_event(
                    session,
                    CatalogViewerChanged(user_id=event.user_id, changed_at=envelope.occurred_at),
                    producer=PRODUCER,
                )

        try:
            await handle_once(engine, consumer=CONSUMER, envelope=envelope, effect=effect)
        except RedisError as exc:
            raise TransientError("Redis unavailable") from exc

    @subscription.on(UserDeleted)
    async def on_user_deleted(event: UserDeleted, envelope: EventEnvelope) -> None:
        try:
            await handle_once(
                engine,
                consumer=CONSUMER,
                envelope=envelope,
                effect=lambda s: _forget(s, viewers, event, envelope),
                alone=True,  # it holds the user's lock: never in a batch holding others'
            )
        except RedisError as exc:
            raise TransientError("Redis unavailable") from exc


def _forget(
    session: Session, viewers: Viewers, event: UserDeleted, envelope: EventEnvelope
) -> None:
    release_check.hold_watcher(session, user_id=event.user_id)
    viewers.forget(session, user_id=event.user_id, at=envelope.occurred_at)
    release_check.forget_watcher(session, user_id=event.user_id)


def _watched_titles(subscription: Subscription, *, engine: Engine) -> None:
    """Titles on watchlists and among favorites: the ones the release check looks at."""

    def on_list(
        list_: str,
        added: type[WatchlistAdded | FavoriteAdded],
        removed: type[WatchlistRemoved | FavoriteRemoved],
    ) -> None:
        @subscription.on(added)
        async def on_added(event: WatchlistAdded | FavoriteAdded, envelope: EventEnvelope) -> None:
            await handle_once(
                engine,
                consumer=CONSUMER,
                envelope=envelope,
                effect=lambda s: release_check.watch(
                    s, user_id=event.user_id, movie_id=event.movie_id, list_=list_, at=event.at
                ),
            )

        @subscription.on(removed)
        async def on_removed(
            event: WatchlistRemoved | FavoriteRemoved, envelope: EventEnvelope
        ) -> None:
            await handle_once(
                engine,
                consumer=CONSUMER,
                envelope=envelope,
                effect=lambda s: release_check.unwatch(
                    s, user_id=event.user_id, movie_id=event.movie_id, list_=list_
                ),
            )

    on_list("watchlist", WatchlistAdded, WatchlistRemoved)
    on_list("favorites", FavoriteAdded, FavoriteRemoved)
