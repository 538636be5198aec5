"""The favorites service application."""

from fastapi import FastAPI

from favorites.api import router
from favorites.cache import FAVORITES_PATH, FavoritePages
from favorites.catalog_client import LibraryCatalogClient
from favorites.config import FavoritesSettings, settings
from favorites.events import PUBLISHES
from favorites.handlers import subscription
from favorites.library_api import router as library_router
from shared.app import create_service_app
from shared.catalog_client import attach_catalog_client
from shared.fastpath import CachedUserPageFastPath
from shared.runtime import build_runtime


def create_app(app_settings: FavoritesSettings = settings) -> FastAPI:
    runtime = build_runtime(app_settings, publishes=PUBLISHES)
    catalog = attach_catalog_client(
        runtime,
        base_url=app_settings.catalog_url,
        timeout_s=app_settings.catalog_timeout_s,
        client_class=LibraryCatalogClient,
    )
    pages = FavoritePages(runtime.redis, ttl_s=app_settings.page_cache_ttl_s)
    assert runtime.engine is not None and runtime.bus is not None
    runtime.bus.subscribe(subscription(engine=runtime.engine, pages=pages))

    app = create_service_app(
        runtime,
        title="Favorites service",
        description="Each user's favorite movies.",
        routers=[router, library_router],
        inner_middleware=[
            (
                CachedUserPageFastPath,
                {
                    "path": FAVORITES_PATH,
                    "internal_secret": app_settings.internal_secret,
                    "lookup": pages.cached,
                },
            )
        ],
    )
    app.state.catalog = catalog
    app.state.pages = pages
    return app
