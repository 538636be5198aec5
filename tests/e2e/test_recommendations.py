"""Recommendations through the gateway."""

import time
from collections.abc import Callable

import httpx

from tests.e2e.conftest import Stack
from tests.e2e.helpers import assert_problem

NewUser = Callable[..., dict[str, str]]
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


def _recommendations(api: httpx.Client, headers: dict[str, str], **params: object) -> dict:  # type: ignore[type-arg]
    response = api.get("/recommendations", headers=headers, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"page", "total_pages", "total_results", "results"}
    for item in body["results"]:
        assert set(item) == SUMMARY_KEYS | {"score", "reasons"}
        assert isinstance(item["score"], float)
        assert item["reasons"] and all(isinstance(r, str) and r for r in item["reasons"])
    return body  # type: ignore[no-any-return]


def test_no_token_is_401(api: httpx.Client) -> None:
    assert_problem(api.get("/recommendations"), 401)


def test_a_new_user_gets_trending(api: httpx.Client, new_user: NewUser) -> None:
    body = _recommendations(api, {"Authorization": new_user()["authorization"]}, limit=10)
    assert len(body["results"]) == 10
    assert any("Trending this week" in item["reasons"] for item in body["results"])
    assert_problem(
        api.get(
            "/recommendations",
            params={"limit": 0},
            headers={"Authorization": new_user()["authorization"]},
        ),
        422,
    )


def test_a_new_user_with_preferred_genres_gets_those_genres(
    api: httpx.Client, new_user: NewUser
) -> None:
    headers = {"Authorization": new_user()["authorization"]}
    assert (
        api.patch("/me", json={"preferences": {"genres": [878]}}, headers=headers).status_code
        == 200
    )
    deadline = time.monotonic() + 5
    while True:  # the preference travels as an event
        results = _recommendations(api, headers)["results"]
        if results and all(878 in item["genre_ids"] for item in results):
            break
        assert time.monotonic() < deadline, [item["genre_ids"] for item in results]
        time.sleep(0.1)


def test_favorites_change_the_results_within_two_seconds(
    api: httpx.Client, new_user: NewUser
) -> None:
    headers = {"Authorization": new_user()["authorization"]}
    before = [item["id"] for item in _recommendations(api, headers)["results"]]
    favorites = {1: "Toy Story", 50: "Star Wars"}
    for movie_id in favorites:
        assert (
            api.post("/favorites", json={"movie_id": movie_id}, headers=headers).status_code == 201
        )
    started = time.monotonic()
    while True:
        body = _recommendations(api, headers)
        reasons = {reason for item in body["results"] for reason in item["reasons"]}
        shown = {item["id"] for item in body["results"]}
        if not set(favorites) & shown and all(
            f"Because you liked {title}" in reasons for title in favorites.values()
        ):
            break
        assert time.monotonic() - started < 2, "favorites not reflected within 2 s"
        time.sleep(0.05)
    ids = [item["id"] for item in body["results"]]
    assert ids != before
    assert not set(favorites) & set(ids)  # never a movie the user already favorited
    second = _recommendations(api, headers, page=2, limit=5)
    assert second["page"] == 2 and not set(favorites) & {item["id"] for item in second["results"]}


def test_a_cached_page_of_recommendations_is_answered_by_the_gateway(
    api: httpx.Client, new_user: NewUser, stack: Stack
) -> None:
    """The second read of a page never reaches the recommendations service: the gateway
    serves it from the one page cache, as it does favorites."""
    headers = {"Authorization": new_user()["authorization"]}
    first = api.get("/recommendations", headers=headers)
    assert first.status_code == 200
    request_id = first.headers["x-request-id"]
    deadline = time.monotonic() + 5  # access lines are written within 50 ms
    while f'"request_id":"{request_id}"' not in stack.log_text("recommendations"):
        assert time.monotonic() < deadline, "the first read never reached the service"
        time.sleep(0.05)
    again = api.get("/recommendations", headers=headers)
    assert again.content == first.content
    time.sleep(0.5)
    assert f'"request_id":"{again.headers["x-request-id"]}"' not in stack.log_text(
        "recommendations"
    )
