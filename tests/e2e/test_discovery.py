"""Discovery lists, discover, enriched details, people, typed search, language and region, and
HTTP caching, through the gateway on the TMDb sandbox."""

import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

from catalog.locale import DEFAULT_LOCALE
from tests.e2e.conftest import Stack
from tests.e2e.helpers import assert_problem, catalog_keys, until
from tests.e2e.test_movies import DETAIL_KEYS, SUMMARY_KEYS
from tests.e2e.test_movies import DETAIL_PARTS as PARTS


def _page(response: httpx.Response, extra: set[str] = frozenset()) -> dict:  # type: ignore[type-arg,assignment]
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"page", "total_pages", "total_results", "results"}
    for item in body["results"]:
        assert SUMMARY_KEYS <= set(item) <= SUMMARY_KEYS | extra, item
    return body  # type: ignore[no-any-return]


@pytest.fixture
def sandbox(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url("sandbox")) as client:
        yield client


@pytest.mark.parametrize("name", ["popular", "top-rated", "upcoming", "now-playing"])
def test_discovery_lists(api: httpx.Client, name: str) -> None:
    body = _page(api.get(f"/movies/{name}"))
    assert body["results"] and body["total_results"] >= len(body["results"])
    regional = _page(api.get(f"/movies/{name}", params={"region": "GB", "page": 1}))
    assert regional["results"]
    assert_problem(api.get(f"/movies/{name}", params={"region": "gb"}), 422)
    assert_problem(api.get(f"/movies/{name}", params={"page": 0}), 422)


def test_top_rated_is_by_rating(api: httpx.Client) -> None:
    ratings = [m["vote_average"] for m in _page(api.get("/movies/top-rated"))["results"]]
    assert ratings == sorted(ratings, reverse=True)


def test_discover_applies_every_filter(api: httpx.Client) -> None:
    params = {
        "genres": "18",
        "without_genres": "10749",
        "year_from": 1990,
        "year_to": 1995,
        "min_votes": 5,
        "min_rating": 6,
        "language": "en",
        "runtime_min": 90,
        "runtime_max": 150,
        "sort": "title",
    }
    body = _page(api.get("/movies/discover", params=params))
    movies = body["results"]
    assert movies
    for movie in movies:
        assert 18 in movie["genre_ids"] and 10749 not in movie["genre_ids"]
        assert "1990" <= movie["release_date"][:4] <= "1995"
        assert movie["vote_count"] >= 5 and movie["vote_average"] >= 6
    titles = [m["title"].casefold() for m in movies]
    assert titles == sorted(titles)  # title sorts ascending by default
    newest = _page(api.get("/movies/discover", params={"sort": "release_date"}))["results"]
    years = [m["release_date"] or "" for m in newest]
    assert years == sorted(years, reverse=True)
    streaming = _page(api.get("/movies/discover", params={"provider": "8", "region": "US"}))
    everything = _page(api.get("/movies/discover"))
    assert 0 < streaming["total_results"] < everything["total_results"]


def test_a_swapped_range_matches_nothing(api: httpx.Client) -> None:
    for params in ({"year_from": 2000, "year_to": 1990}, {"runtime_min": 120, "runtime_max": 90}):
        assert _page(api.get("/movies/discover", params=params))["results"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"genres": "action"}, "genres"),
        ({"without_genres": "1,,2"}, "without_genres"),
        ({"year_from": 1200}, "year_from"),
        ({"min_rating": 11}, "min_rating"),
        ({"min_votes": -1}, "min_votes"),
        ({"language": "english"}, "language"),
        ({"provider": "netflix"}, "provider"),
        ({"region": "usa"}, "region"),
        ({"sort": "revenue"}, "sort"),
        ({"order": "up"}, "order"),
        ({"page": 501}, "page"),
    ],
)
def test_discover_names_the_bad_filter(
    api: httpx.Client, params: dict[str, object], field: str
) -> None:
    problem = assert_problem(api.get("/movies/discover", params=params), 422)
    assert [issue["loc"] for issue in problem["errors"]] == [["query", field]]  # type: ignore[attr-defined]


def _reads_of(stack: Stack, key: str, action: Callable[[], None]) -> list[str]:
    """The commands that read `key` from the cache Redis while `action` ran (Redis MONITOR)."""
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    marker = f"e2e-monitor-end-{time.monotonic_ns()}"
    seen: list[str] = []
    with client.monitor() as monitor:
        ready = threading.Event()

        def listen() -> None:
            ready.set()
            for command in monitor.listen():
                text = str(command["command"])
                if marker in text:
                    return
                seen.append(text)

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        ready.wait(5)
        time.sleep(0.2)
        action()
        redis.Redis.from_url(stack.env["REDIS_URL"]).get(marker)
        listener.join(10)
    return [c for c in seen if key in c and c.split(" ", 1)[0].upper() in ("GET", "MGET")]


