"""The gateway's own behaviour: request ids, routing, rate limits, health, OpenAPI, metrics."""

import re
import time
from typing import Any

import httpx
import pytest

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
    deadline = time.monotonic() + 5  # access lines are written in batches, within 50 ms
    while (
        '"request_id":"follow-me-42"' not in stack.log_text("auth") and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert '"request_id":"follow-me-42"' in stack.log_text("auth")


def test_unknown_route_is_404_problem(api: httpx.Client) -> None:
    assert_problem(api.get("/nothing-here"), 404)


@pytest.mark.own_processes
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
        "library": "ok",
        "recommendations": "ok",
        "notifications": "ok",
    }
    assert httpx.get(f"{stack.url('gateway')}/healthz").status_code == 200


def test_every_service_has_health_readiness_and_metrics(stack: Stack) -> None:
    services = ("auth", "catalog", "library", "recommendations", "notifications", "gateway")
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


def test_every_operation_has_a_short_stable_id_and_one_tag(stack: Stack) -> None:
    """Client generators name their functions after operationId: `favorites_add`, not
    `add_favorite_api_v1_favorites_post`. Each is its area's tag and a verb, and unique."""
    document = httpx.get(f"{stack.url('gateway')}/openapi.json").json()
    seen: set[str] = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            operation_id, tags = operation.get("operationId", ""), operation.get("tags", [])
            assert re.fullmatch(r"[a-z]+(_[a-z]+)+", operation_id), (method, path, operation_id)
            assert len(tags) == 1 and operation_id.startswith(f"{tags[0]}_"), (path, tags)
            assert operation_id not in seen, operation_id
            seen.add(operation_id)
    assert {"favorites_add", "movies_trending", "auth_login"} <= seen


def test_every_request_body_and_catalog_answer_has_an_example(stack: Stack) -> None:
    """What SDK docs and Swagger UI show first: a body to send, an answer to expect."""
    document = httpx.get(f"{stack.url('gateway')}/openapi.json").json()
    schemas = document["components"]["schemas"]

    def has_example(content: dict[str, Any]) -> bool:
        schema = content.get("schema", {})
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        return bool({"example", "examples"} & (set(content) | set(schema)))

    for path, item in document["paths"].items():
        for method, operation in item.items():
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                # OAuth2's own password form (for Swagger UI's Authorize), described by FastAPI;
                # an example there led schemathesis to a request FastAPI reads differently (an
                # empty grant_type is taken as none), so it keeps the standard description.
                if media != "application/x-www-form-urlencoded":
                    assert has_example(content), (method, path, media)
            answers = operation["responses"]
            if operation.get("tags") == ["movies"] and method == "get" and "200" in answers:
                assert has_example(answers["200"]["content"]["application/json"]), path


def test_gateway_metrics_use_route_templates(api: httpx.Client, stack: Stack) -> None:
    api.get("/me")
    metrics = httpx.get(f"{stack.url('gateway')}/metrics").text
    assert 'route="/api/v1/me"' in metrics


def test_labelled_counters_have_a_series_from_start_up(stack: Stack) -> None:
    """rate() and alerts need a series before the first event: every known label set is
    exported as zero from start-up."""

    def metrics(service: str) -> str:
        return httpx.get(f"{stack.url(service)}/metrics").text

    namespace = stack.env["BUS_NAMESPACE"]
    expected = {
        "catalog": [
            'tmdb_requests_total{endpoint="genres",outcome="garbage"}',
            'cache_requests_total{result="stale"}',
        ],
        "auth": ['events_published_total{type="user.password_changed"}'],
        "recommendations": [
            f'events_dead_lettered_total{{queue="{namespace}.recommendations",reason="malformed"}}',
            f'events_retried_total{{queue="{namespace}.recommendations"}}',
            f'events_consumed_total{{queue="{namespace}.recommendations",type="history.removed"}}',
            'events_published_total{type="recommendations.updated"}',
        ],
    }
    for service, series in expected.items():
        exported = metrics(service)
        for name in series:
            assert name in exported, f"{service} does not export {name}"


def _anonymous_statuses(url: str, forwarded_for: list[str]) -> list[int]:
    with httpx.Client(base_url=f"{url}/api/v1") as client:
        return [
            client.get("/me", headers={"X-Forwarded-For": address}).status_code
            for address in forwarded_for
        ]


@pytest.mark.own_processes
def test_a_client_cannot_choose_its_address_with_x_forwarded_for(stack: Stack) -> None:
    """Straight to the gateway, X-Forwarded-For is ignored: a new address in each request
    still counts against the connection's own (5 a minute on this gateway)."""
    if time.time() % 60 > 50:  # keep the burst inside one fixed window
        time.sleep(11)
    statuses = _anonymous_statuses(
        stack.url("gateway-limited"), [f"198.51.100.{n}" for n in range(8)]
    )
    assert 429 in statuses, statuses


@pytest.mark.own_processes
def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(stack: Stack) -> None:
    """With FORWARDED_ALLOW_IPS naming the ingress, the address it forwards is the client's."""
    if time.time() % 60 > 50:
        time.sleep(11)
    url = stack.url("gateway-behind-proxy")
    first = _anonymous_statuses(url, ["203.0.113.7"] * 7)
    assert first[:5] == [401] * 5 and first[-1] == 429, first
    assert _anonymous_statuses(url, ["203.0.113.8"]) == [401]  # another client, its own limit


@pytest.mark.own_processes
def test_behind_a_trusted_proxy_answers_at_once_count_each_forwarded_client(stack: Stack) -> None:
    """Cached anonymous reads answered at once (the gateway's micro-cache) are counted against
    the forwarded client's limit too, not the proxy's."""
    if time.time() % 60 > 50:
        time.sleep(11)
    with httpx.Client(base_url=f"{stack.url('gateway-behind-proxy')}/api/v1") as client:

        def trending(address: str) -> int:
            headers = {"X-Forwarded-For": address}
            return client.get("/movies/trending", headers=headers).status_code

        first = [trending("203.0.113.20") for _ in range(7)]
        assert first[:5] == [200] * 5 and first[-1] == 429, first
        assert [trending("203.0.113.21") for _ in range(3)] == [200] * 3
