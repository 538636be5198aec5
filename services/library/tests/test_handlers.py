"""What the library service does with the events it consumes."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine

from library.cache import FavoritePages
from library.handlers import subscription
from shared.events import CatalogMovieUpdated, wrap
from shared.pagecache import page_field
from shared.redis import make_redis
from testsupport.infra import Infra


async def test_a_movie_update_drops_every_cached_page(
    infra: Infra, favorites_engine: Engine
) -> None:
    pages = FavoritePages(make_redis(infra.redis_url), ttl_s=60)
    user = uuid.uuid4()
    lookup = await pages.lookup(user, 1, 20)
    await pages.store(user, lookup, 1, 20, b"a page showing the old title")
    assert await pages.cached(user, 1, 20) == b"a page showing the old title"

    event = CatalogMovieUpdated(movie_id=7, updated_at=datetime.now(UTC))
    envelope = wrap(event, producer="catalog")
    handler = subscription(engine=favorites_engine, pages=pages).handlers[event.event_type]
    await handler(event, envelope)

    assert await pages.cached(user, 1, 20) is None
    assert (await pages.get(user, page_field(1, 20))).body is None
