"""The whole system as real processes (the same commands `make run` uses), driven over HTTP.

Each test session gets fresh databases, its own Redis database and bus namespace, and free
ports, so a stack started by `make run` is left alone. A second gateway with a low rate
limit serves the rate-limit tests.
"""

import os
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

from tests.e2e.helpers import PASSWORD
from tools.stack import RedisProcess, Stack, start_stack

DATABASES = ("auth", "catalog", "favorites", "recommendations", "notifications")
TMDB_KEY = "e2e-tmdb-key-0f3a9c"
ADULT_MOVIE = 1681  # the sandbox marks it adult


@pytest.fixture(scope="session")
def security_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """The stack's own security Redis, which tests may restart and flush."""
    server = RedisProcess(tmp_path_factory.mktemp("security-redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack(
    make_database: Callable[[str], str],
    platform_env: dict[str, str],
    security_redis: RedisProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    env = {
        **platform_env,
        "SECURITY_REDIS_URL": security_redis.url,
        **{f"{name.upper()}_DATABASE_URL": make_database(name) for name in DATABASES},
        "GATEWAY_RATE_LIMIT_IP_PER_MINUTE": "100000",
        "GATEWAY_RATE_LIMIT_USER_PER_MINUTE": "100000",
        "AUTH_LOGIN_FAILURES_PER_IP": "100000",
        "CATALOG_TMDB_READ_TIMEOUT_S": "1",
        "GATEWAY_STREAM_RECHECK_S": "1",
        "CATALOG_TMDB_BREAKER_COOLDOWN_S": "1",
        # A keyed TMDb (the sandbox requires this key), so tests can see the key never leaks.
        "TMDB_API_KEY": TMDB_KEY,
        "SANDBOX_API_KEY": TMDB_KEY,
        "SANDBOX_ADULT_IDS": f"[{ADULT_MOVIE}]",
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
