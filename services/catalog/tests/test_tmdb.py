"""The TMDb client against scripted doubles for every fault mode, and against the sandbox."""

import time

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from catalog.config import CatalogSettings
from catalog.models import TmdbMovieDetail, TmdbPage
from catalog.tmdb import BreakerState, CircuitBreaker, TmdbClient, TmdbNotFound, TmdbUnavailable
from services.catalog.tests.support import ScriptedTmdb, movie_json, page_json


def _client(settings: CatalogSettings, scripted: ScriptedTmdb, **overrides: object) -> TmdbClient:
    return TmdbClient(settings.model_copy(update=overrides), transport=scripted.transport())


def _json(
    payload: object, status: int = 200, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json=payload, headers=headers)


async def test_valid_payload_is_parsed_and_unknown_fields_dropped(
    catalog_settings: CatalogSettings, scripted: ScriptedTmdb
) -> None:
    scripted.handler = lambda request: _json(movie_json(7))
    movie = await _client(catalog_settings, scripted).get("movie", "/movie/7", TmdbMovieDetail)
    assert movie.id == 7 and movie.runtime == 100
    assert not hasattr(movie, "unknown_field")


async def test_api_key_and_bearer_token_are_sent(
    catalog_settings: CatalogSettings, scripted: ScriptedTmdb
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json(movie_json(1))

    scripted.handler = handler
    await _client(catalog_settings, scripted).get("movie", "/movie/1", TmdbMovieDetail)
    assert seen[-1].url.params["api_key"] == "test-key"
    await _client(catalog_settings, scripted, tmdb_access_token=SecretStr("tok")).get(
        "movie", "/movie/1", TmdbMovieDetail
    )
    assert seen[-1].headers["authorization"] == "Bearer tok"


@pytest.mark.parametrize(
    "response",
    [
        _json({"success": False, "status_code": 34, "status_message": "not found"}, 404),
        _json({"success": False, "status_code": 34, "status_message": "not found"}, 400),
    ],
)
async def test_not_found(
    catalog_settings: CatalogSettings, scripted: ScriptedTmdb, response: httpx.Response
) -> None:
    scripted.handler = lambda request: response
    with pytest.raises(TmdbNotFound):
        await _client(catalog_settings, scripted).get("movie", "/movie/9", TmdbMovieDetail)
    assert len(scripted.calls) == 1


@pytest.mark.parametrize(
    ("response", "status"),
    [
        (httpx.Response(200, content=b"<html>oops"), 502),
        (_json({"results": "nope"}), 502),
        (_json({"id": -1, "title": "x"}), 502),
        (_json({"status_code": 11}, 500), 502),
    ],
)
async def test_garbage_and_500_are_upstream_errors_without_retry(
    catalog_settings: CatalogSettings, scripted: ScriptedTmdb, response: httpx.Response, status: int
) -> None:
    scripted.handler = lambda request: response
    with pytest.raises(TmdbUnavailable) as raised:
        await _client(catalog_settings, scripted).get("movie", "/movie/9", TmdbMovieDetail)
    assert raised.value.status == status
    assert len(scripted.calls) == 1


@pytest.mark.parametrize("status", [401])
async def test_invalid_key_is_503_and_logged(
    catalog_settings: CatalogSettings,
    scripted: ScriptedTmdb,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scripted.handler = lambda request: _json({"success": False, "status_code": 7}, status)
    with pytest.raises(TmdbUnavailable) as raised:
        await _client(catalog_settings, scripted).get("movie", "/movie/9", TmdbMovieDetail)
    assert raised.value.status == 503
    assert "TMDB_API_KEY" in caplog.text
    assert "test-key" not in caplog.text


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_transient_statuses_are_retried_then_succeed(
    catalog_settings: CatalogSettings, scripted: ScriptedTmdb, status: int
) -> None:
    answers = iter([_json({}, status, {"Retry-After": "0"}), _json(movie_json(3))])
    scripted.handler = lambda request: next(answers)
    movie = await _client(catalog_settings, scripted).get("movie", "/movie/3", TmdbMovieDetail)
    assert movie.id == 3
    assert len(scripted.calls) == 2


async def test_retries_are_bounded(
    catalog_settings: CatalogSettings, scripted: ScriptedTmdb
) -> None:
    scripted.handler = lambda request: _json({"status_code": 25}, 429, {"Retry-After": "0"})
    client = _client(catalog_settings, scripted, tmdb_max_attempts=3, tmdb_breaker_failures=100)
    with pytest.raises(TmdbUnavailable) as raised:
        await client.get("movie", "/movie/3", TmdbMovieDetail)
    assert raised.value.status == 503
    assert len(scripted.calls) == 3


async def test_retry_after_beyond_the_budget_gives_up_at_once(
    catalog_settings: CatalogSettings, scripted: ScriptedTmdb
) -> None:
    scripted.handler = lambda request: _json({"status_code": 25}, 429, {"Retry-After": "60"})
    started = time.monotonic()
    with pytest.raises(TmdbUnavailable):
        await _client(catalog_settings, scripted).get("movie", "/movie/3", TmdbMovieDetail)
    assert time.monotonic() - started < 1
    assert len(scripted.calls) == 1


@pytest.mark.parametrize(
    ("error", "status"), [(httpx.ReadTimeout("slow"), 504), (httpx.ConnectError("refused"), 503)]
)
async def test_timeouts_and_connection_errors(
    catalog_settings: CatalogSettings, scripted: ScriptedTmdb, error: Exception, status: int
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    scripted.handler = handler
    client = _client(catalog_settings, scripted, tmdb_max_attempts=2, tmdb_breaker_failures=100)
    with pytest.raises(TmdbUnavailable) as raised:
        await client.get("movie", "/movie/3", TmdbMovieDetail)
    assert raised.value.status == status
    assert len(scripted.calls) == 2


async def test_real_timeout_against_a_slow_server(
    catalog_settings: CatalogSettings, sandbox_app: Starlette
) -> None:
    """A slow answer from a real socket trips the read timeout (loopback server, no doubles)."""
    import asyncio

    async def slow_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1000)
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(slow_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = catalog_settings.model_copy(
        update={
            "tmdb_base_url": f"http://127.0.0.1:{port}/3",
            "tmdb_read_timeout_s": 0.3,
            "tmdb_max_attempts": 1,
        }
    )
    client = TmdbClient(settings)
    started = time.monotonic()
    with pytest.raises(TmdbUnavailable) as raised:
        await client.get("movie", "/movie/1", TmdbMovieDetail)
    assert raised.value.status == 504
    assert time.monotonic() - started < 2
    await client.close()
    server.close()


async def test_circuit_opens_and_recovers(
    catalog_settings: CatalogSettings, scripted: ScriptedTmdb
) -> None:
    healthy = False
    scripted.handler = lambda request: _json(movie_json(1)) if healthy else _json({}, 500)
    client = _client(
        catalog_settings, scripted, tmdb_breaker_failures=3, tmdb_breaker_cooldown_s=0.3
    )
    for _ in range(3):
        with pytest.raises(TmdbUnavailable):
            await client.get("movie", "/movie/1", TmdbMovieDetail)
    assert client.breaker.state is BreakerState.OPEN
    calls = len(scripted.calls)
    with pytest.raises(TmdbUnavailable, match="paused"):
        await client.get("movie", "/movie/1", TmdbMovieDetail)
    assert len(scripted.calls) == calls  # not called while open
    healthy = True
    import asyncio

    await asyncio.sleep(0.35)
    assert (await client.get("movie", "/movie/1", TmdbMovieDetail)).id == 1
    assert client.breaker.state is BreakerState.CLOSED


def test_breaker_half_open_lets_one_trial_through() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=10, clock=lambda: now[0])
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert not breaker.allow()
    now[0] = 10.0
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # only one at a time
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    now[0] = 20.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


async def test_rate_limit_spaces_calls(
    catalog_settings: CatalogSettings, scripted: ScriptedTmdb
) -> None:
    import asyncio

    scripted.handler = lambda request: _json(movie_json(1))
    client = _client(catalog_settings, scripted, tmdb_rate_limit_per_s=20)
    started = time.monotonic()
    await asyncio.gather(*(client.get("movie", "/movie/1", TmdbMovieDetail) for _ in range(30)))
    # 20 in the first burst, then 10 more at 20 a second.
    assert time.monotonic() - started >= 0.4


async def test_against_the_sandbox(
    catalog_settings: CatalogSettings, sandbox_app: Starlette
) -> None:
    client = TmdbClient(catalog_settings, transport=httpx.ASGITransport(app=sandbox_app))
    page = await client.get("trending", "/trending/movie/week", TmdbPage, {"page": 1})
    assert len(page.results) == 20 and page.total_pages >= 1
    detail = await client.get("movie", f"/movie/{page.results[0].id}", TmdbMovieDetail)
    assert detail.title == page.results[0].title
    with pytest.raises(TmdbNotFound):
        await client.get("movie", "/movie/999999", TmdbMovieDetail)
    recommendations = await client.get("recommendations", "/movie/1/recommendations", TmdbPage)
    assert recommendations.results and all(m.id != 1 for m in recommendations.results)
    found = await client.get("search", "/search/movie", TmdbPage, {"query": "godfather"})
    assert any(m.title == "The Godfather" for m in found.results)
    await client.close()


def test_page_payload_helper_is_valid() -> None:
    assert TmdbPage.model_validate(page_json(1, 2)).total_results == 2


@pytest.mark.parametrize(("key", "works"), [("sandbox-secret", True), ("wrong-key", False)])
async def test_keyed_tmdb_compatible_server(
    catalog_settings: CatalogSettings, sandbox_app: Starlette, key: str, works: bool
) -> None:
    from tmdb_sandbox.app import create_app
    from tmdb_sandbox.config import SandboxSettings

    keyed = create_app(SandboxSettings(api_key="sandbox-secret"), world=sandbox_app.state.world)
    settings = catalog_settings.model_copy(update={"tmdb_api_key": SecretStr(key)})
    client = TmdbClient(settings, transport=httpx.ASGITransport(app=keyed))
    if works:
        assert (await client.get("movie", "/movie/1", TmdbMovieDetail)).id == 1
    else:
        with pytest.raises(TmdbUnavailable) as raised:
            await client.get("movie", "/movie/1", TmdbMovieDetail)
        assert raised.value.status == 503
    await client.close()


async def test_redirects_are_never_followed(
    catalog_settings: CatalogSettings, scripted: ScriptedTmdb
) -> None:
    scripted.handler = lambda request: httpx.Response(
        302, headers={"Location": "http://evil.example/x"}
    )
    with pytest.raises(TmdbUnavailable) as raised:
        await _client(catalog_settings, scripted).get("movie", "/movie/1", TmdbMovieDetail)
    assert raised.value.status == 502
    assert scripted.calls == ["/3/movie/1"]  # the Location was not visited
