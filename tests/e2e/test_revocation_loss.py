"""A logout stays a logout when Redis loses its data.

Revocations live in auth's database; the security Redis holds a copy for the gateway. These
tests end a login in each way there is (logout, password change, refresh-token reuse), then
restart or flush the stack's own security Redis (it keeps nothing on disk, as on this machine)
and present the old token again: while the copy is being rebuilt the answer is 503 with
Retry-After, afterwards 401, and never 200. Losing the cache Redis never touches a revocation.
"""

import time
from collections.abc import Callable

import httpx
import pytest
import redis

from tests.e2e.helpers import PASSWORD, assert_problem
from tools.stack import RedisProcess, Stack

NewUser = Callable[..., dict[str, str]]
REBUILT_WITHIN_S = 10.0


def _login(api: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = api.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def _bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _end_by_logout(api: httpx.Client, user: dict[str, str]) -> None:
    ended = api.post("/auth/logout", headers={"Authorization": user["authorization"]})
    assert ended.status_code == 204, ended.text


def _end_by_password_change(api: httpx.Client, user: dict[str, str]) -> None:
    """Another login changes the password: the user's first login ends."""
    other = _login(api, user["email"])
    changed = api.post(
        "/me/password",
        headers=_bearer(other),
        json={"current_password": PASSWORD, "new_password": "another fine passphrase"},
    )
    assert changed.status_code == 204, changed.text


def _end_by_refresh_reuse(api: httpx.Client, user: dict[str, str]) -> None:
    refresh = {"refresh_token": user["refresh_token"]}
    assert api.post("/auth/refresh", json=refresh).status_code == 200
    assert_problem(api.post("/auth/refresh", json=refresh), 401)  # spent: the login ends


ENDINGS = {
    "logout": _end_by_logout,
    "password change": _end_by_password_change,
    "refresh reuse": _end_by_refresh_reuse,
}


def _flush(server: RedisProcess) -> None:
    redis.Redis.from_url(server.url).flushall()


LOSSES: dict[str, Callable[[RedisProcess], None]] = {
    "restart": lambda server: server.restart(),
    "flush": _flush,
}


def _refused_until_rebuilt(url: str, headers: dict[str, str]) -> list[int]:
    """Ask until the answer is 401; none may be a 200 (a 503 says the copy is being rebuilt)."""
    seen: list[int] = []
    deadline = time.monotonic() + REBUILT_WITHIN_S
    while not seen or seen[-1] != 401:
        assert time.monotonic() < deadline, f"still not refused, answers {seen}"
        response = httpx.get(f"{url}/api/v1/me", headers=headers, timeout=10)
        seen.append(response.status_code)
        assert response.status_code in (401, 503), response.text
        if response.status_code == 503:
            assert response.headers["retry-after"]
            assert response.headers["content-type"].startswith("application/problem+json")
        time.sleep(0.05)
    return seen


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_an_ended_login_stays_ended_when_the_security_redis_loses_its_data(
    api: httpx.Client,
    new_user: NewUser,
    stack: Stack,
    security_redis: RedisProcess,
    ending: str,
    loss: str,
) -> None:
    user, bystander = new_user(), new_user()
    old = {"Authorization": user["authorization"]}
    ENDINGS[ending](api, user)
    assert_problem(api.get("/me", headers=old), 401)

    LOSSES[loss](security_redis)

    # Every gateway replica reads the same copy (locally the second one allows 8 requests a
    # minute per user).
    for url in stack.gateway_replicas():
        _refused_until_rebuilt(url, old)
    # The copy was rebuilt, not just refused: a login that was never ended works again.
    deadline = time.monotonic() + REBUILT_WITHIN_S
    bystander_headers = {"Authorization": bystander["authorization"]}
    while (status := api.get("/me", headers=bystander_headers).status_code) != 200:
        assert status == 503 and time.monotonic() < deadline
        time.sleep(0.05)
    assert_problem(api.get("/me", headers=old), 401)


def test_losing_the_cache_redis_never_touches_a_revocation(
    api: httpx.Client, new_user: NewUser, stack: Stack
) -> None:
    user = new_user()
    old = {"Authorization": user["authorization"]}
    _end_by_logout(api, user)
    redis.Redis.from_url(stack.env["REDIS_URL"]).flushdb()  # every cached page and counter
    assert_problem(api.get("/me", headers=old), 401)  # refused at once, not even a 503
    assert_problem(api.get("/favorites", headers=old), 401)


def test_the_security_redis_never_evicts(security_redis: RedisProcess, stack: Stack) -> None:
    server = redis.Redis.from_url(security_redis.url)
    assert server.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    cache_url = stack.env["REDIS_URL"].rsplit("/", 1)[0]
    assert cache_url != security_redis.url.rsplit("/", 1)[0]  # a separate server, not a database
