"""The watchlist, ratings, reviews and watch history through the gateway."""

import time
from collections.abc import Callable

import httpx
import pytest

from tests.e2e.helpers import assert_problem, bearer, until

NewUser = Callable[..., dict[str, str]]


def _community(api: httpx.Client, movie_id: int) -> dict[str, object]:
    rating: dict[str, object] = api.get(f"/movies/{movie_id}").json()["community_rating"]
    return rating


# --- ratings --------------------------------------------------------------------------------
def test_rating_and_the_community_average(api: httpx.Client, new_user: NewUser) -> None:
    alice, bob = bearer(new_user()), bearer(new_user())
    movie_id = 1501
    assert _community(api, movie_id) == {"average": None, "count": 0}
    rated = api.put(f"/movies/{movie_id}/rating", json={"score": 8}, headers=alice)
    assert rated.status_code == 200
    assert set(rated.json()) == {"movie_id", "score", "rated_at"} and rated.json()["score"] == 8.0
    assert (
        api.put(f"/movies/{movie_id}/rating", json={"score": 5.5}, headers=bob).status_code == 200
    )
    until(
        lambda: _community(api, movie_id) == {"average": 6.75, "count": 2},
        2,
        "the community average",
    )
    assert (
        api.put(f"/movies/{movie_id}/rating", json={"score": 9.5}, headers=alice).status_code == 200
    )
    until(lambda: _community(api, movie_id) == {"average": 7.5, "count": 2}, 2, "a changed rating")
    assert api.delete(f"/movies/{movie_id}/rating", headers=bob).status_code == 204
    until(lambda: _community(api, movie_id) == {"average": 9.5, "count": 1}, 2, "a removed rating")
    assert_problem(api.delete(f"/movies/{movie_id}/rating", headers=bob), 404)
    mine = api.get("/me/ratings", headers=alice).json()
    assert [(r["movie_id"], r["score"]) for r in mine["results"]] == [(movie_id, 9.5)]
    assert api.get("/me/ratings", headers=bob).json()["total_results"] == 0


