"""Imports from Letterboxd, IMDb and Trakt through the gateway, from the fixtures in
tests/fixtures/imports (their README gives the counts checked here)."""

import io
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.e2e.helpers import assert_problem, bearer, until

NewUser = Callable[..., dict[str, str]]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def zipped(folder: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return out.getvalue()


def start(
    api: httpx.Client, headers: dict[str, str], source: str, name: str, data: bytes
) -> httpx.Response:
    return api.post(
        "/me/imports", data={"source": source}, files={"file": (name, data)}, headers=headers
    )


def finished(api: httpx.Client, headers: dict[str, str], location: str) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 60
    while True:
        job = api.get(location.removeprefix("/api/v1"), headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"the import did not finish: {job}"
        time.sleep(0.2)


def imported(
    api: httpx.Client, headers: dict[str, str], source: str, name: str, data: bytes
) -> dict:  # type: ignore[type-arg]
    accepted = start(api, headers, source, name, data)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] in ("queued", "running")
    return finished(api, headers, accepted.headers["location"])


def test_a_letterboxd_export_comes_over_once(api: httpx.Client, new_user: NewUser) -> None:
    mine = bearer(new_user())
    export = zipped(FIXTURES / "letterboxd")
    job = imported(api, mine, "letterboxd", "letterboxd-someone-2021.zip", export)
    assert job["status"] == "done", job
    assert (job["rows"], job["processed"], job["matched"]) == (19, 19, 17), job["unmatched"]
    assert job["created"] == {
        "ratings": 5,
        "history": 4,
        "watchlist": 2,
        "favorites": 1,
        "lists": 1,
    }
    unmatched = {u["title"]: u for u in job["unmatched"]}
    assert set(unmatched) == {"Chasing Amy", "Parasite"}
    assert (
        "2 films" in unmatched["Chasing Amy"]["reason"] and unmatched["Chasing Amy"]["year"] == 1997
    )
    assert unmatched["Parasite"]["row"] == "ratings.csv:8"

    ratings = {r["movie_id"]: r for r in api.get("/me/ratings", headers=mine).json()["results"]}
    assert ratings[50]["score"] == 10 and ratings[50]["rated_at"].startswith("2021-01-05")
    assert ratings[100]["score"] == 8  # Fargo, dated a year off
    assert ratings[543]["score"] == 6  # Les Misérables
    history = {h["movie"]["id"]: h for h in api.get("/me/history", headers=mine).json()["results"]}
    assert set(history) == {50, 218, 673, 1}  # both Cape Fears, told apart by their years
    assert history[50]["watched_at"].startswith("2021-01-31")  # the rewatch is the latest
    watchlist = [w["movie"]["id"] for w in api.get("/watchlist", headers=mine).json()["results"]]
    assert sorted(watchlist) == [7, 258]
    assert [f["movie"]["id"] for f in api.get("/favorites", headers=mine).json()["results"]] == [50]
    lists = api.get("/lists", headers=mine).json()["results"]
    assert [(row["name"], row["description"], row["item_count"]) for row in lists] == [
        ("Space opera", "Big, loud, far away", 3)
    ]
    items = api.get(f"/lists/{lists[0]['id']}/items", headers=mine).json()["results"]
    assert [(i["movie"]["id"], i["note"]) for i in items] == [
        (50, 'Where it began: "A New Hope"'),
        (181, None),
        (172, "The best one"),
    ]

    again = imported(api, mine, "letterboxd", "letterboxd-someone-2021.zip", export)
    assert again["status"] == "done" and again["matched"] == 17
    assert again["created"] == dict.fromkeys(job["created"], 0)  # nothing new the second time
    assert api.get("/me/ratings", headers=mine).json()["total_results"] == 5
    assert api.get(f"/lists/{lists[0]['id']}", headers=mine).json()["item_count"] == 3

    listed = api.get("/me/imports", headers=mine).json()
    assert [j["id"] for j in listed["results"]] == [again["id"], job["id"]]

    def told() -> bool:
        notes = api.get("/notifications", headers=mine).json()["results"]
        return sum(n["type"] == "import.finished" for n in notes) == 2

    until(told, 10, "a notification for each finished import")


def test_a_score_off_the_sites_scale_is_reported_never_rounded(
    api: httpx.Client, new_user: NewUser
) -> None:
    mine = bearer(new_user())
    ratings = (
        b"Date,Name,Year,Letterboxd URI,Rating\n"
        b"2021-01-05,Star Wars,1977,https://boxd.it/2a1i,4.3\n"
        b"2021-01-06,The Godfather,1972,https://boxd.it/2aNc,4.5\n"
    )
    job = imported(api, mine, "letterboxd", "ratings.csv", ratings)
    assert (job["status"], job["rows"], job["matched"], job["created"]["ratings"]) == (
        "done",
        2,
        1,
        1,
    ), job
    assert [(u["row"], u["title"], u["reason"]) for u in job["unmatched"]] == [
        ("ratings.csv:2", "Star Wars", "The score '4.3' is not 0.5 to 5 stars in halves")
    ]
    mine_now = api.get("/me/ratings", headers=mine).json()["results"]
    assert [r["score"] for r in mine_now] == [9]  # The Godfather; nothing of 8.6


def test_imdb_ratings_never_replace_newer_ones_made_here(
    api: httpx.Client, new_user: NewUser
) -> None:
    mine = bearer(new_user())
    assert api.put("/movies/127/rating", json={"score": 3}, headers=mine).status_code == 200
    job = imported(
        api, mine, "imdb", "ratings.csv", (FIXTURES / "imdb" / "ratings.csv").read_bytes()
    )
    assert (job["status"], job["rows"], job["matched"]) == ("done", 6, 4)
    assert job["created"]["ratings"] == 3  # The Godfather was rated here after 2020
    reasons = {u["title"]: u["reason"] for u in job["unmatched"]}
    assert reasons["Breaking Bad"] == "Not a film (TV Series)"
    assert "tt9999999" in reasons["Película Perdida"]
    ratings = {
        r["movie_id"]: r["score"] for r in api.get("/me/ratings", headers=mine).json()["results"]
    }
    assert ratings == {50: 9, 127: 3, 100: 8, 1: 6}

    watchlist = imported(
        api, mine, "imdb", "WATCHLIST.csv", (FIXTURES / "imdb" / "WATCHLIST.csv").read_bytes()
    )
    assert watchlist["created"]["watchlist"] == 2
    state = api.get("/movies/7/me", headers=mine).json()
    assert state["on_watchlist"] is True


def test_a_trakt_export_and_what_it_feeds(api: httpx.Client, new_user: NewUser) -> None:
    mine = bearer(new_user())
    job = imported(api, mine, "trakt", "trakt-export.zip", zipped(FIXTURES / "trakt"))
    assert (job["status"], job["rows"], job["matched"]) == ("done", 9, 7)
    assert job["created"] == {
        "ratings": 2,
        "history": 1,
        "watchlist": 1,
        "favorites": 0,
        "lists": 1,
    }
    assert sorted(u["reason"] for u in job["unmatched"]) == [
        "Not a film (episode)",
        "TMDb has no film of that name",  # neither by its TMDb id nor by its title
    ]

    # Ordinary entries: in recommendations' taste profile and in the account export
    def learned() -> bool:
        signals = api.get("/me/export", headers=mine).json()["taste_signals"]
        return {(s["movie_id"], s["kind"]) for s in signals} >= {
            (50, "rating"),
            (98, "rating"),
            (100, "watched"),
        }

    until(learned, 10, "the imported entries in the taste profile")
    exported = api.get("/me/export", headers=mine).json()
    assert [j["id"] for j in exported["imports"]] == [job["id"]]


def test_bad_uploads_are_refused_with_a_reason(api: httpx.Client, new_user: NewUser) -> None:
    mine = bearer(new_user())
    not_trakt = start(api, mine, "trakt", "ratings.json", b'{"hello": "world"}')
    assert_problem(not_trakt, 422)
    assert "not a Trakt export" in not_trakt.json()["detail"]
    letterboxd_as_imdb = start(
        api, mine, "imdb", "ratings.csv", (FIXTURES / "letterboxd" / "ratings.csv").read_bytes()
    )
    assert_problem(letterboxd_as_imdb, 422)
    assert "Const" in letterboxd_as_imdb.json()["detail"]
    assert_problem(start(api, mine, "myspace", "x.csv", b"a,b\n"), 422)
    too_big = start(api, mine, "letterboxd", "ratings.csv", b"x" * (10 * 1024 * 1024 + 1))
    assert_problem(too_big, 413)
    assert_problem(
        api.post("/me/imports", data={"source": "imdb"}, files={"file": ("a.csv", b"a")}), 401
    )
    assert_problem(api.get("/me/imports/00000000-0000-0000-0000-000000000000", headers=mine), 404)
    assert api.get("/me/imports", headers=mine).json()["total_results"] == 0  # nothing half-done
