"""What the catalog consumes: cache invalidation on catalog events, users' adult preference."""

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlmodel import Session

from catalog.cache import CatalogCache
from catalog.community import CommunityMirror, apply_delta, community_key
from catalog.preferences import AdultViewers
from catalog.service import MAX_PAGE, movie_key, trending_key
from shared.bus import Subscription
from shared.bus.bus import TransientError
from shared.events import (
    CatalogMovieUpdated,
    CatalogTrendingRefreshed,
    EventEnvelope,
    RatingRemoved,
    RatingSet,
    UserPreferencesChanged,
)
from shared.inbox import handle_once

logger = logging.getLogger(__name__)
DERIVED_PAGES = 5  # similar and recommendations pages cached per movie
CONSUMER = "catalog"


def subscription(
    *,
    cache: CatalogCache,
    redis: Redis,
    engine: Engine,
    mirror: CommunityMirror,
    viewers: AdultViewers,
) -> Subscription:
    subscription = Subscription(CONSUMER)

    async def apply_rating(
        envelope: EventEnvelope, movie_id: int, sum_delta: float, count_delta: int
    ) -> None:
        outcome: list[tuple[int, bytes]] = []

        def effect(session: Session) -> None:
            outcome.append(
                apply_delta(
                    session, movie_id=movie_id, sum_delta=sum_delta, count_delta=count_delta
                )
            )

        await handle_once(engine, consumer=CONSUMER, envelope=envelope, effect=effect)
        if outcome:
            try:
                await mirror.publish(movie_id, *outcome[0])
            except RedisError:
                # The mirror is a copy: a reader falls back to the database and mirrors it again.
                await cache.delete(community_key(movie_id))

    @subscription.on(RatingSet)
    async def on_rating_set(event: RatingSet, envelope: EventEnvelope) -> None:
        if event.previous_score is None:
            await apply_rating(envelope, event.movie_id, event.score, 1)
        else:
            await apply_rating(envelope, event.movie_id, event.score - event.previous_score, 0)

    @subscription.on(RatingRemoved)
    async def on_rating_removed(event: RatingRemoved, envelope: EventEnvelope) -> None:
        await apply_rating(envelope, event.movie_id, -event.score, -1)

    @subscription.on(CatalogTrendingRefreshed)
    async def on_trending_refreshed(event: CatalogTrendingRefreshed, _: EventEnvelope) -> None:
        # Page 1 was just replaced; later pages were cut from the old list and are dropped.
        await cache.delete(*(trending_key(event.window, page) for page in range(2, MAX_PAGE + 1)))
        logger.info("trending pages dropped after refresh", extra={"window": event.window})

    @subscription.on(CatalogMovieUpdated)
    async def on_movie_updated(event: CatalogMovieUpdated, _: EventEnvelope) -> None:
        movie_id = event.movie_id
        await cache.delete(
            movie_key(movie_id),
            *(f"catalog:v1:similar:{movie_id}:{page}" for page in range(1, DERIVED_PAGES + 1)),
            *(
                f"catalog:v1:recommendations:{movie_id}:{page}"
                for page in range(1, DERIVED_PAGES + 1)
            ),
        )

    @subscription.on(UserPreferencesChanged)
    async def on_preferences_changed(
        event: UserPreferencesChanged, envelope: EventEnvelope
    ) -> None:
        try:
            await handle_once(
                engine,
                consumer=CONSUMER,
                envelope=envelope,
                effect=lambda s: viewers.apply(
                    s,
                    user_id=event.user_id,
                    allowed=bool(event.preferences.get("include_adult")),
                    at=envelope.occurred_at,
                ),
            )
        except RedisError as exc:
            raise TransientError("Redis unavailable") from exc

    return subscription
