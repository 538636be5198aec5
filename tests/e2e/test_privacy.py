"""A user's whole state: one title in one call, "not interested", the export of everything
and the deletion of the account in every service, through the gateway."""

from collections.abc import Callable

import httpx

from tests.e2e.conftest import Stack
from tests.e2e.helpers import PASSWORD, assert_problem, bearer, until

NewUser = Callable[..., dict[str, str]]
STATE_KEYS = {
    "movie_id",
    "favorite",
    "on_watchlist",
    "rating",
    "watched_at",
    "review_id",
    "not_interested",
    "list_ids",
}


def test_one_title_in_one_call(api: httpx.Client, new_user: NewUser) -> None:
    headers = bearer(new_user())
    blank = api.get("/movies/31/me", headers=headers)
    assert blank.status_code == 200, blank.text
    assert blank.json() == {
        "movie_id": 31,
        "favorite": False,
        "on_watchlist": False,
        "rating": None,
        "watched_at": None,
        "review_id": None,
        "not_interested": False,
        "list_ids": [],
    }
    assert api.post("/favorites", json={"movie_id": 31}, headers=headers).status_code == 201
    assert api.post("/watchlist", json={"movie_id": 31}, headers=headers).status_code == 201
    assert api.put("/movies/31/rating", json={"score": 8}, headers=headers).status_code == 200
    watched = api.post("/me/history", json={"movie_id": 31}, headers=headers)
    assert watched.status_code == 201
    review = api.post("/movies/31/reviews", json={"body": "Loved it"}, headers=headers)
    assert api.put("/movies/31/not-interested", headers=headers).status_code == 204
    state = api.get("/movies/31/me", headers=headers).json()
    assert set(state) == STATE_KEYS
    assert state["favorite"] and state["on_watchlist"] and state["not_interested"]
    assert state["rating"] == 8.0 and state["review_id"] == review.json()["id"]
    assert state["watched_at"] == watched.json()["watched_at"]
    assert_problem(api.get("/movies/999999/me", headers=headers), 404)
    assert_problem(api.get("/movies/abc/me", headers=headers), 422)
    assert_problem(api.get("/movies/31/me"), 401)


def test_not_interested_leaves_the_recommendations(api: httpx.Client, new_user: NewUser) -> None:
    headers = bearer(new_user())
    assert api.post("/favorites", json={"movie_id": 50}, headers=headers).status_code == 201

    def recommended() -> list[int]:
        return [m["id"] for m in api.get("/recommendations", headers=headers).json()["results"]]

    until(lambda: 50 not in recommended() and bool(recommended()), 2, "the favorite's effect")
    target = recommended()[0]
    assert api.put(f"/movies/{target}/not-interested", headers=headers).status_code == 204
    assert api.put(f"/movies/{target}/not-interested", headers=headers).status_code == 204
    until(lambda: target not in recommended(), 2, "the hidden title leaving them")
    assert api.delete(f"/movies/{target}/not-interested", headers=headers).status_code == 204
    assert_problem(api.delete(f"/movies/{target}/not-interested", headers=headers), 404)
    until(lambda: target in recommended(), 2, "the title coming back")
    assert_problem(api.put("/movies/999999/not-interested", headers=headers), 404)
    assert_problem(api.put(f"/movies/{target}/not-interested"), 401)


def test_watching_takes_a_title_off_the_watchlist_when_asked(
    api: httpx.Client, new_user: NewUser
) -> None:
    headers = bearer(new_user())
    for movie_id in (41, 42):
        assert (
            api.post("/watchlist", json={"movie_id": movie_id}, headers=headers).status_code == 201
        )
    assert api.post("/me/history", json={"movie_id": 41}, headers=headers).status_code == 201
    listed = api.get("/watchlist", headers=headers).json()["results"]
    assert {item["movie"]["id"] for item in listed} == {41, 42}  # off by default: kept
    changed = api.patch(
        "/me", json={"preferences": {"remove_watched_from_watchlist": True}}, headers=headers
    )
    assert changed.json()["preferences"]["remove_watched_from_watchlist"] is True

    def watch_42_and_check() -> bool:
        api.post("/me/history", json={"movie_id": 42}, headers=headers)
        ids = {
            item["movie"]["id"] for item in api.get("/watchlist", headers=headers).json()["results"]
        }
        return 42 not in ids

    until(watch_42_and_check, 5, "the watched title leaving the watchlist")
    assert api.get("/movies/42/me", headers=headers).json()["on_watchlist"] is False


