"""The catalog service application."""

from fastapi import FastAPI

from catalog.api import router
from catalog.cache import CatalogCache
from catalog.community import CommunityMirror
from catalog.config import CatalogSettings, settings
from catalog.events import PUBLISHES
from catalog.fastpath import CachedReadsFastPath, RefreshesAhead
from catalog.handlers import subscription
from catalog.internal_api import internal_router
from catalog.people_api import finder, people
from catalog.preferences import Viewers
from catalog.refresh import TrendingRefresher
from catalog.release_check import ReleaseChecker
from catalog.service import Catalog
from catalog.tmdb import TmdbClient
from shared.app import create_service_app
from shared.redis import make_redis, make_sync_redis
from shared.runtime import Runtime, build_runtime


def create_app(app_settings: CatalogSettings = settings) -> FastAPI:
    cache_redis = make_redis(app_settings.cache_redis)
    cache = CatalogCache(
        cache_redis,
        local_max_entries=app_settings.local_cache_entries,
        recent_ttl_s=app_settings.recent_ttl_s,
    )
    runtime = build_runtime(app_settings, publishes=PUBLISHES)
    assert runtime.engine is not None and runtime.bus is not None
    mirror = CommunityMirror(cache_redis, runtime.engine)
    viewers = Viewers(make_sync_redis(app_settings.cache_redis), rewrite_interval_s=300)
    tmdb = TmdbClient(app_settings)
    catalog = Catalog(tmdb=tmdb, cache=cache, settings=app_settings)
    runtime.bus.subscribe(
        subscription(
            catalog=catalog,
            engine=runtime.engine,
            mirror=mirror,
            viewers=viewers,
        )
    )
    refresher = TrendingRefresher(
        catalog=catalog, redis=cache_redis, engine=runtime.engine, settings=app_settings
    )

    releases = ReleaseChecker(tmdb=tmdb, engine=runtime.engine, settings=app_settings)

    async def start_background(_: Runtime) -> None:
        assert runtime.engine is not None
        runtime.spawn(viewers.keep_whole(runtime.engine), name="viewers-copy")
        if app_settings.refresh_enabled:
            runtime.spawn(refresher.run(), name="trending-refresh")
            runtime.spawn(releases.run(), name="release-check")

    async def close_clients(_: Runtime) -> None:
        await refresher.release_lease()
        await releases.release_leases()
        await tmdb.close()
        await cache_redis.aclose()
        viewers.redis.close()

    refreshes = RefreshesAhead()

    async def stop_refreshes_ahead(_: Runtime) -> None:
        await refreshes.stop(timeout_s=1.0)

    runtime.on_start.append(start_background)
    runtime.on_stop.append(close_clients)
    runtime.on_stop.append(stop_refreshes_ahead)  # the stop hooks run last first
    app = create_service_app(
        runtime,
        title="Catalog service",
        description="Movies from TMDb, cached in Redis.",
        routers=[router, people, finder, internal_router],
        inner_middleware=[
            (
                CachedReadsFastPath,
                {"cache": cache, "keys": catalog.keys, "refreshes": refreshes},
            )
        ],
    )
    app.state.catalog = catalog
    app.state.community = mirror
    app.state.refresher = refresher
    app.state.releases = releases
    return app
