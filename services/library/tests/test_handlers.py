"""What the library service does with the events it consumes."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine

from library.handlers import subscription
from shared.events import CatalogMovieUpdated, CatalogViewerChanged, wrap
from shared.pagecache import FAVORITES_PAGES, UserPageCache
from shared.redis import make_redis
from testsupport.infra import Infra


async def test_a_movie_update_drops_every_cached_page(
    infra: Infra, favorites_engine: Engine
) -> None:
    pages = UserPageCache(make_redis(infra.redis_url), FAVORITES_PAGES, ttl_s=60)
    user = uuid.uuid4()
    lookup = await pages.lookup(user, "1:20")
    await pages.store(user, lookup, {"1:20": b"a page showing the old title"})
    assert (await pages.get(user, "1:20")).body == b"a page showing the old title"

    event = CatalogMovieUpdated(movie_id=7, updated_at=datetime.now(UTC))
    envelope = wrap(event, producer="catalog")
    handler = subscription(engine=favorites_engine, pages=pages).handlers[event.event_type]
    await handler(event, envelope)

    assert (await pages.get(user, "1:20")).body is None


async def test_the_catalog_answering_by_new_preferences_drops_the_users_pages(
    infra: Infra, favorites_engine: Engine
) -> None:
    """A page built between the user's change and the catalog's taking it shows titles by the
    old filter; it goes when the catalog says it answers by the new preferences."""
    pages = UserPageCache(make_redis(infra.redis_url), FAVORITES_PAGES, ttl_s=60)
    user, other = uuid.uuid4(), uuid.uuid4()
    for someone in (user, other):
        await pages.store(someone, await pages.lookup(someone, "1:20"), {"1:20": b"a page"})

    event = CatalogViewerChanged(user_id=user, changed_at=datetime.now(UTC))
    handler = subscription(engine=favorites_engine, pages=pages).handlers[event.event_type]
    await handler(event, wrap(event, producer="catalog"))

    assert (await pages.get(user, "1:20")).body is None
    assert (await pages.get(other, "1:20")).body == b"a page"  # nobody else's
