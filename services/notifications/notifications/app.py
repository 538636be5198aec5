"""The notifications service application."""

from fastapi import FastAPI

from notifications.api import internal_router, router
from notifications.config import NotificationsSettings, settings
from notifications.delivery import Deliverer
from notifications.handlers import subscription
from notifications.webhooks_api import router as webhooks_router
from shared.app import create_service_app
from shared.catalog_client import CatalogClient, attach_catalog_client
from shared.runtime import Runtime, build_runtime


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

    deliverer = Deliverer(
        engine=runtime.engine,
        allow_private=app_settings.webhook_allow_private,
        keep=app_settings.history_per_user,
    )

    async def start_deliveries(_: Runtime) -> None:
        runtime.spawn(deliverer.run(), name="webhook-deliveries")

    async def close_deliveries(_: Runtime) -> None:
        await deliverer.close()

    runtime.on_start.append(start_deliveries)
    runtime.on_stop.append(close_deliveries)

    app = create_service_app(
        runtime,
        title="Notifications service",
        description="Trending and recommendation news for each user, listed, streamed and "
        "delivered to their webhooks.",
        routers=[router, webhooks_router, internal_router],
    )
    app.state.stream_keepalive_s = app_settings.stream_keepalive_s
    app.state.webhook_allow_private = app_settings.webhook_allow_private
    return app
