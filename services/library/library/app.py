"""The library service application: favorites, the watchlist, ratings, reviews, watch
history, "not interested" and the user's own lists, one package each (models, service, api),
and the account as a whole (one title's state, export, deletion), over one database, one
outbox and one catalog client."""

from fastapi import FastAPI

from library.account.api import internal_router as account_internal_router
from library.account.api import router as account_router
from library.calendar.api import router as calendar_router
from library.catalog_client import LibraryCatalogClient
from library.config import LibrarySettings, settings
from library.events import PUBLISHES
from library.fastwrites import write_routes
from library.favorites.api import router as favorites_router
from library.handlers import subscription
from library.history.api import router as history_router
from library.imports.api import router as imports_router
from library.imports.worker import ImportWorker
from library.not_interested.api import router as not_interested_router
from library.ratings.api import router as ratings_router
from library.reviews.api import router as reviews_router
from library.user_lists.api import router as lists_router
from library.watchlist.api import router as watchlist_router
from shared.app import create_service_app
from shared.catalog_client import attach_catalog_client
from shared.fastroutes import FastRoutes
from shared.pagecache import FAVORITES_PAGES, UserPageCache
from shared.runtime import Runtime, build_runtime


def create_app(app_settings: LibrarySettings = settings) -> FastAPI:
    runtime = build_runtime(app_settings, publishes=PUBLISHES)
    catalog = attach_catalog_client(
        runtime,
        base_url=app_settings.catalog_url,
        timeout_s=app_settings.catalog_timeout_s,
        client_class=LibraryCatalogClient,
    )
    pages = UserPageCache(runtime.redis, FAVORITES_PAGES, ttl_s=app_settings.page_cache_ttl_s)
    runtime.on_stop.append(pages.stop)
    assert runtime.engine is not None and runtime.bus is not None
    runtime.bus.subscribe(subscription(engine=runtime.engine, pages=pages))
    worker = ImportWorker(engine=runtime.engine, catalog=catalog)

    async def start_imports(_: Runtime) -> None:
        runtime.spawn(worker.run(), name="imports")

    async def release_imports(_: Runtime) -> None:
        await worker.stop()

    runtime.on_start.append(start_imports)
    runtime.on_stop.append(release_imports)

    fast_writes = (
        FastRoutes,
        {
            "routes": write_routes(runtime.engine, catalog, pages),
            "internal_secret": app_settings.internal_secret,
        },
    )
    app = create_service_app(
        runtime,
        title="Library service",
        description="What each user keeps of movies: favorites, a watchlist, ratings, reviews, "
        "watch history, lists of your own.",
        routers=[
            favorites_router,
            watchlist_router,
            ratings_router,
            reviews_router,
            history_router,
            not_interested_router,
            lists_router,
            imports_router,
            calendar_router,
            account_router,
            account_internal_router,
        ],
        inner_middleware=[fast_writes] if app_settings.fast_writes else [],
    )
    app.state.catalog = catalog
    app.state.pages = pages
    return app
