"""Lists of a user's own through the gateway: made, filled, reordered, shared, exported as
Letterboxd's CSV, in the title's state, the account export and the recommendations' signals."""

import csv
import io
import uuid
from collections.abc import Callable

import httpx

from tests.e2e.helpers import assert_problem, bearer, until

NewUser = Callable[..., dict[str, str]]


def _titles(api: httpx.Client, list_id: str, headers: dict[str, str] | None = None) -> list[int]:
    page = api.get(f"/lists/{list_id}/items", params={"limit": 100}, headers=headers or {})
    assert page.status_code == 200, page.text
    return [item["movie"]["id"] for item in page.json()["results"]]


def test_a_list_made_filled_reordered_and_deleted(api: httpx.Client, new_user: NewUser) -> None:
    owner = new_user()
    mine = bearer(owner)
    made = api.post("/lists", json={"name": "Space, 1977-1983"}, headers=mine)
    assert made.status_code == 201, made.text
    listed = made.json()
    assert made.headers["location"] == f"/api/v1/lists/{listed['id']}"
    assert set(listed) == {
        "id", "owner", "name", "description", "public", "item_count", "created_at", "updated_at"
    }  # fmt: skip
    assert listed["public"] is False and listed["item_count"] == 0
    assert listed["owner"]["id"] == owner["id"]
    list_id = listed["id"]
    assert_problem(api.post("/lists", json={"name": "space, 1977-1983"}, headers=mine), 409)
    assert_problem(api.post("/lists", json={"name": ""}, headers=mine), 422)
    assert_problem(api.post("/lists", json={"name": "x" * 101}, headers=mine), 422)

    for movie_id in (50, 172, 181):
        added = api.post(f"/lists/{list_id}/items", json={"movie_id": movie_id}, headers=mine)
        assert added.status_code == 201, added.text
    first = api.post(
        f"/lists/{list_id}/items",
        json={"movie_id": 82, "note": "Not space, but first", "position": 1},
        headers=mine,
    )
    assert first.status_code == 201 and first.json()["position"] == 1
    assert first.json()["movie"]["id"] == 82 and first.json()["note"] == "Not space, but first"
    again = api.post(f"/lists/{list_id}/items", json={"movie_id": 50}, headers=mine)
    assert again.status_code == 200 and again.json()["position"] == 2
    assert _titles(api, list_id, mine) == [82, 50, 172, 181]
    assert_problem(
        api.post(f"/lists/{list_id}/items", json={"movie_id": 99999999}, headers=mine), 404
    )
    assert_problem(api.post(f"/lists/{list_id}/items", json={"movie_id": "50"}, headers=mine), 422)

    reordered = api.put(
        f"/lists/{list_id}/order", json={"movie_ids": [181, 172, 50, 82]}, headers=mine
    )
    assert reordered.status_code == 200, reordered.text
    assert _titles(api, list_id, mine) == [181, 172, 50, 82]
    wrong = api.put(f"/lists/{list_id}/order", json={"movie_ids": [181, 172, 1]}, headers=mine)
    assert_problem(wrong, 422)
    assert (
        "missing 50, 82" in wrong.json()["detail"] and "not on the list 1" in wrong.json()["detail"]
    )

    assert api.delete(f"/lists/{list_id}/items/172", headers=mine).status_code == 204
    assert_problem(api.delete(f"/lists/{list_id}/items/172", headers=mine), 404)
    items = api.get(f"/lists/{list_id}/items", headers=mine).json()
    assert [(i["movie"]["id"], i["position"]) for i in items["results"]] == [
        (181, 1),
        (50, 2),
        (82, 3),
    ]
    assert items["total_results"] == 3

    state = api.get("/movies/50/me", headers=mine).json()
    assert state["list_ids"] == [list_id]
    assert api.get("/movies/172/me", headers=mine).json()["list_ids"] == []

    renamed = api.patch(
        f"/lists/{list_id}", json={"name": "Star Wars", "description": "In order"}, headers=mine
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Star Wars"
    assert renamed.json()["item_count"] == 3
    assert [row["name"] for row in api.get("/lists", headers=mine).json()["results"]] == [
        "Star Wars"
    ]

    assert api.delete(f"/lists/{list_id}", headers=mine).status_code == 204
    assert_problem(api.get(f"/lists/{list_id}", headers=mine), 404)
    assert api.get("/movies/50/me", headers=mine).json()["list_ids"] == []


def test_private_and_public_lists(api: httpx.Client, new_user: NewUser) -> None:
    owner, other = new_user(), new_user()
    mine, theirs = bearer(owner), bearer(other)
    private = api.post("/lists", json={"name": "Guilty pleasures"}, headers=mine).json()
    public = api.post(
        "/lists", json={"name": "Best of 1977", "public": True, "description": "Mine"}, headers=mine
    ).json()
    api.post(
        f"/lists/{public['id']}/items",
        json={"movie_id": 50, "note": 'A "classic", no?'},
        headers=mine,
    )
    api.post(f"/lists/{public['id']}/items", json={"movie_id": 127}, headers=mine)

    # A private list is nobody else's business: 404 to them and to the anonymous
    for headers in (theirs, {}):
        assert_problem(api.get(f"/lists/{private['id']}", headers=headers), 404)
        assert_problem(api.get(f"/lists/{private['id']}/items", headers=headers), 404)
        assert_problem(api.get(f"/lists/{private['id']}/export.csv", headers=headers), 404)
    # A public one is read by anyone, changed by its owner only
    assert api.get(f"/lists/{public['id']}").json()["name"] == "Best of 1977"
    assert _titles(api, public["id"]) == [50, 127]
    assert_problem(api.patch(f"/lists/{public['id']}", json={"public": False}, headers=theirs), 403)
    assert_problem(api.delete(f"/lists/{public['id']}", headers=theirs), 403)
    assert_problem(
        api.post(f"/lists/{public['id']}/items", json={"movie_id": 1}, headers=theirs), 403
    )
    assert_problem(api.patch(f"/lists/{public['id']}", json={"public": False}), 401)
    assert_problem(api.post("/lists", json={"name": "x"}), 401)

    shared = api.get(f"/users/{owner['id']}/lists").json()
    assert [row["id"] for row in shared["results"]] == [public["id"]]
    assert shared["total_results"] == 1
    assert api.get("/lists", headers=mine).json()["total_results"] == 2
    assert_problem(api.get(f"/users/{uuid.uuid4()}/lists"), 404)
    assert_problem(api.get("/lists/not-a-list"), 404)

    exported = api.get(f"/lists/{public['id']}/export.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["Position"], r["tmdbID"], r["Year"], r["Description"]) for r in rows] == [
        ("1", "50", "1977", 'A "classic", no?'),
        ("2", "127", "1972", ""),
    ]
    assert rows[0]["Title"] == api.get("/movies/50").json()["title"]

    made_private = api.patch(f"/lists/{public['id']}", json={"public": False}, headers=mine)
    assert made_private.status_code == 200
    assert_problem(api.get(f"/lists/{public['id']}"), 404)
    assert api.get(f"/users/{owner['id']}/lists").json()["total_results"] == 0


def test_lists_feed_recommendations_and_leave_with_the_account(
    api: httpx.Client, new_user: NewUser
) -> None:
    user = new_user()
    mine = bearer(user)
    first = api.post("/lists", json={"name": "One"}, headers=mine).json()["id"]
    second = api.post("/lists", json={"name": "Two"}, headers=mine).json()["id"]
    for list_id in (first, second):
        api.post(f"/lists/{list_id}/items", json={"movie_id": 98}, headers=mine)

    def listed() -> list[int]:
        signals = api.get("/me/export", headers=mine).json()["taste_signals"]
        return [s["movie_id"] for s in signals if s["kind"] == "listed"]

    until(lambda: listed() == [98], 5, "a listed title as a taste signal")
    # Off one list, still on the other: still a signal; off both: gone
    assert api.delete(f"/lists/{first}/items/98", headers=mine).status_code == 204
    api.post(f"/lists/{first}/items", json={"movie_id": 100}, headers=mine)
    until(lambda: sorted(listed()) == [98, 100], 5, "the other list's title")
    assert api.delete(f"/lists/{second}", headers=mine).status_code == 204
    until(lambda: listed() == [100], 5, "a title on no list any more")
    recommended = api.get("/recommendations", headers=mine).json()["results"]
    assert 100 not in [m["id"] for m in recommended]  # never recommended back

    exported = api.get("/me/export", headers=mine).json()["lists"]
    assert [(row["name"], [i["movie_id"] for i in row["items"]]) for row in exported] == [
        ("One", [100])
    ]
    deleted = api.post("/me/delete", json={"password": user["password"]}, headers=mine)
    assert deleted.status_code in (200, 202, 204), deleted.text
    assert_problem(api.get(f"/lists/{first}"), 404)


def test_a_public_lists_csv_runs_nothing_in_a_spreadsheet(
    api: httpx.Client, new_user: NewUser
) -> None:
    mine = bearer(new_user())
    made = api.post("/lists", json={"name": "Formulas", "public": True}, headers=mine).json()
    note = '=HYPERLINK("http://example.com/x","open")'
    added = api.post(
        f"/lists/{made['id']}/items", json={"movie_id": 50, "note": note}, headers=mine
    )
    assert added.status_code == 201, added.text
    assert added.json()["note"] == note  # the list itself keeps the note as written
    exported = api.get(f"/lists/{made['id']}/export.csv")  # anyone's to download
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["tmdbID"], r["Description"]) for r in rows] == [("50", "'" + note)]
