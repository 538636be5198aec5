"""What the notifications service consumes: who wants what and who is gone (auth's events),
what is new in trending (the catalog's refreshes) and in users' recommendations, the end of
users' imports, and titles on watchlists becoming watchable (releases.py). Each notification
goes to the user's webhooks too."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlmodel import Session

from notifications import live, releases, service, webhooks
from notifications.config import NotificationsSettings
from shared.bus import Subscription
from shared.bus.bus import TransientError
from shared.catalog_client import CatalogClient
from shared.catalog_models import MovieBrief
from shared.db import in_session
from shared.errors import DependencyUnavailable
from shared.events import (
    CatalogReleaseAvailable,
    CatalogTrendingRefreshed,
    EventEnvelope,
    ImportFinished,
    RecommendationsUpdated,
    UserDeleted,
    UserPreferencesChanged,
    UserRegistered,
    WatchlistAdded,
    WatchlistRemoved,
)
from shared.inbox import handle_once

CONSUMER = "notifications"
logger = logging.getLogger(__name__)


Deliver = Callable[[EventEnvelope, Callable[[Session], list[service.Delivered]]], Awaitable[None]]


def subscription(
    *, engine: Engine, redis: Redis, catalog: CatalogClient, settings: NotificationsSettings
) -> Subscription:
    subscription = Subscription(CONSUMER)
    deliver = _deliverer(engine, redis)
    _account_handlers(subscription, engine, deliver, settings)
    _news_handlers(subscription, engine, catalog, deliver, settings)
    _import_handlers(subscription, deliver, settings)
    _release_handlers(subscription, engine, catalog, deliver, settings)
    return subscription


def _deliverer(engine: Engine, redis: Redis) -> Deliver:
    """Write notifications once per event, with their webhook deliveries in the same
    transaction, then publish them live."""

    async def deliver(
        envelope: EventEnvelope, write: Callable[[Session], list[service.Delivered]]
    ) -> None:
        written: list[service.Delivered] = []

        def effect(session: Session) -> None:  # may run twice: the run that committed counts
            written[:] = write(session)
            webhooks.enqueue(
                session,
                event="notification.created",
                items=[(d.user_id, d.notification_id, d.payload.decode()) for d in written],
            )

        # Alone: writing notifications takes their users' turns (service.in_turn), in user
        # order within a statement; two shared transactions could take them in opposite ones.
        await handle_once(engine, consumer=CONSUMER, envelope=envelope, effect=effect, alone=True)
        # Stored already: if Redis is down, open streams find them at their next look at the
        # database, and a reconnect with Last-Event-ID gets them from there.
        try:
            await live.publish(redis, written)
        except RedisError as exc:
            logger.warning(
                "%d notifications stored but not published live (%s): open streams get them "
                "at their next look at the database",
                len(written),
                type(exc).__name__,
            )

    return deliver


def _account_handlers(
    subscription: Subscription, engine: Engine, deliver: Deliver, settings: NotificationsSettings
) -> None:
    """Who wants what, from auth's events, and who is gone."""

    @subscription.on(UserRegistered)
    async def on_registered(event: UserRegistered, envelope: EventEnvelope) -> None:

        def subscribe(session: Session) -> list[service.Delivered]:
            service.subscribe(session, user_id=event.user_id, at=envelope.occurred_at)
            return service.catch_up(session, user_id=event.user_id, keep=settings.history_per_user)

        await deliver(envelope, subscribe)

    @subscription.on(UserPreferencesChanged)
    async def on_preferences_changed(
        event: UserPreferencesChanged, envelope: EventEnvelope
    ) -> None:
        await handle_once(
            engine,
            consumer=CONSUMER,
            envelope=envelope,
            effect=lambda s: service.update_preferences(
                s, user_id=event.user_id, preferences=event.preferences, at=envelope.occurred_at
            ),
        )

    @subscription.on(UserDeleted)
    async def on_user_deleted(event: UserDeleted, envelope: EventEnvelope) -> None:
        await handle_once(
            engine,
            consumer=CONSUMER,
            envelope=envelope,
            effect=lambda s: service.forget(s, user_id=event.user_id),
            alone=True,  # it takes the user's turn too (deleting it)
        )


def _news_handlers(
    subscription: Subscription,
    engine: Engine,
    catalog: CatalogClient,
    deliver: Deliver,
    settings: NotificationsSettings,
) -> None:
    """What is new in trending (the catalog's refreshes) and in users' recommendations."""

    @subscription.on(CatalogTrendingRefreshed)
    async def on_trending_refreshed(
        event: CatalogTrendingRefreshed, envelope: EventEnvelope
    ) -> None:
        if event.window != settings.trending_window or not event.new_movie_ids:
            return
        movies = await _movies(catalog, event.new_movie_ids, event.new_movies)
        languages = await asyncio.to_thread(in_session, engine, service.trending_languages)
        movies = await _with_titles_in(catalog, movies, languages)

        def fan_out(session: Session) -> list[service.Delivered]:
            service.remember_refresh(
                session,
                event_id=envelope.event_id,
                refreshed_at=event.refreshed_at,
                movies=movies,
            )
            return service.fan_out_trending(
                session,
                event_id=envelope.event_id,
                refreshed_at=event.refreshed_at,
                movies=movies,
                keep=settings.history_per_user,
            )

        await deliver(envelope, fan_out)

    @subscription.on(RecommendationsUpdated)
    async def on_recommendations_updated(
        event: RecommendationsUpdated, envelope: EventEnvelope
    ) -> None:
        # The recommendations service names them as the catalog does for this user
        movies = await _movies(
            catalog, event.new_movie_ids, event.new_movies, viewer=str(event.user_id)
        )
        await deliver(
            envelope,
            lambda s: service.notify_recommendations(
                s,
                event_id=envelope.event_id,
                user_id=event.user_id,
                movies=movies,
                keep=settings.history_per_user,
            ),
        )


