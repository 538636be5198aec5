"""The notifications service application."""

from fastapi import FastAPI

from notifications.api import internal_router, router
from notifications.config import NotificationsSettings, settings
from notifications.handlers import subscription
from shared.app import create_service_app
from shared.catalog_client import CatalogClient, attach_catalog_client
from shared.runtime import build_runtime


def create_app(app_settings: NotificationsSettings = settings) -> FastAPI:
    runtime = build_runtime(app_settings)
    catalog = attach_catalog_client(
        runtime,
        base_url=app_settings.catalog_url,
        timeout_s=app_settings.catalog_timeout_s,
        client_class=CatalogClient,
    )
    assert runtime.engine is not None and runtime.bus is not None
    runtime.bus.subscribe(
        subscription(
            engine=runtime.engine, redis=runtime.redis, catalog=catalog, settings=app_settings
        )
    )

    app = create_service_app(
        runtime,
        title="Notifications service",
        description="Trending and recommendation news for each user, listed and streamed.",
        routers=[router, internal_router],
    )
    app.state.stream_keepalive_s = app_settings.stream_keepalive_s
    return app
