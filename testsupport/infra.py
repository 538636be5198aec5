"""Pytest fixtures for tests that need the real PostgreSQL, Redis and RabbitMQ.

Which servers: `TEST_INFRA=local` uses the machine's own (127.0.0.1:5432/6379/5672, or
TEST_POSTGRES_URL, TEST_REDIS_URL, TEST_AMQP_URL); `TEST_INFRA=containers` starts them with
testcontainers; `auto` (the default) picks containers only when a Docker engine answers.
Each test session gets fresh databases, its own Redis database number and its own bus
namespace, so a running `make run` stack is never touched.
"""

import asyncio
import contextlib
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from shared.migrations import drop_database, upgrade

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_REDIS_DB = 13


@dataclass(frozen=True)
class Infra:
    postgres_url: str  # a server URL; databases are created per test session
    redis_url: str
    security_redis_url: str
    amqp_url: str
    kind: str


CONTAINER_IMAGES = ("postgres:15", "redis:7", "rabbitmq:3.13")


def _docker_engine_available() -> bool:
    """A Docker engine answers and already has the images (with no registry to pull from,
    an engine alone cannot start them: then the local servers are used)."""
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
        if info.returncode != 0:
            return False
        images = subprocess.run(
            ["docker", "image", "inspect", *CONTAINER_IMAGES],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return images.returncode == 0


def _local_infra() -> Infra:
    redis_base = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
    security_base = os.environ.get("TEST_SECURITY_REDIS_URL", "redis://127.0.0.1:6380")
    return Infra(
        postgres_url=os.environ.get(
            "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
        ),
        redis_url=f"{redis_base.rstrip('/')}/{TEST_REDIS_DB}",
        security_redis_url=f"{security_base.rstrip('/')}/{TEST_REDIS_DB}",
        amqp_url=os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        kind="local",
    )


def _container_infra(stack: ExitStack) -> Infra:
    from testcontainers.postgres import PostgresContainer
    from testcontainers.rabbitmq import RabbitMqContainer
    from testcontainers.redis import RedisContainer

    postgres_image, redis_image, rabbit_image = CONTAINER_IMAGES
    postgres = stack.enter_context(PostgresContainer(postgres_image, driver="psycopg2"))
    redis = stack.enter_context(RedisContainer(redis_image))
    security = stack.enter_context(
        RedisContainer(redis_image).with_command("redis-server --maxmemory-policy noeviction")
    )
    rabbit = stack.enter_context(RabbitMqContainer(rabbit_image))
    redis_host = redis.get_container_host_ip()
    redis_port = redis.get_exposed_port(6379)
    rabbit_host = rabbit.get_container_host_ip()
    rabbit_port = rabbit.get_exposed_port(5672)
    return Infra(
        postgres_url=postgres.get_connection_url(),
        redis_url=f"redis://{redis_host}:{redis_port}/{TEST_REDIS_DB}",
        security_redis_url=(
            f"redis://{security.get_container_host_ip()}:{security.get_exposed_port(6379)}"
            f"/{TEST_REDIS_DB}"
        ),
        amqp_url=f"amqp://guest:guest@{rabbit_host}:{rabbit_port}/",
        kind="containers",
    )


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    choice = os.environ.get("TEST_INFRA", "auto")
    with ExitStack() as stack:
        if choice == "containers" or (choice == "auto" and _docker_engine_available()):
            yield _container_infra(stack)
        else:
            yield _local_infra()


@pytest.fixture(scope="session")
def session_tag() -> str:
    return secrets.token_hex(4)


@pytest.fixture(scope="session")
def bus_namespace(session_tag: str) -> str:
    return f"test-{session_tag}"


@pytest.fixture(scope="session")
def make_database(infra: Infra, session_tag: str) -> Iterator[Callable[[str], str]]:
    """Factory: a fresh, migrated database for a service; dropped when the session ends."""
    created: dict[str, str] = {}

    def make(service: str) -> str:
        if service not in created:
            url = make_url(infra.postgres_url).set(database=f"test_{service}_{session_tag}")
            rendered = url.render_as_string(hide_password=False)
            upgrade(REPO_ROOT / "services" / service, rendered)
            created[service] = rendered
        return created[service]

    yield make
    for url in created.values():
        drop_database(url)


@pytest.fixture(scope="session")
def platform_env(infra: Infra, bus_namespace: str) -> dict[str, str]:
    """Environment for settings classes and service processes under test."""
    return {
        "ENVIRONMENT": "test",
        "JWT_SECRET": "test-jwt-secret-" + "x" * 32,
        "INTERNAL_SECRET": "test-internal-secret-0123456789",
        "REDIS_URL": infra.redis_url,
        "SECURITY_REDIS_URL": infra.security_redis_url,
        "AMQP_URL": infra.amqp_url,
        "BUS_NAMESPACE": bus_namespace,
        "BUS_QUEUE_EXPIRES_MS": "600000",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="session")
def platform_settings(platform_env: dict[str, str]) -> dict[str, str]:
    """The platform environment as keyword arguments for a settings class."""
    return {key.lower(): value for key, value in platform_env.items()}


class TcpProxy:
    """A TCP proxy on loopback in front of a real server, cut and restored to simulate an
    outage of that server (or of the network to it) without touching it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server: asyncio.Server | None = None
        self.port = 0
        self.connections: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.connections:
            writer.close()
        self.connections.clear()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.connections += [writer, up_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
