"""The library's most frequent writes, each also answered in front of FastAPI
(shared/fastroutes.py says when): adding and removing a favorite, a watchlist entry, a
rating and a viewing. Each door calls the same answer as its route."""

from sqlalchemy import Engine

from library.catalog_client import LibraryCatalogClient
from library.favorites.api import favorite_added, favorite_removed
from library.favorites.models import FavoriteIn
from library.history.api import unwatched, watched
from library.history.models import HistoryIn
from library.ratings.api import rated, unrated
from library.ratings.models import RatingIn
from library.watchlist.api import watchlist_added, watchlist_removed
from library.watchlist.models import WatchlistIn
from shared.app import API_PREFIX
from shared.fastroutes import Answer, Call, FastRoute
from shared.pagecache import UserPageCache


def write_routes(
    engine: Engine, catalog: LibraryCatalogClient, pages: UserPageCache
) -> list[FastRoute]:
    async def add_favorite(call: Call) -> Answer:
        return await favorite_added(
            engine, catalog, pages, user_id=call.principal.user_id, body=call.body
        )

    async def remove_favorite(call: Call) -> Answer:
        return await favorite_removed(
            engine, pages, user_id=call.principal.user_id, movie_id=_id(call)
        )

    async def add_to_watchlist(call: Call) -> Answer:
        return await watchlist_added(
            engine, catalog, user_id=call.principal.user_id, body=call.body
        )

    async def remove_from_watchlist(call: Call) -> Answer:
        return await watchlist_removed(engine, user_id=call.principal.user_id, movie_id=_id(call))

    async def rate(call: Call) -> Answer:
        return await rated(
            engine, catalog, user_id=call.principal.user_id, movie_id=_id(call), body=call.body
        )

    async def unrate(call: Call) -> Answer:
        return await unrated(engine, user_id=call.principal.user_id, movie_id=_id(call))

    async def add_to_history(call: Call) -> Answer:
        return await watched(engine, catalog, user_id=call.principal.user_id, body=call.body)

    async def remove_from_history(call: Call) -> Answer:
        return await unwatched(engine, user_id=call.principal.user_id, movie_id=_id(call))

    return [
        FastRoute("POST", f"{API_PREFIX}/favorites", add_favorite, FavoriteIn),
        FastRoute("DELETE", f"{API_PREFIX}/favorites/{{movie_id}}", remove_favorite),
        FastRoute("POST", f"{API_PREFIX}/watchlist", add_to_watchlist, WatchlistIn),
        FastRoute("DELETE", f"{API_PREFIX}/watchlist/{{movie_id}}", remove_from_watchlist),
        FastRoute("PUT", f"{API_PREFIX}/movies/{{movie_id}}/rating", rate, RatingIn),
        FastRoute("DELETE", f"{API_PREFIX}/movies/{{movie_id}}/rating", unrate),
        FastRoute("POST", f"{API_PREFIX}/me/history", add_to_history, HistoryIn),
        FastRoute("DELETE", f"{API_PREFIX}/me/history/{{movie_id}}", remove_from_history),
    ]


def _id(call: Call) -> int:
    assert call.path_id is not None, "a route with an id in its template"
    return call.path_id
