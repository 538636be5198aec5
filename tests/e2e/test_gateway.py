"""The gateway's own behaviour: request ids, routing, rate limits, health, OpenAPI, metrics."""

import time

import httpx

from tests.e2e.conftest import Stack
from tests.e2e.helpers import PASSWORD, assert_problem


def test_request_id_is_echoed_and_generated(api: httpx.Client) -> None:
    echoed = api.get("/me", headers={"X-Request-ID": "trace-me-123"})
    assert echoed.headers["x-request-id"] == "trace-me-123"
    generated = api.get("/me")
    assert len(generated.headers["x-request-id"]) == 32


def test_request_id_reaches_the_service_logs(api: httpx.Client, stack: Stack) -> None:
    api.post(
        "/auth/login",
        json={"email": "nobody@example.com", "password": PASSWORD},
        headers={"X-Request-ID": "follow-me-42"},
    )
    log = stack.log_dir / "auth.log"
    deadline = time.monotonic() + 5  # access lines are written in batches, within 50 ms
    while '"request_id":"follow-me-42"' not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert '"request_id":"follow-me-42"' in log.read_text()


def test_unknown_route_is_404_problem(api: httpx.Client) -> None:
    assert_problem(api.get("/nothing-here"), 404)


def test_rate_limit_answers_429_with_retry_after(stack: Stack) -> None:
    with httpx.Client(base_url=f"{stack.url('gateway-limited')}/api/v1") as client:
        # This gateway allows 5 requests a minute per address; other tests may have used some.
        if time.time() % 60 > 55:  # keep the burst inside one fixed window
            time.sleep(6)
        responses = [client.get("/me") for _ in range(7)]
        statuses = [response.status_code for response in responses]
        first_limited = statuses.index(429)
        assert set(statuses[:first_limited]) <= {401} and first_limited <= 5
        limited = responses[-1]
        assert_problem(limited, 429)
        assert 1 <= int(limited.headers["retry-after"]) <= 60


def test_readiness_names_every_service(stack: Stack) -> None:
    response = httpx.get(f"{stack.url('gateway')}/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "redis": "ok",
        "security_redis": "ok",
        "auth": "ok",
        "catalog": "ok",
        "favorites": "ok",
        "recommendations": "ok",
        "notifications": "ok",
    }
    assert httpx.get(f"{stack.url('gateway')}/healthz").status_code == 200


def test_every_service_has_health_readiness_and_metrics(stack: Stack) -> None:
    services = ("auth", "catalog", "favorites", "recommendations", "notifications", "gateway")
    for name, url in ((name, stack.url(name)) for name in services):
        assert httpx.get(f"{url}/healthz").status_code == 200, name
        assert httpx.get(f"{url}/readyz").status_code == 200, name
        metrics = httpx.get(f"{url}/metrics")
        assert metrics.status_code == 200
        assert "http_request_duration_seconds" in metrics.text, name
        if name != "gateway":  # every service with events: the event flow's figures
            for metric in (
                "events_published_total",
                "events_consumed_total",
                "events_dead_lettered_total",
                "events_consumer_lag_seconds",
                "outbox_pending_events",
            ):
                assert f"# TYPE {metric}" in metrics.text, (name, metric)
    catalog = httpx.get(f"{stack.url('catalog')}/metrics").text
    for metric in ("tmdb_requests_total", "cache_requests_total", "tmdb_circuit_state"):
        assert f"# TYPE {metric}" in catalog, metric


def test_services_answer_their_own_paths_directly(stack: Stack, new_user) -> None:  # type: ignore[no-untyped-def]
    user = new_user()
    direct = httpx.get(
        f"{stack.url('auth')}/api/v1/me", headers={"Authorization": user["authorization"]}
    )
    assert direct.status_code == 200
    assert direct.json()["id"] == user["id"]


def test_merged_openapi_and_docs(stack: Stack) -> None:
    document = httpx.get(f"{stack.url('gateway')}/openapi.json").json()
    for path in (
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/token",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/me/password",
    ):
        assert path in document["paths"], path
    assert document["paths"]["/api/v1/me"]["get"]["security"][0] == {"bearerAuth": []}
    assert "Problem" in document["components"]["schemas"]
    docs = httpx.get(f"{stack.url('gateway')}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_gateway_metrics_use_route_templates(api: httpx.Client, stack: Stack) -> None:
    api.get("/me")
    metrics = httpx.get(f"{stack.url('gateway')}/metrics").text
    assert 'route="/api/v1/me"' in metrics