def test_enriched_details_cold_and_warm(
    api: httpx.Client, sandbox: httpx.Client, stack: Stack
) -> None:
    movie_id = 1620  # no other test reads it; it belongs to no collection
    plain = sandbox.get(f"/3/movie/{movie_id}", params={"api_key": stack.env["TMDB_API_KEY"]})
    assert plain.json()["belongs_to_collection"] is None
    key = catalog_keys(stack).movie(movie_id, DEFAULT_LOCALE)
    sandbox.delete("/__admin/stats")
    answers: list[httpx.Response] = []
    cold = _reads_of(stack, key, lambda: answers.append(api.get(f"/movies/{movie_id}")))
    calls = _title_calls(sandbox, movie_id)
    assert calls == {f"/3/movie/{movie_id}": 1}, calls  # every part from one TMDb call
    assert len(cold) == 1, cold
    body = answers[0].json()
    assert answers[0].headers["x-cache"] == "MISS" and set(body) == DETAIL_KEYS
    assert body["credits"]["cast"] and body["videos"] and body["external_ids"]["imdb_id"]
    assert body["watch_providers"]["region"] == "US"

    time.sleep(1.1)  # past the one-second copies the gateway and the catalog keep
    warm = _reads_of(stack, key, lambda: answers.append(api.get(f"/movies/{movie_id}")))
    assert len(warm) == 1, warm  # details, parts and community rating: one MGET
    assert answers[1].headers["x-cache"] == "HIT" and answers[1].json() == body
    assert _title_calls(sandbox, movie_id) == calls


def _title_calls(sandbox: httpx.Client, movie_id: int) -> dict[str, int]:
    """TMDb calls made for the title's details (the catalog's release check of titles other
    tests watch calls TMDb meanwhile)."""
    calls: dict[str, int] = sandbox.get("/__admin/stats").json()["requests"]
    return {
        path: count
        for path, count in calls.items()
        if path.startswith((f"/3/movie/{movie_id}", "/3/collection/"))
    }


def test_include_limits_the_parts(api: httpx.Client) -> None:
    only = api.get("/movies/1", params={"include": "credits,videos"}).json()
    assert set(only) == DETAIL_KEYS - PARTS | {"credits", "videos"}
    assert set(api.get("/movies/1", params={"include": ""}).json()) == DETAIL_KEYS - PARTS
    problem = assert_problem(api.get("/movies/1", params={"include": "credits,trivia"}), 422)
    assert problem["errors"][0]["loc"] == ["query", "include"]  # type: ignore[index]


def test_detail_parts_have_their_shapes(api: httpx.Client) -> None:
    star_trek = api.get("/movies/228").json()
    collection = star_trek["collection"]
    assert collection["name"] == "Star Trek Collection" and len(collection["parts"]) >= 5
    assert all(set(part) == SUMMARY_KEYS for part in collection["parts"])
    cast = star_trek["credits"]["cast"]
    assert [c["order"] for c in cast] == sorted(c["order"] for c in cast)
    assert set(cast[0]) == {"id", "name", "character", "profile_url", "order"}
    assert set(star_trek["credits"]["crew"][0]) == {"id", "name", "job", "department"}
    video = star_trek["videos"][0]
    assert set(video) == {"site", "key", "url", "type", "official", "name"}
    assert video["official"] and video["url"].endswith(video["key"])
    assert star_trek["certification"] == "PG-13"
    offers = star_trek["watch_providers"]
    assert set(offers) == {"region", "link", "flatrate", "rent", "buy", "mine"}
    assert all(set(p) == {"id", "name", "logo_url"} for p in offers["rent"])
    assert all(set(k) == {"id", "name"} for k in star_trek["keywords"])
    assert api.get("/movies/50").json()["runtime"] is None  # TMDb's 0: unknown


