"""The OWASP API Security Top 10 (2023) cases that apply here, through the gateway.

API1 object-level authorization, API2 broken authentication, API3 object property level
authorization, API4 unrestricted resource consumption, API10 unsafe consumption of APIs
(TMDb). Token forgery in depth is in test_auth.py, TMDb faults in test_movies.py; this module
gathers one check per case so the list can be read in one place.
"""

import time
from collections.abc import Callable

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import PASSWORD, assert_problem, refresh_after_time_passes

NewUser = Callable[..., dict[str, str]]


def _auth(user: dict[str, str]) -> dict[str, str]:
    return {"Authorization": user["authorization"]}


def _eventually(fetch: Callable[[], list[dict[str, object]]], within_s: float) -> list:  # type: ignore[type-arg]
    deadline = time.monotonic() + within_s
    while not (found := fetch()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


# --- API1: broken object level authorization ------------------------------------------------
def test_api1_a_user_cannot_read_change_or_delete_anothers_objects(
    api: httpx.Client, new_user: NewUser, stack: Stack
) -> None:
    movie = 1401  # one no other test reviews
    alice, mallory = new_user(), new_user()
    a, m = _auth(alice), _auth(mallory)
    assert api.post("/favorites", json={"movie_id": movie}, headers=a).status_code == 201
    assert api.put(f"/movies/{movie}/rating", json={"score": 8}, headers=a).status_code in (
        200,
        201,
    )
    review = api.post(
        f"/movies/{movie}/reviews", json={"body": "mine", "score": 8}, headers=a
    ).json()
    assert api.post("/me/history", json={"movie_id": movie}, headers=a).status_code == 201
    time.sleep(1)  # the user.registered events make both subscribers
    refresh_after_time_passes(stack, days=30)  # new trending titles: a notification each
    notifications = _eventually(
        lambda: api.get("/notifications", headers=a).json()["results"], within_s=15
    )
    assert notifications, "alice got no notification to try with"

    # reading
    assert_problem(api.get(f"/favorites/{movie}", headers=m), 404)
    assert api.get("/favorites", headers=m).json()["total_results"] == 0
    assert api.get("/me/ratings", headers=m).json()["total_results"] == 0
    assert api.get("/me/history", headers=m).json()["total_results"] == 0
    assert all(n["id"] != notifications[0]["id"] for n in api.get(
        "/notifications", headers=m).json()["results"])  # fmt: skip
    # changing and deleting
    assert_problem(api.delete(f"/favorites/{movie}", headers=m), 404)
    assert_problem(api.delete(f"/movies/{movie}/rating", headers=m), 404)
    assert_problem(api.patch(f"/reviews/{review['id']}", json={"body": "x"}, headers=m), 403)
    assert_problem(api.delete(f"/reviews/{review['id']}", headers=m), 403)
    assert_problem(api.delete(f"/me/history/{movie}", headers=m), 404)
    assert_problem(api.post(f"/notifications/{notifications[0]['id']}/read", headers=m), 404)
    # and nothing of alice's moved
    assert api.get(f"/favorites/{movie}", headers=a).status_code == 200
    assert api.get("/me/ratings", headers=a).json()["total_results"] == 1
    assert api.get(f"/movies/{movie}/reviews").json()["results"][0]["body"] == "mine"
    assert api.get("/me/history", headers=a).json()["total_results"] == 1
    assert all(n["read_at"] is None for n in api.get("/notifications", headers=a).json()["results"])


# --- API2: broken authentication --------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/me", "/favorites", "/me/ratings", "/me/history", "/notifications",
             "/recommendations"],
)  # fmt: skip
def test_api2_every_private_route_needs_a_valid_token(api: httpx.Client, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer not.a.token"}, {"Authorization": "Basic eDp5"}):
        response = api.get(path, headers=headers)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_api2_a_spent_refresh_token_ends_the_login(api: httpx.Client, new_user: NewUser) -> None:
    user = new_user()
    first = api.post("/auth/refresh", json={"refresh_token": user["refresh_token"]})
    assert first.status_code == 200
    assert_problem(api.post("/auth/refresh", json={"refresh_token": user["refresh_token"]}), 401)
    # the reuse revoked the whole login: the token pair it had just issued is dead too
    rotated = first.json()
    assert_problem(api.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]}), 401)
    assert_problem(api.get("/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}),
                   401)  # fmt: skip


def test_api2_logout_revokes_at_once(api: httpx.Client, new_user: NewUser) -> None:
    headers = _auth(new_user())
    assert api.get("/me", headers=headers).status_code == 200
    assert api.post("/auth/logout", headers=headers).status_code == 204
    assert_problem(api.get("/me", headers=headers), 401)


# --- API3: broken object property level authorization ----------------------------------------
def test_api3_no_hash_or_internal_field_in_any_answer(api: httpx.Client, new_user: NewUser) -> None:
    user = new_user()
    headers = _auth(user)
    api.post("/favorites", json={"movie_id": 1}, headers=headers)
    answers = [
        api.post("/auth/login", json={"email": user["email"], "password": PASSWORD}),
        api.get("/me", headers=headers),
        api.get("/favorites", headers=headers),
        api.get("/movies/1"),
        api.get("/movies/1/reviews"),
    ]
    for answer in answers:
        text = answer.text.lower()
        for leak in ("argon2", "password", "hash", "internal", "session_id", "token_id"):
            assert leak not in text, f"{answer.request.url} shows {leak!r}"


def test_api3_mass_assignment_is_refused(api: httpx.Client, new_user: NewUser) -> None:
    user = new_user()
    headers = _auth(user)
    for field, value in (
        ("id", "00000000-0000-4000-8000-000000000000"),
        ("email", "x@y.com"),
        ("is_admin", True),
        ("password_hash", "x"),
        ("created_at", "2020-01-01"),
    ):
        assert_problem(api.patch("/me", json={field: value}, headers=headers), 422)
    assert_problem(
        api.post("/auth/register",
                 json={"email": "new@example.com", "password": PASSWORD, "is_admin": True}),
        422,
    )  # fmt: skip
    me = api.get("/me", headers=headers).json()
    assert me["id"] == user["id"] and me["email"] == user["email"]


# --- API4: unrestricted resource consumption -------------------------------------------------
def test_api4_bodies_and_pages_are_bounded(api: httpx.Client, new_user: NewUser) -> None:
    headers = _auth(new_user())
    big = b'{"movie_id": 1, "padding": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert_problem(
        api.post(
            "/favorites", content=big, headers={**headers, "Content-Type": "application/json"}
        ),
        413,
    )
    for path in (
        "/favorites?limit=101",
        "/favorites?page=501",
        "/me/history?page=0",
        "/recommendations?limit=1000",
        "/movies/trending?page=10000",
    ):
        assert_problem(api.get(path, headers=headers), 422)
    assert_problem(api.post("/movies/1/reviews", json={"body": "x" * 5001}, headers=headers), 422)


@pytest.mark.own_processes
def test_api4_request_rates_are_bounded(stack: Stack) -> None:
    with httpx.Client(base_url=f"{stack.url('gateway-limited')}/api/v1") as limited:
        statuses = [limited.get("/genres").status_code for _ in range(12)]
    assert 429 in statuses


# --- API10: unsafe consumption of APIs (TMDb) ------------------------------------------------
def test_api10_tmdb_garbage_and_redirects_never_reach_users(
    api: httpx.Client, stack: Stack
) -> None:
    with httpx.Client(base_url=stack.url("sandbox")) as sandbox:
        # ids never asked for before, so there is no cached copy to fall back on
        for mode, movie_id in (("garbage", 1298), ("redirect", 1299)):
            sandbox.post("/__admin/faults", json={"path": f"/3/movie/{movie_id}", "mode": mode})
            try:
                response = api.get(f"/movies/{movie_id}")
            finally:
                sandbox.delete("/__admin/faults")
            assert_problem(response, 502)
            assert "attacker" not in response.text
        # the failures count towards the catalog's circuit breaker: let it close again
        time.sleep(1.2)
        assert api.get("/movies/1297").status_code == 200
