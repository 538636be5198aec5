"""The favorites service application."""

from fastapi import FastAPI

from favorites.api import router
from favorites.catalog_client import CatalogClient
from favorites.config import FavoritesSettings, settings
from favorites.handlers import subscription
from favorites.library_api import router as library_router
from shared.app import create_service_app
from shared.catalog_client import attach_catalog_client
from shared.runtime import build_runtime


def create_app(app_settings: FavoritesSettings = settings) -> FastAPI:
    runtime = build_runtime(app_settings)
    catalog = attach_catalog_client(
        runtime,
        base_url=app_settings.catalog_url,
        timeout_s=app_settings.catalog_timeout_s,
        client_class=CatalogClient,
    )
    assert runtime.engine is not None and runtime.bus is not None
    runtime.bus.subscribe(subscription(engine=runtime.engine))

    app = create_service_app(
        runtime,
        title="Favorites service",
        description="Each user's favorite movies.",
        routers=[router, library_router],
    )
    app.state.catalog = catalog
    return app
