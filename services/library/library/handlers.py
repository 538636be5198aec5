"""What the library consumes: users' display names (for review authors) and watchlist
preference, account deletions (everything the user holds goes), and movie updates, which
drop the cached pages of favorites that show the old data."""

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col

from library.account import service as account
from library.reviews.models import UserDirectoryEntry
from library.watchlist import service as watchlist_service
from shared.bus import Subscription
from shared.errors import is_forgotten_account
from shared.events import (
    CatalogMovieUpdated,
    CatalogViewerChanged,
    EventEnvelope,
    UserDeleted,
    UserPreferencesChanged,
    UserRegistered,
)
from shared.inbox import handle_once
from shared.pagecache import UserPageCache

logger = logging.getLogger(__name__)

CONSUMER = "library"


def _remember(session: Session, *, user_id: object, display_name: str, at: datetime) -> None:
    statement = insert(UserDirectoryEntry).values(
        user_id=user_id, display_name=display_name, updated_at=at
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id"],
            set_={
                "display_name": statement.excluded.display_name,
                "updated_at": statement.excluded.updated_at,
            },
            where=col(UserDirectoryEntry.updated_at) < statement.excluded.updated_at,
        )
    )


def subscription(*, engine: Engine, pages: UserPageCache) -> Subscription:
    subscription = Subscription(CONSUMER)

    async def apply_for_user(envelope: EventEnvelope, effect: Callable[[Session], None]) -> None:
        """An event about a user, applied once; nothing for an account deleted meanwhile (the
        tombstone's trigger refuses the write: a late event must not bring the user back)."""
        try:
            await handle_once(engine, consumer=CONSUMER, envelope=envelope, effect=effect)
        except DBAPIError as exc:
            if not is_forgotten_account(exc):
                raise
            logger.info("event for a deleted account ignored", extra={"type": envelope.type})

    @subscription.on(UserRegistered)
    async def on_registered(event: UserRegistered, envelope: EventEnvelope) -> None:
        await apply_for_user(
            envelope,
            lambda s: _remember(
                s, user_id=event.user_id, display_name=event.display_name, at=envelope.occurred_at
            ),
        )

    @subscription.on(UserPreferencesChanged)
    async def on_preferences_changed(
        event: UserPreferencesChanged, envelope: EventEnvelope
    ) -> None:
        # Pages may show or hide adult titles by the new preference: dropped now, and again when
        # the catalog answers by it (catalog.viewer.changed), so a page built in between from
        # the catalog's old answers does not stay. Idempotent by nature; a Redis failure
        # raises, so the event is retried.
        await pages.drop(event.user_id)

        def effect(session: Session) -> None:
            if event.display_name is not None:
                _remember(
                    session,
                    user_id=event.user_id,
                    display_name=event.display_name,
                    at=envelope.occurred_at,
                )
            watchlist_service.set_remove_when_watched(
                session,
                user_id=event.user_id,
                enabled=event.preferences.remove_watched_from_watchlist,
                at=envelope.occurred_at,
            )

        await apply_for_user(envelope, effect)

    @subscription.on(UserDeleted)
    async def on_user_deleted(event: UserDeleted, envelope: EventEnvelope) -> None:
        await handle_once(
            engine,
            consumer=CONSUMER,
            envelope=envelope,
            effect=lambda s: account.forget(s, user_id=event.user_id),
        )
        await pages.drop(event.user_id)

    @subscription.on(CatalogViewerChanged)
    async def on_viewer_changed(event: CatalogViewerChanged, _: EventEnvelope) -> None:
        await pages.drop(event.user_id)  # idempotent; a Redis failure raises (retried)

    @subscription.on(CatalogMovieUpdated)
    async def on_movie_updated(event: CatalogMovieUpdated, _: EventEnvelope) -> None:
        # Idempotent by nature: dropping twice drops nothing more. A Redis failure raises,
        # so the event is retried rather than lost.
        await pages.drop_all()

    return subscription
