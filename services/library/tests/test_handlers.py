"""What the library service does with the events it consumes."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine

from library.handlers import subscription
from shared.events import CatalogMovieUpdated, wrap
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