def test_language_and_region_of_answers(api: httpx.Client, new_user) -> None:  # type: ignore[no-untyped-def]
    french = api.get("/movies/1", params={"language": "fr", "region": "FR"}).json()
    assert french["overview"].startswith("Un film")
    assert french["watch_providers"]["region"] == "FR" and french["certification"] == "U"
    german = api.get("/movies/1", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert german.json()["overview"].startswith("Ein Film")
    assert german.json()["certification"] == "0"
    english = api.get("/movies/1")
    assert english.json()["overview"].startswith("A ")
    assert english.headers["etag"] != german.headers["etag"]
    page = api.get("/movies/trending", headers={"Accept-Language": "it"}).json()
    assert all(m["overview"].startswith("Un film") for m in page["results"])

    user = new_user()
    auth = {"Authorization": user["authorization"]}
    changed = api.patch(
        "/me", json={"preferences": {"language": "es", "region": "ES"}}, headers=auth
    )
    assert changed.status_code == 200
    deadline = time.monotonic() + 10
    while True:  # the catalog learns preferences from the user's event
        mine = api.get("/movies/1", headers={**auth, "Accept-Language": "de"})
        if mine.json()["overview"].startswith("Una película"):
            break
        assert time.monotonic() < deadline, mine.json()["overview"]
        time.sleep(0.2)
    assert mine.json()["watch_providers"]["region"] == "ES"
    assert mine.headers["cache-control"] == "private"
    assert api.post("/favorites", json={"movie_id": 2}, headers=auth).status_code == 201
    kept = api.get("/favorites", headers=auth).json()["results"][0]["movie"]
    assert kept["overview"].startswith("Una película")  # the library's lists too

    def recommended_in_spanish() -> bool:  # and the recommendations made for the user
        results = api.get("/recommendations", headers=auth).json()["results"]
        return bool(results) and all(m["overview"].startswith("Una película") for m in results)

    until(recommended_in_spanish, 10, "recommendations in the user's language")
    explicit = api.get("/movies/1", params={"language": "fr"}, headers=auth).json()
    assert explicit["overview"].startswith("Un film")  # an explicit language wins
    assert_problem(api.get("/movies/1", params={"language": "french"}), 422)
    assert_problem(api.get("/movies/1", params={"region": "Europe"}), 422)


def test_etag_and_cache_control(api: httpx.Client, new_user) -> None:  # type: ignore[no-untyped-def]
    for path in ("/movies/trending", "/movies/popular", "/movies/2", "/genres", "/people/1001"):
        first = api.get(path)
        etag = first.headers["etag"]
        assert etag.startswith('"') and etag.endswith('"'), etag  # strong
        assert first.headers["vary"] == "Accept-Language, Authorization"
        control = first.headers["cache-control"]
        assert control.startswith("public, max-age="), control
        assert int(control.rsplit("=", 1)[1]) >= 0
        again = api.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"", path
        assert again.headers["etag"] == etag
        other = api.get(path, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200
    details = api.get("/movies/2").headers["cache-control"]
    assert int(details.rsplit("=", 1)[1]) <= 60  # joined with the live community rating
    user = new_user()
    signed_in = api.get("/movies/2", headers={"Authorization": user["authorization"]})
    assert signed_in.headers["cache-control"] == "private"


def test_people(api: httpx.Client) -> None:
    movie = api.get("/movies/1", params={"include": "credits"}).json()
    actor = movie["credits"]["cast"][0]
    person = api.get(f"/people/{actor['id']}")
    assert person.status_code == 200
    body = person.json()
    assert set(body) == {
        "id",
        "name",
        "biography",
        "birthday",
        "place_of_birth",
        "profile_url",
        "known_for_department",
    }
    assert body["name"] == actor["name"] and body["known_for_department"] == "Acting"
    films = _page(api.get(f"/people/{actor['id']}/movies"), {"character", "job"})
    toy_story = next(m for m in films["results"] if m["id"] == 1)
    assert toy_story["character"] == actor["character"]
    director = next(c for c in movie["credits"]["crew"] if c["job"] == "Director")
    directed = _page(api.get(f"/people/{director['id']}/movies"), {"character", "job"})
    assert any(m["id"] == 1 and m["job"] == "Director" for m in directed["results"])
    assert_problem(api.get("/people/5"), 404)
    assert_problem(api.get("/people/5/movies"), 404)
    assert_problem(api.get("/people/abc"), 422)


def test_search_movies_and_people(api: httpx.Client) -> None:
    movies = api.get("/search", params={"query": "star trek"}).json()
    assert movies["results"] and {m["type"] for m in movies["results"]} == {"movie"}
    assert all(set(m) == SUMMARY_KEYS | {"type"} for m in movies["results"])
    actor = api.get("/movies/1", params={"include": "credits"}).json()["credits"]["cast"][0]
    people = api.get("/search", params={"query": actor["name"], "type": "person"}).json()
    first = people["results"][0]
    assert first["type"] == "person" and first["name"] == actor["name"]
    assert set(first) == {"type", "id", "name", "profile_url", "known_for_department"}
    for params in ({}, {"query": " "}, {"query": "x", "type": "tv"}):
        assert_problem(api.get("/search", params=params), 422)


def test_per_title_recommendations(api: httpx.Client) -> None:
    body = _page(api.get("/movies/1/recommendations"))
    assert body["results"] and all(m["id"] != 1 for m in body["results"])
    assert body["results"] != _page(api.get("/movies/1/similar"))["results"]
    assert_problem(api.get("/movies/999999/recommendations"), 404)
    assert_problem(api.get("/movies/1/recommendations", params={"page": 0}), 422)
