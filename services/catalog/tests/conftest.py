"""Catalog test fixtures: settings, the in-process TMDb sandbox, scripted TMDb doubles."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from catalog.cache import CatalogCache
from catalog.config import CatalogSettings
from catalog.service import Catalog
from catalog.tmdb import TmdbClient
from services.catalog.tests.support import ScriptedTmdb
from shared.redis import make_redis
from tmdb_sandbox.app import create_app as create_sandbox
from tmdb_sandbox.config import SandboxSettings
from tmdb_sandbox.data import is_present


@pytest.fixture(scope="session")
def sandbox_app() -> Starlette:
    settings = SandboxSettings()
    assert is_present(settings.data_dir), "MovieLens data missing: run `make sandbox-data`"
    return create_sandbox(settings)


@pytest.fixture(scope="session")
def catalog_settings(make_database, platform_settings) -> CatalogSettings:  # type: ignore[no-untyped-def]
    return CatalogSettings(
        database_url=make_database("catalog"),
        tmdb_base_url="http://tmdb.test/3",
        tmdb_api_key="test-key",
        tmdb_breaker_cooldown_s=0.5,
        stale_wait_s=0.5,
        **platform_settings,
    )


@pytest.fixture
async def redis(catalog_settings: CatalogSettings) -> AsyncIterator[Redis]:
    client = make_redis(catalog_settings.redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def scripted() -> ScriptedTmdb:
    return ScriptedTmdb()


@pytest.fixture
def make_catalog(
    catalog_settings: CatalogSettings, redis: Redis
) -> Iterator[Callable[..., Catalog]]:
    clients: list[TmdbClient] = []

    def make(
        transport: httpx.AsyncBaseTransport, cache_redis: Redis | None = None, **overrides: Any
    ) -> Catalog:
        settings = catalog_settings.model_copy(update=overrides)
        client = TmdbClient(settings, transport=transport)
        clients.append(client)
        return Catalog(tmdb=client, cache=CatalogCache(cache_redis or redis), settings=settings)

    yield make
    for client in clients:
        with contextlib.suppress(Exception):
            asyncio.get_event_loop().run_until_complete(client.close())