def test_concurrent_first_ratings_count_the_user_once(api: httpx.Client, new_user: NewUser) -> None:
    import concurrent.futures

    user, movie_id = bearer(new_user()), 1502
    scores = [float(1 + index % 10) for index in range(16)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(
            pool.map(
                lambda score: api.put(
                    f"/movies/{movie_id}/rating", json={"score": score}, headers=user
                ),
                scores,
            )
        )
    assert [answer.status_code for answer in answers] == [200] * 16
    stored = api.get("/me/ratings", headers=user).json()["results"]
    assert len(stored) == 1
    final = stored[0]["score"]
    until(
        lambda: _community(api, movie_id) == {"average": final, "count": 1},
        3,
        "one user counted once",
    )
    time.sleep(1)  # any extra rating.set would land by now
    assert _community(api, movie_id) == {"average": final, "count": 1}


def test_concurrent_profile_changes_all_last(api: httpx.Client, new_user: NewUser) -> None:
    import concurrent.futures

    user = bearer(new_user())
    changes = [
        {"preferences": {"genres": [18, 35]}},
        {"preferences": {"language": "fr"}},
        {"preferences": {"region": "GB"}},
        {"preferences": {"include_adult": True}},
        {"preferences": {"notify": {"trending": False}}},
        {"display_name": "Many hands"},
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(changes)) as pool:
        statuses = list(
            pool.map(lambda body: api.patch("/me", json=body, headers=user).status_code, changes)
        )
    assert statuses == [200] * len(changes)
    profile = api.get("/me", headers=user).json()
    assert profile["display_name"] == "Many hands"
    preferences = profile["preferences"]
    assert preferences["genres"] == [18, 35]
    assert (preferences["language"], preferences["region"]) == ("fr", "GB")
    assert preferences["include_adult"] is True
    assert preferences["notify"]["trending"] is False


@pytest.mark.parametrize("score", [0, 10.5, 7.3, "text", "8", True, None, -1])
def test_bad_scores_are_422(api: httpx.Client, new_user: NewUser, score: object) -> None:
    assert_problem(
        api.put("/movies/1/rating", json={"score": score}, headers=bearer(new_user())), 422
    )


def test_rating_rules(api: httpx.Client, new_user: NewUser) -> None:
    headers = bearer(new_user())
    assert_problem(api.put("/movies/999999/rating", json={"score": 5}, headers=headers), 404)
    assert_problem(api.put("/movies/1/rating", json={}, headers=headers), 422)
    assert_problem(api.put("/movies/1/rating", json={"score": 5}), 401)
    assert api.put("/movies/1/rating", json={"score": 10}, headers=headers).status_code == 200
    assert api.put("/movies/1/rating", json={"score": 0.5}, headers=headers).json()["score"] == 0.5


@pytest.mark.parametrize("action", ["rated", "watchlisted"])
def test_a_movie_rated_or_watchlisted_leaves_the_recommendations(
    api: httpx.Client, new_user: NewUser, action: str
) -> None:
    headers = bearer(new_user())
    assert api.post("/favorites", json={"movie_id": 50}, headers=headers).status_code == 201

    def recommended() -> list[int]:
        return [m["id"] for m in api.get("/recommendations", headers=headers).json()["results"]]

    until(lambda: 50 not in recommended() and bool(recommended()), 2, "the favorite's effect")
    target = recommended()[0]
    if action == "rated":
        done = api.put(f"/movies/{target}/rating", json={"score": 3}, headers=headers)
        assert done.status_code == 200
    else:
        done = api.post("/watchlist", json={"movie_id": target}, headers=headers)
        assert done.status_code == 201
    until(lambda: target not in recommended(), 2, f"the {action} movie leaving them")


# --- watchlist ------------------------------------------------------------------------------
def test_the_watchlist_is_kept_apart_from_favorites(api: httpx.Client, new_user: NewUser) -> None:
    headers, other = bearer(new_user()), bearer(new_user())
    added = api.post("/watchlist", json={"movie_id": 21}, headers=headers)
    assert added.status_code == 201, added.text
    assert added.headers["location"] == "/api/v1/watchlist/21"
    assert set(added.json()) == {"movie_id", "added_at"}
    again = api.post("/watchlist", json={"movie_id": 21}, headers=headers)
    assert (again.status_code, again.json()) == (200, added.json())
    assert api.post("/watchlist", json={"movie_id": 22}, headers=headers).status_code == 201
    listed = api.get("/watchlist", headers=headers).json()
    assert [item["movie"]["id"] for item in listed["results"]] == [22, 21]
    assert listed["results"][0]["movie"]["title"] and listed["total_results"] == 2
    assert api.get("/favorites", headers=headers).json()["total_results"] == 0  # apart
    assert api.get("/watchlist", headers=other).json()["total_results"] == 0  # per user
    assert_problem(api.delete("/watchlist/21", headers=other), 404)
    assert api.delete("/watchlist/21", headers=headers).status_code == 204
    assert_problem(api.delete("/watchlist/21", headers=headers), 404)
    assert [i["movie"]["id"] for i in api.get("/watchlist", headers=headers).json()["results"]] == [
        22
    ]
    assert_problem(api.post("/watchlist", json={"movie_id": 99999999}, headers=headers), 404)
    for body in ({}, {"movie_id": "x"}, {"movie_id": 0}, {"movie_id": 1, "extra": 1}):
        assert_problem(api.post("/watchlist", json=body, headers=headers), 422)
    assert_problem(api.get("/watchlist", params={"limit": 101}, headers=headers), 422)
    assert_problem(api.get("/watchlist"), 401)


# --- reviews --------------------------------------------------------------------------------
def test_review_rules(api: httpx.Client, new_user: NewUser) -> None:
    author, other = new_user(), new_user()
    assert (
        api.patch("/me", json={"display_name": "Critic"}, headers=bearer(author)).status_code == 200
    )
    movie_id = 1502
    created = api.post(
        f"/movies/{movie_id}/reviews",
        json={"body": "<b>Great</b> & moving", "score": 9},
        headers=bearer(author),
    )
    assert created.status_code == 201, created.text
    review = created.json()
    assert set(review) == {"id", "movie_id", "author", "body", "score", "created_at", "updated_at"}
    assert review["body"] == "<b>Great</b> & moving"  # plain text, stored and returned as is
    assert review["author"]["id"] == author["id"]
    assert_problem(
        api.post(f"/movies/{movie_id}/reviews", json={"body": "again"}, headers=bearer(author)), 409
    )
    assert_problem(
        api.patch(f"/reviews/{review['id']}", json={"body": "mine now"}, headers=bearer(other)), 403
    )
    assert_problem(api.delete(f"/reviews/{review['id']}", headers=bearer(other)), 403)
    edited = api.patch(
        f"/reviews/{review['id']}", json={"body": "Still great"}, headers=bearer(author)
    )
    assert (
        edited.status_code == 200
        and edited.json()["body"] == "Still great"
        and edited.json()["score"] == 9.0
    )

    public = api.get(f"/movies/{movie_id}/reviews")  # no token needed
    assert public.status_code == 200
    listed = public.json()["results"]
    assert [r["id"] for r in listed] == [review["id"]]
    until(
        lambda: (
            api.get(f"/movies/{movie_id}/reviews").json()["results"][0]["author"]["display_name"]
            == "Critic"
        ),
        3,
        "the author's display name",
    )
    assert api.delete(f"/reviews/{review['id']}", headers=bearer(author)).status_code == 204
    assert_problem(api.delete(f"/reviews/{review['id']}", headers=bearer(author)), 404)
    assert_problem(
        api.patch(f"/reviews/{review['id']}", json={"body": "x"}, headers=bearer(author)), 404
    )


@pytest.mark.parametrize(
    "body",
    [
        {"body": ""},
        {"body": "   "},
        {"body": "x" * 5001},
        {"body": 5},
        {},
        {"body": "ok", "score": 11},
    ],
)
def test_bad_reviews_are_422(api: httpx.Client, new_user: NewUser, body: dict[str, object]) -> None:
    assert_problem(api.post("/movies/2/reviews", json=body, headers=bearer(new_user())), 422)


def test_review_limits_and_unknowns(api: httpx.Client, new_user: NewUser) -> None:
    headers = bearer(new_user())
    assert (
        api.post("/movies/3/reviews", json={"body": "x" * 5000}, headers=headers).status_code == 201
    )
    assert_problem(api.post("/movies/999999/reviews", json={"body": "hi"}, headers=headers), 404)
    assert_problem(api.get("/movies/999999/reviews"), 404)
    assert_problem(api.post("/movies/4/reviews", json={"body": "hi"}), 401)
    assert_problem(api.patch("/reviews/not-a-uuid", json={"body": "x"}, headers=headers), 422)
    assert_problem(
        api.patch(
            "/reviews/00000000-0000-0000-0000-000000000000", json={"body": "x"}, headers=headers
        ),
        404,
    )


# --- watch history --------------------------------------------------------------------------
def test_history_and_isolation(api: httpx.Client, new_user: NewUser) -> None:
    alice, bob = bearer(new_user()), bearer(new_user())
    first = api.post(
        "/me/history", json={"movie_id": 1, "watched_at": "2024-01-02T20:00:00Z"}, headers=alice
    )
    assert first.status_code == 201
    assert first.json() == {"movie_id": 1, "watched_at": "2024-01-02T20:00:00Z"}
    assert api.post("/me/history", json={"movie_id": 50}, headers=alice).status_code == 201
    history = api.get("/me/history", headers=alice).json()
    assert [item["movie"]["id"] for item in history["results"]] == [50, 1]  # most recent first
    assert history["results"][1]["movie"]["title"] == "Toy Story"
    assert api.get("/me/history", headers=bob).json()["total_results"] == 0
    assert_problem(api.delete("/me/history/1", headers=bob), 404)
    assert api.delete("/me/history/1", headers=alice).status_code == 204
    assert_problem(api.delete("/me/history/1", headers=alice), 404)
    assert [i["movie"]["id"] for i in api.get("/me/history", headers=alice).json()["results"]] == [
        50
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"movie_id": "abc"},
        {"movie_id": 0},
        {},
        {"movie_id": 1, "watched_at": "yesterday"},
        {"movie_id": 1, "watched_at": 0},
        {"movie_id": 1, "watched_at": "2024-01-02T20:00:00"},
    ],
)
def test_bad_history_is_422(api: httpx.Client, new_user: NewUser, body: dict[str, object]) -> None:
    assert_problem(api.post("/me/history", json=body, headers=bearer(new_user())), 422)