def _import_handlers(
    subscription: Subscription, deliver: Deliver, settings: NotificationsSettings
) -> None:
    """The end of a user's import: a notification, and an `import.finished` delivery."""

    @subscription.on(ImportFinished)
    async def on_import_finished(event: ImportFinished, envelope: EventEnvelope) -> None:
        summary = orjson.dumps(
            event.model_dump(
                mode="json", include={"import_id", "source", "status", "matched", "unmatched"}
            )
        ).decode()

        def finished(session: Session) -> list[service.Delivered]:
            webhooks.enqueue(
                session, event="import.finished", items=[(event.user_id, event.import_id, summary)]
            )
            return service.import_finished(
                session,
                event_id=envelope.event_id,
                user_id=event.user_id,
                source=event.source,
                succeeded=event.status == "done",
                matched=event.matched,
                unmatched=event.unmatched,
                keep=settings.history_per_user,
            )

        await deliver(envelope, finished)


def _release_handlers(
    subscription: Subscription,
    engine: Engine,
    catalog: CatalogClient,
    deliver: Deliver,
    settings: NotificationsSettings,
) -> None:
    """Watchlists (the titles users wait for) and the catalog's news of their releases."""

    @subscription.on(WatchlistAdded)
    async def on_watchlist_added(event: WatchlistAdded, envelope: EventEnvelope) -> None:
        await handle_once(
            engine,
            consumer=CONSUMER,
            envelope=envelope,
            effect=lambda s: releases.watchlisted(
                s, user_id=event.user_id, movie_id=event.movie_id, at=event.at
            ),
        )

    @subscription.on(WatchlistRemoved)
    async def on_watchlist_removed(event: WatchlistRemoved, envelope: EventEnvelope) -> None:
        await handle_once(
            engine,
            consumer=CONSUMER,
            envelope=envelope,
            effect=lambda s: releases.unwatchlisted(
                s, user_id=event.user_id, movie_id=event.movie_id, at=event.at
            ),
        )

    @subscription.on(CatalogReleaseAvailable)
    async def on_release_available(event: CatalogReleaseAvailable, envelope: EventEnvelope) -> None:
        languages = await asyncio.to_thread(
            in_session, engine, releases.waiting_languages, movie_id=event.movie_id
        )
        named = await _with_titles_in(
            catalog, [{"id": event.movie_id, "title": event.title}], languages
        )
        news = orjson.dumps(
            {
                **event.model_dump(
                    mode="json",
                    include={"movie_id", "title", "region", "kind", "available_on"},
                ),
                "provider": (
                    {"id": event.provider_id, "name": event.provider_name}
                    if event.provider_id is not None
                    else None
                ),
            }
        ).decode()

        def fan_out(session: Session) -> list[service.Delivered]:
            written = releases.fan_out(
                session,
                event_id=envelope.event_id,
                movie_id=event.movie_id,
                title=event.title,
                titles=named[0].get("titles") or {},
                region=event.region,
                kind=event.kind,
                provider_id=event.provider_id,
                provider_name=event.provider_name,
                observed_at=event.observed_at,
                keep=settings.history_per_user,
            )
            webhooks.enqueue(
                session,
                event="release.available",
                items=[(d.user_id, d.notification_id, news) for d in written],
            )
            return written

        await deliver(envelope, fan_out)


TRANSLATIONS_WAIT_S = 3.0


async def _with_titles_in(
    catalog: CatalogClient,
    movies: list[dict[str, Any]],
    languages: list[str],
    wait_s: float = TRANSLATIONS_WAIT_S,
) -> list[dict[str, Any]]:
    """The movies with their titles in each of these languages (`titles`), as the catalog
    names them there. A language the catalog cannot answer for within `wait_s` keeps the
    titles the event carries: the notification is not held back for a translation."""
    ids = [movie["id"] for movie in movies]
    if not ids or not languages:
        return movies
    asked = {
        asyncio.ensure_future(catalog.movies(ids, language=language)): language
        for language in languages
    }
    try:
        done, late = await asyncio.wait(asked, timeout=wait_s)
    finally:  # cancelled, or out of time: no call outlives this
        for task in asked:
            task.cancel()
    for task in late:
        logger.warning("trending titles in %r not named within %g s", asked[task], wait_s)
    await asyncio.gather(*late, return_exceptions=True)
    titles: dict[int, dict[str, str]] = {movie_id: {} for movie_id in ids}
    for task in done:
        if isinstance(task.exception(), DependencyUnavailable):
            logger.warning("trending titles in %r unavailable: catalog unavailable", asked[task])
            continue
        for found in task.result().results:  # another error is raised here, retried by the bus
            if found.id in titles and found.title:
                titles[found.id][asked[task]] = found.title
    return [{**movie, "titles": titles[movie["id"]]} for movie in movies]


async def _movies(
    catalog: CatalogClient,
    movie_ids: list[int],
    briefs: list[MovieBrief],
    *,
    viewer: str | None = None,
) -> list[dict[str, Any]]:
    """Titles and genres of the movies, in the given order: as the event carries them, or
    (an event from before they carried them) from the catalog, whose being down is retried."""
    if briefs:
        by_id = {brief.id: brief.model_dump() for brief in briefs}
    else:
        try:
            found = await catalog.movies(movie_ids[:100], viewer=viewer)
        except Exception as exc:
            raise TransientError("catalog unavailable") from exc
        by_id = {movie.id: movie.model_dump(mode="json") for movie in found.results}
    return [by_id[movie_id] for movie_id in movie_ids if movie_id in by_id]
