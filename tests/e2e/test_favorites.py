"""Favorites through the gateway, and their events reaching consumers."""

import concurrent.futures
import time
from collections.abc import Callable

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import assert_problem

NewUser = Callable[..., dict[str, str]]


def _auth(user: dict[str, str]) -> dict[str, str]:
    return {"Authorization": user["authorization"]}


def test_add_get_list_and_remove(api: httpx.Client, new_user: NewUser) -> None:
    headers = _auth(new_user())
    created = api.post("/favorites", json={"movie_id": 1}, headers=headers)
    assert created.status_code == 201
    assert created.headers["location"] == "/api/v1/favorites/1"
    assert set(created.json()) == {"movie_id", "added_at"}
    again = api.post("/favorites", json={"movie_id": 1}, headers=headers)
    assert again.status_code == 200 and again.json() == created.json()
    assert api.post("/favorites", json={"movie_id": 50}, headers=headers).status_code == 201
    assert api.get("/favorites/1", headers=headers).json() == created.json()

    listing = api.get("/favorites", headers=headers)
    assert listing.status_code == 200
    body = listing.json()
    assert (body["page"], body["total_pages"], body["total_results"]) == (1, 1, 2)
    assert [item["movie"]["id"] for item in body["results"]] == [50, 1]  # newest first
    assert body["results"][1]["movie"]["title"] == "Toy Story"
    assert set(body["results"][0]) == {"movie", "added_at"}
    assert api.get("/favorites", headers=headers).json() == body  # now the cached page
    # a change shows in the very next read, cached page or not
    assert api.post("/favorites", json={"movie_id": 7}, headers=headers).status_code == 201
    listed = api.get("/favorites", headers=headers).json()["results"]
    assert [item["movie"]["id"] for item in listed] == [7, 50, 1]
    assert api.delete("/favorites/7", headers=headers).status_code == 204

    assert api.delete("/favorites/1", headers=headers).status_code == 204
    assert_problem(api.delete("/favorites/1", headers=headers), 404)
    assert_problem(api.get("/favorites/1", headers=headers), 404)
    assert [i["movie"]["id"] for i in api.get("/favorites", headers=headers).json()["results"]] == [
        50
    ]


def test_a_cached_page_is_never_served_to_a_revoked_token(
    api: httpx.Client, new_user: NewUser, stack: Stack
) -> None:
    headers = _auth(new_user())
    assert api.post("/favorites", json={"movie_id": 1}, headers=headers).status_code == 201

    def reached_favorites(request_id: str, within_s: float) -> bool:
        deadline = time.monotonic() + within_s  # access lines are written within 50 ms
        while time.monotonic() < deadline:
            if f'"request_id":"{request_id}"' in stack.log_text("library"):
                return True
            time.sleep(0.05)
        return False

    first = api.get("/favorites", headers=headers)
    assert first.status_code == 200
    assert reached_favorites(first.headers["x-request-id"], within_s=5)  # computed, cached
    again = api.get("/favorites", headers=headers)
    assert again.content == first.content
    # the cached page came from the gateway: the library service never saw this request
    assert not reached_favorites(again.headers["x-request-id"], within_s=0.5)
    assert api.post("/auth/logout", headers=headers).status_code == 204
    assert_problem(api.get("/favorites", headers=headers), 401)


def test_unknown_movie_is_404(api: httpx.Client, new_user: NewUser) -> None:
    assert_problem(
        api.post("/favorites", json={"movie_id": 999999}, headers=_auth(new_user())), 404
    )


@pytest.mark.parametrize(
    "body",
    [
        {"movie_id": "abc"},
        {"movie_id": -1},
        {"movie_id": 0},
        {"movie_id": 1.5},
        {},
        {"movie_id": "5"},
        {"movie_id": None},
        {"movie_id": 1, "user_id": "x"},
        [1],
    ],
)
def test_bad_bodies_are_422(api: httpx.Client, new_user: NewUser, body: object) -> None:
    assert_problem(api.post("/favorites", json=body, headers=_auth(new_user())), 422)


@pytest.mark.parametrize("path", ["/favorites/abc", "/favorites/0", "/favorites/-3"])
def test_bad_ids_are_422(api: httpx.Client, new_user: NewUser, path: str) -> None:
    headers = _auth(new_user())
    assert_problem(api.get(path, headers=headers), 422)
    assert_problem(api.delete(path, headers=headers), 422)


def test_no_token_is_401(api: httpx.Client) -> None:
    assert_problem(api.get("/favorites"), 401)
    assert_problem(api.post("/favorites", json={"movie_id": 1}), 401)
    assert_problem(api.get("/favorites/1"), 401)
    assert_problem(api.delete("/favorites/1"), 401)


def test_users_only_see_their_own(api: httpx.Client, new_user: NewUser) -> None:
    alice, bob = _auth(new_user()), _auth(new_user())
    assert api.post("/favorites", json={"movie_id": 7}, headers=alice).status_code == 201
    assert_problem(api.get("/favorites/7", headers=bob), 404)
    assert_problem(api.delete("/favorites/7", headers=bob), 404)
    assert api.get("/favorites", headers=bob).json()["total_results"] == 0
    assert api.get("/favorites/7", headers=alice).status_code == 200


def test_twenty_concurrent_adds(stack: Stack, new_user: NewUser) -> None:
    headers = _auth(new_user())

    def add(_: int) -> int:
        with httpx.Client(base_url=f"{stack.url('gateway')}/api/v1", timeout=20) as client:
            return client.post("/favorites", json={"movie_id": 9}, headers=headers).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(add, range(20)))
    assert statuses.count(201) == 1 and statuses.count(200) == 19
    with httpx.Client(base_url=f"{stack.url('gateway')}/api/v1") as client:
        assert client.get("/favorites", headers=headers).json()["total_results"] == 1


def test_paging(api: httpx.Client, new_user: NewUser) -> None:
    headers = _auth(new_user())
    for movie_id in (11, 12, 13):
        assert (
            api.post("/favorites", json={"movie_id": movie_id}, headers=headers).status_code == 201
        )
    second = api.get("/favorites", params={"page": 2, "limit": 2}, headers=headers).json()
    assert (second["page"], second["total_pages"], second["total_results"]) == (2, 2, 3)
    assert [i["movie"]["id"] for i in second["results"]] == [11]
    for params in ({"limit": 0}, {"limit": 101}, {"page": 0}, {"page": 501}):
        assert_problem(api.get("/favorites", params=params, headers=headers), 422)


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_events_flow_through_outbox_to_the_consumer(
    api: httpx.Client, new_user: NewUser, stack: Stack
) -> None:
    headers = _auth(new_user())
    consumed = f'events_consumed_total{{queue="{stack.env["BUS_NAMESPACE"]}.'
    before = _metric(stack.metrics("recommendations"), consumed)
    assert api.post("/favorites", json={"movie_id": 21}, headers=headers).status_code == 201
    assert api.delete("/favorites/21", headers=headers).status_code == 204
    deadline = time.monotonic() + 20
    while _metric(stack.metrics("recommendations"), consumed) < before + 2:
        assert time.monotonic() < deadline, "events not consumed"
        time.sleep(0.1)
    # The relay records confirms (and recounts its backlog) just after the consumer may be done;
    # every replica's backlog is empty (the sum of non-negative figures is 0).
    while _metric(stack.metrics("library"), "outbox_pending_events ") != 0:
        assert time.monotonic() < deadline + 5, "the outbox did not drain"
        time.sleep(0.1)
    favorites_metrics = stack.metrics("library")
    assert _metric(favorites_metrics, 'events_published_total{type="favorite.added"}') >= 1
