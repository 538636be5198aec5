"""The whole system as real processes (the same commands `make run` uses), driven over HTTP.

Each test session gets fresh databases, its own Redis database and bus namespace, and free
ports, so a stack started by `make run` is left alone. A second gateway with a low rate
limit serves the rate-limit tests.

With `E2E_STACK` naming a description file (tools/stack.py, `RunningStack`), the suite runs
against a stack that is already running instead, such as `make compose-check`'s containers
with two replicas of every service. Tests marked `own_processes` need a process only the
local run starts (a gateway with a low rate limit) and are deselected there.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.e2e.helpers import PASSWORD
from tests.e2e.settings import STACK_SETTINGS
from tools.stack import ContainerRedis, RedisProcess, RunningStack, Stack, start_stack

RUNNING = os.environ.get("E2E_STACK")

DATABASES = ("auth", "catalog", "library", "recommendations", "notifications")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not RUNNING:
        return
    local_only = [item for item in items if item.get_closest_marker("own_processes")]
    if local_only:
        config.hook.pytest_deselected(items=local_only)
        items[:] = [item for item in items if item not in local_only]


@pytest.fixture(scope="session")
def security_redis(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisProcess | ContainerRedis]:
    """The stack's own security Redis, which tests may restart and flush."""
    if RUNNING:
        yield request.getfixturevalue("running_stack").security_redis()
        return
    server = RedisProcess(tmp_path_factory.mktemp("security-redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def running_stack() -> RunningStack:
    assert RUNNING, "E2E_STACK names no running stack"
    return RunningStack.load(Path(RUNNING))


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack | RunningStack]:
    if RUNNING:
        yield request.getfixturevalue("running_stack")
        return
    yield from _local_stack(
        request.getfixturevalue("make_database"),
        request.getfixturevalue("platform_env"),
        request.getfixturevalue("security_redis"),
        request.getfixturevalue("tmp_path_factory"),
    )


def _local_stack(
    make_database: Callable[[str], str],
    platform_env: dict[str, str],
    security_redis: RedisProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    env = {
        **platform_env,
        "SECURITY_REDIS_URL": security_redis.url,
        **{f"{name.upper()}_DATABASE_URL": make_database(name) for name in DATABASES},
        **STACK_SETTINGS,
    }
    redis.Redis.from_url(platform_env["REDIS_URL"]).flushdb()
    limited = {"GATEWAY_RATE_LIMIT_IP_PER_MINUTE": "5", "GATEWAY_RATE_LIMIT_USER_PER_MINUTE": "8"}
    try:
        running = start_stack(
            env=env,
            log_dir=tmp_path_factory.mktemp("e2e-logs"),
            extra_gateways=[
                ("gateway-limited", limited),
                # As behind an ingress on loopback: X-Forwarded-For is trusted from 127.0.0.1.
                ("gateway-behind-proxy", {**limited, "FORWARDED_ALLOW_IPS": "127.0.0.1"}),
            ],
        )
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield running
    running.stop()


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stack.url('gateway')}/api/v1", timeout=20) as client:
        yield client


@pytest.fixture
def new_user(api: httpx.Client) -> Callable[..., dict[str, str]]:
    """Register a unique user and log in; returns email, password, tokens and auth headers."""

    def make(password: str = PASSWORD) -> dict[str, str]:
        email = f"user-{os.urandom(6).hex()}@example.com"
        registered = api.post("/auth/register", json={"email": email, "password": password})
        assert registered.status_code == 201, registered.text
        login = api.post("/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        tokens = login.json()
        return {
            "email": email,
            "password": password,
            "id": registered.json()["id"],
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "authorization": f"Bearer {tokens['access_token']}",
        }

    return make
