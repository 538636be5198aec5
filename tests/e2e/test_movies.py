"""Movies through the gateway, on the TMDb sandbox, faults included."""

import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from catalog.cache import Entry
from catalog.locale import DEFAULT_LOCALE
from tests.e2e.conftest import Stack
from tests.e2e.helpers import assert_problem, catalog_keys

SUMMARY_KEYS = {
    "id",
    "title",
    "overview",
    "release_date",
    "genre_ids",
    "vote_average",
    "vote_count",
    "popularity",
    "poster_url",
}
DETAIL_KEYS = SUMMARY_KEYS | {
    "genres",
    "runtime",
    "tagline",
    "status",
    "original_language",
    "backdrop_url",
    "community_rating",
}
# The parts API.md names, all of them in an answer without ?include=
DETAIL_PARTS = {
    "credits",
    "videos",
    "watch_providers",
    "certification",
    "collection",
    "external_ids",
    "keywords",
}
DETAIL_KEYS |= DETAIL_PARTS


def _assert_page(response: httpx.Response) -> dict:  # type: ignore[type-arg]
    assert response.status_code == 200, response.text
    assert response.headers["x-cache"] in {"HIT", "MISS", "STALE"}
    body = response.json()
    assert set(body) == {"page", "total_pages", "total_results", "results"}
    for movie in body["results"]:
        assert set(movie) == SUMMARY_KEYS
    return body  # type: ignore[no-any-return]


@pytest.fixture
def sandbox(stack: Stack, api: httpx.Client) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url("sandbox")) as client:
        yield client
        client.delete("/__admin/faults")
    # TMDb failures are counted process-wide by the catalog's circuit breaker: after its
    # cool-down, one successful uncached call closes it again for the next test.
    time.sleep(1.1)
    query = f"breaker-reset-{time.monotonic_ns()}"
    assert api.get("/movies/search", params={"query": query}).status_code == 200


@pytest.mark.parametrize("window", ["day", "week"])
def test_trending(api: httpx.Client, window: str) -> None:
    body = _assert_page(api.get("/movies/trending", params={"window": window}))
    assert body["page"] == 1 and len(body["results"]) == 20
    second = _assert_page(api.get("/movies/trending", params={"window": window, "page": 2}))
    assert second["page"] == 2 and second["results"]


@pytest.mark.parametrize(
    "params", [{"window": "month"}, {"page": 0}, {"page": 501}, {"page": "abc"}]
)
def test_trending_bad_parameters(api: httpx.Client, params: dict[str, object]) -> None:
    assert_problem(api.get("/movies/trending", params=params), 422)


def test_movie_details_miss_then_hit(api: httpx.Client) -> None:
    first = api.get("/movies/12")
    assert first.status_code == 200
    assert set(first.json()) == DETAIL_KEYS
    assert first.json()["community_rating"] == {"average": None, "count": 0}
    assert first.headers["x-cache"] in {"MISS", "HIT"}
    time.sleep(1.1)  # past the gateway's one-second copy of the first answer (and its header)
    assert api.get("/movies/12").headers["x-cache"] == "HIT"


def test_unknown_movie_is_404(api: httpx.Client) -> None:
    assert_problem(api.get("/movies/999999"), 404)
    assert_problem(api.get("/movies/999999"), 404)  # negatively cached, still 404


@pytest.mark.parametrize("movie_id", ["abc", "0", "-1", "1.5", "99999999999"])
def test_bad_movie_id_is_422(api: httpx.Client, movie_id: str) -> None:
    assert_problem(api.get(f"/movies/{movie_id}"), 422)


def test_search(api: httpx.Client) -> None:
    body = _assert_page(api.get("/movies/search", params={"query": "godfather"}))
    assert "The Godfather" in [m["title"] for m in body["results"]]
    assert (
        _assert_page(api.get("/movies/search", params={"query": "zzzz-nothing"}))["results"] == []
    )


@pytest.mark.parametrize("params", [{}, {"query": ""}, {"query": "   "}, {"query": "x", "page": 0}])
def test_search_bad_parameters(api: httpx.Client, params: dict[str, object]) -> None:
    assert_problem(api.get("/movies/search", params=params), 422)


def test_similar(api: httpx.Client) -> None:
    body = _assert_page(api.get("/movies/1/similar"))
    assert body["results"] and all(m["id"] != 1 for m in body["results"])
    assert_problem(api.get("/movies/999999/similar"), 404)
    assert_problem(api.get("/movies/abc/similar"), 422)


def test_genres(api: httpx.Client) -> None:
    response = api.get("/genres")
    assert response.status_code == 200 and response.headers["x-cache"] in {"HIT", "MISS"}
    genres = response.json()
    assert {"id": 28, "name": "Action"} in genres


def test_token_is_optional_but_checked(api: httpx.Client, new_user) -> None:  # type: ignore[no-untyped-def]
    user = new_user()
    assert api.get("/movies/1", headers={"Authorization": user["authorization"]}).status_code == 200
    assert_problem(api.get("/movies/1", headers={"Authorization": "Bearer broken"}), 401)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("500", 502),
        ("503", 503),
        ("429", 503),
        ("garbage", 502),
        ("wrong_shape", 502),
        ("invalid_key", 503),
        ("slow", 504),
    ],
)
def test_tmdb_faults_without_a_copy_are_clear_errors(
    api: httpx.Client, sandbox: httpx.Client, mode: str, expected: int
) -> None:
    # Ids no other test touches, so nothing is cached for them yet.
    movie_id = {
        "500": 1601,
        "503": 1602,
        "429": 1603,
        "garbage": 1604,
        "wrong_shape": 1605,
        "invalid_key": 1606,
        "slow": 1607,
    }[mode]
    delay_s = 3 if mode == "slow" else 0  # longer than the catalog's 1 s read timeout here
    sandbox.post(
        "/__admin/faults", json={"path": f"/3/movie/{movie_id}", "mode": mode, "delay_s": delay_s}
    )
    started = time.monotonic()
    response = api.get(f"/movies/{movie_id}")
    assert time.monotonic() - started < 15
    assert_problem(response, expected)
    if expected == 503:
        assert response.headers["retry-after"]


def test_tmdb_failure_serves_the_stale_copy(
    api: httpx.Client, sandbox: httpx.Client, stack: Stack
) -> None:
    fresh = api.get("/movies/1610")
    assert fresh.status_code == 200
    cache = redis.Redis.from_url(stack.env["REDIS_URL"])
    key = catalog_keys(stack).movie(1610, DEFAULT_LOCALE)
    entry = Entry.decode(cache.get(key))  # type: ignore[arg-type]
    cache.set(key, Entry(entry.body, time.time() - 1).encode())  # expire it
    sandbox.post("/__admin/faults", json={"path": "/3/movie/1610", "mode": "503"})
    time.sleep(1.1)  # past the one-second copies the catalog and the gateway keep
    stale = api.get("/movies/1610")
    assert stale.status_code == 200
    assert stale.headers["x-cache"] == "STALE"
    assert stale.json() == fresh.json()


def test_concurrent_requests_reach_tmdb_once(api: httpx.Client, sandbox: httpx.Client) -> None:
    import concurrent.futures

    sandbox.delete("/__admin/stats")
    sandbox.post("/__admin/faults", json={"path": "/3/movie/1611", "mode": "slow", "delay_s": 0.5})
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: api.get("/movies/1611").status_code, range(16)))
    assert statuses == [200] * 16
    assert sandbox.get("/__admin/stats").json()["requests"].get("/3/movie/1611") == 1