def _export(api: httpx.Client, headers: dict[str, str]) -> dict:  # type: ignore[type-arg]
    response = api.get("/me/export", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_export_holds_everything(api: httpx.Client, new_user: NewUser) -> None:
    user = new_user()
    headers = bearer(user)
    api.patch(
        "/me", json={"display_name": "Exporter", "preferences": {"genres": [18]}}, headers=headers
    )
    api.post("/favorites", json={"movie_id": 61}, headers=headers)
    api.post("/watchlist", json={"movie_id": 62}, headers=headers)
    api.put("/movies/63/rating", json={"score": 7.5}, headers=headers)
    api.post("/movies/64/reviews", json={"body": "Fine", "score": 6}, headers=headers)
    api.post("/me/history", json={"movie_id": 65}, headers=headers)
    api.put("/movies/66/not-interested", headers=headers)
    exported = _export(api, headers)
    assert set(exported) == {
        "exported_at",
        "profile",
        "favorites",
        "watchlist",
        "not_interested",
        "ratings",
        "reviews",
        "history",
        "lists",
        "imports",
        "notifications",
        "taste_signals",
    }
    profile = exported["profile"]
    assert (profile["id"], profile["email"]) == (user["id"], user["email"])
    assert profile["display_name"] == "Exporter" and profile["preferences"]["genres"] == [18]
    assert [f["movie_id"] for f in exported["favorites"]] == [61]
    assert [w["movie_id"] for w in exported["watchlist"]] == [62]
    assert exported["ratings"][0]["movie_id"] == 63 and exported["ratings"][0]["score"] == 7.5
    assert exported["reviews"][0]["body"] == "Fine" and exported["reviews"][0]["movie_id"] == 64
    assert [h["movie_id"] for h in exported["history"]] == [65]
    assert [n["movie_id"] for n in exported["not_interested"]] == [66]
    assert isinstance(exported["notifications"], list)
    until(
        lambda: (
            {s["movie_id"] for s in _export(api, headers)["taste_signals"]} >= {61, 62, 63, 65, 66}
        ),
        5,
        "the taste signals in the export",
    )
    other = _export(api, bearer(new_user()))
    assert other["favorites"] == [] and other["ratings"] == []  # only one's own
    assert_problem(api.get("/me/export"), 401)


def test_deletion_needs_the_password(api: httpx.Client, new_user: NewUser) -> None:
    headers = bearer(new_user())
    wrong = api.post("/me/delete", json={"password": "not the password"}, headers=headers)
    assert_problem(wrong, 401)
    for body in ({}, {"password": ""}, {"password": 5}, {"password": PASSWORD, "extra": 1}):
        assert_problem(api.post("/me/delete", json=body, headers=headers), 422)
    assert api.get("/me", headers=headers).status_code == 200  # nothing happened
    assert_problem(api.post("/me/delete", json={"password": PASSWORD}), 401)


def _internal_export(stack: Stack, service: str, user_id: str) -> object:
    response = httpx.get(
        f"{stack.url(service)}/internal/users/{user_id}/export",
        headers={"x-internal-token": stack.env["INTERNAL_SECRET"]},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_deleting_the_account_removes_it_everywhere(
    api: httpx.Client, new_user: NewUser, stack: Stack
) -> None:
    user = new_user()
    headers = bearer(user)
    movie_id = 71
    before = api.get(f"/movies/{movie_id}").json()["community_rating"]["count"]
    assert (
        api.put(f"/movies/{movie_id}/rating", json={"score": 9}, headers=headers).status_code == 200
    )
    api.post("/favorites", json={"movie_id": 72}, headers=headers)
    api.post("/movies/73/reviews", json={"body": "Gone soon"}, headers=headers)
    api.post("/me/history", json={"movie_id": 74}, headers=headers)
    api.post("/watchlist", json={"movie_id": 75}, headers=headers)
    until(
        lambda: api.get(f"/movies/{movie_id}").json()["community_rating"]["count"] == before + 1,
        5,
        "the rating in the community average",
    )

    assert_problem(
        api.post("/me/delete", json={"password": "not the password"}, headers=headers), 401
    )
    for body in ({}, {"password": ""}, {"password": 5}, {"password": PASSWORD, "extra": 1}):
        assert_problem(api.post("/me/delete", json=body, headers=headers), 422)
    assert api.get("/me", headers=headers).status_code == 200  # nothing happened yet

    assert api.post("/me/delete", json={"password": PASSWORD}, headers=headers).status_code == 204
    for gateway in stack.gateway_replicas():  # its tokens stop at once, everywhere
        refused = httpx.get(f"{gateway}/api/v1/me", headers=headers, timeout=10)
        assert refused.status_code == 401, gateway
    assert_problem(api.post("/auth/refresh", json={"refresh_token": user["refresh_token"]}), 401)
    assert_problem(
        api.post("/auth/login", json={"email": user["email"], "password": PASSWORD}), 401
    )

    empty_library = {
        "favorites": [],
        "watchlist": [],
        "not_interested": [],
        "ratings": [],
        "reviews": [],
        "history": [],
        "lists": [],
        "imports": [],
    }
    until(
        lambda: _internal_export(stack, "library", user["id"]) == empty_library,
        5,
        "the library forgetting the account",
    )
    until(
        lambda: _internal_export(stack, "recommendations", user["id"]) == {"taste_signals": []},
        5,
        "the taste profile forgotten",
    )
    assert _internal_export(stack, "notifications", user["id"]) == []
    until(
        lambda: api.get(f"/movies/{movie_id}").json()["community_rating"]["count"] == before,
        5,
        "the rating leaving the community average",
    )
    reviews = api.get("/movies/73/reviews").json()["results"]
    assert all(review["author"]["id"] != user["id"] for review in reviews)

    again = api.post("/auth/register", json={"email": user["email"], "password": PASSWORD})
    assert again.status_code == 201 and again.json()["id"] != user["id"]  # the email is free
    login = api.post("/auth/login", json={"email": user["email"], "password": PASSWORD}).json()
    fresh = _export(api, {"Authorization": f"Bearer {login['access_token']}"})
    assert fresh["favorites"] == [] and fresh["ratings"] == [] and fresh["reviews"] == []
