"""Favorites: a user's set of movies (library/movie_set.py), no HTTP here.

`add_favorite` and `remove_favorite` are the write path: the transaction (`add`, `remove`),
then, once it is committed and before the caller answers, the user's cached pages dropped, so
no write can leave a page showing the list before it."""

import uuid

from sqlalchemy import Engine

from library.favorites.models import Favorite
from library.movie_set import MovieSet
from shared.db import in_session
from shared.events import FavoriteAdded, FavoriteRemoved
from shared.pagecache import UserPageCache
from shared.threads import run_sync

FAVORITES = MovieSet(Favorite, FavoriteAdded, FavoriteRemoved)
get, add, remove, page = FAVORITES.get, FAVORITES.add, FAVORITES.remove, FAVORITES.page


async def add_favorite(
    engine: Engine, pages: UserPageCache, *, user_id: uuid.UUID, movie_id: int
) -> tuple[Favorite, bool]:
    favorite, created = await run_sync(in_session, engine, add, user_id=user_id, movie_id=movie_id)
    if created:
        await pages.changed(user_id)
    return favorite, created


async def remove_favorite(
    engine: Engine, pages: UserPageCache, *, user_id: uuid.UUID, movie_id: int
) -> bool:
    removed = await run_sync(in_session, engine, remove, user_id=user_id, movie_id=movie_id)
    if removed:
        await pages.changed(user_id)
    return removed