def test_history_keeps_any_offset_as_utc(api: httpx.Client, new_user: NewUser) -> None:
    headers = bearer(new_user())
    added = api.post(
        "/me/history",
        json={"movie_id": 2, "watched_at": "2020-07-02T01:55:29+22:44"},
        headers=headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["watched_at"] == "2020-07-01T03:11:29Z"


def test_history_unknown_movie_and_no_token(api: httpx.Client, new_user: NewUser) -> None:
    assert_problem(
        api.post("/me/history", json={"movie_id": 999999}, headers=bearer(new_user())), 404
    )
    assert_problem(api.get("/me/history"), 401)


def test_adult_titles_stay_hidden_from_users_who_did_not_allow_them(
    api: httpx.Client, new_user: NewUser
) -> None:
    from tests.e2e.settings import ADULT_MOVIE

    user = bearer(new_user())
    for path in (f"/movies/{ADULT_MOVIE}", f"/movies/{ADULT_MOVIE}/similar"):
        assert_problem(api.get(path, headers=user), 404)
        assert_problem(api.get(path), 404)
    assert_problem(api.get(f"/movies/{ADULT_MOVIE}/reviews"), 404)
    assert_problem(api.post("/favorites", json={"movie_id": ADULT_MOVIE}, headers=user), 404)
    assert_problem(api.put(f"/movies/{ADULT_MOVIE}/rating", json={"score": 7}, headers=user), 404)
    assert_problem(api.post("/me/history", json={"movie_id": ADULT_MOVIE}, headers=user), 404)

    # Allowed, they are there; turned off again, a favorite of one is no longer listed.
    api.patch("/me", json={"preferences": {"include_adult": True}}, headers=user)
    until(
        lambda: api.get(f"/movies/{ADULT_MOVIE}", headers=user).status_code == 200,
        5,
        "the adult preference",
    )
    assert api.post("/favorites", json={"movie_id": ADULT_MOVIE}, headers=user).status_code == 201
    assert api.post("/favorites", json={"movie_id": 1}, headers=user).status_code == 201

    def listed() -> set[int]:
        results = api.get("/favorites", headers=user).json()["results"]
        return {item["movie"]["id"] for item in results}

    assert listed() == {ADULT_MOVIE, 1}
    api.patch("/me", json={"preferences": {"include_adult": False}}, headers=user)
    until(lambda: listed() == {1}, 5, "the adult favorite hidden again")
