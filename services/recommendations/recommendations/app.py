"""The recommendations service application."""

from fastapi import FastAPI

from recommendations.api import internal_router, router
from recommendations.catalog_client import RecommendationsCatalogClient
from recommendations.config import RecommendationsSettings, settings
from recommendations.events import PUBLISHES
from recommendations.handlers import subscription
from recommendations.service import Recommender
from shared.app import create_service_app
from shared.catalog_client import attach_catalog_client
from shared.pagecache import RECOMMENDATIONS_PAGES, UserPageCache
from shared.runtime import build_runtime


def create_app(app_settings: RecommendationsSettings = settings) -> FastAPI:
    runtime = build_runtime(app_settings, publishes=PUBLISHES)
    catalog = attach_catalog_client(
        runtime,
        base_url=app_settings.catalog_url,
        timeout_s=app_settings.catalog_timeout_s,
        client_class=RecommendationsCatalogClient,
    )
    assert runtime.engine is not None and runtime.bus is not None
    cache = UserPageCache(runtime.redis, RECOMMENDATIONS_PAGES, ttl_s=app_settings.cache_ttl_s)
    runtime.on_stop.append(cache.stop)

    app = create_service_app(
        runtime,
        title="Recommendations service",
        description="Movies chosen for each user from their taste profile.",
        routers=[router, internal_router],
    )
    recommender = Recommender(
        engine=runtime.engine,
        catalog=catalog,
        cache=cache,
        related_pages=app_settings.related_pages,
        trending_pages=app_settings.trending_pages,
    )
    runtime.bus.subscribe(subscription(engine=runtime.engine, cache=cache, recommender=recommender))
    app.state.recommender = recommender
    return app
