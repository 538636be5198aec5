"""Auth routes in process, on the real PostgreSQL, Redis and RabbitMQ (no gateway)."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from auth.app import create_app
from auth.config import AuthSettings

pytestmark = pytest.mark.usefixtures("clean_auth_db")
PASSWORD = "a fine passphrase"


@pytest.fixture(scope="module")
def client(auth_settings: AuthSettings) -> Iterator[TestClient]:
    with TestClient(create_app(auth_settings)) as client:
        client.app.state.runtime.redis  # noqa: B018  (started)
        yield client


@pytest.fixture(autouse=True)
def clear_throttle(client: TestClient) -> Iterator[None]:
    yield
    security = client.app.state.revocations.redis  # type: ignore[attr-defined]
    for key in security.scan_iter("auth:login-fail:*"):
        security.delete(key)


def _register_and_login(client: TestClient, email: str = "ann@example.com") -> dict[str, str]:
    assert (
        client.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
        ).status_code
        == 201
    )
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200
    return response.json()


def test_direct_bearer_access_and_logout(client: TestClient) -> None:
    tokens = _register_and_login(client)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/v1/me", headers=headers).json()["email"] == "ann@example.com"
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    after = client.get("/api/v1/me", headers=headers)
    assert after.status_code == 401
    assert after.headers["www-authenticate"] == "Bearer"
    assert (
        client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        ).status_code
        == 401
    )


def test_gateway_headers_need_the_internal_secret(client: TestClient) -> None:
    tokens = _register_and_login(client)
    me = client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    spoofed = {
        "x-user-id": me["id"],
        "x-session-id": "s",
        "x-token-id": "t",
        "x-token-expires-at": "9999999999",
        "x-internal-token": "guess",
    }
    assert client.get("/api/v1/me", headers=spoofed).status_code == 401


def test_throttle_answers_429_with_retry_after(client: TestClient) -> None:
    _register_and_login(client)
    for _ in range(3):
        wrong = client.post(
            "/api/v1/auth/login", json={"email": "ann@example.com", "password": "wrong pass 1"}
        )
        assert wrong.status_code == 401
    throttled = client.post(
        "/api/v1/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
    )
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 300
    # Another account from the same address is not locked out.
    _register_and_login(client, email="bob@example.com")


def test_oauth2_form_login(client: TestClient) -> None:
    _register_and_login(client)
    response = client.post(
        "/api/v1/auth/token", data={"username": "ann@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


def test_health_ready_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        "database": "ok",
        "redis": "ok",
        "security_redis": "ok",
        "rabbitmq": "ok",
    }
    client.get("/api/v1/me")
    metrics = client.get("/metrics").text
    assert (
        'http_request_duration_seconds_count{method="GET",route="/api/v1/me",status="401"}'
        in metrics
    )


def test_logins_the_database_could_not_check_do_not_lock_the_account(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user retrying through a database failover is not locked out by the failed tries."""
    from sqlalchemy.exc import OperationalError

    from auth import service

    _register_and_login(client)

    def failing_over(*_: object, **__: object) -> None:
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    with monkeypatch.context() as patched:
        patched.setattr(service, "authenticate", failing_over)
        # answered as a server would (the problem+json 503), not raised into the test
        patched.setattr(client._transport, "raise_server_exceptions", False)
        for _ in range(8):  # past the 5 failures an account may have
            answer = client.post(
                "/api/v1/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
            )
            assert answer.status_code == 503, answer.text
    back = client.post(
        "/api/v1/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
    )
    assert back.status_code == 200, back.text
