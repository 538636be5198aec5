"""The TMDb sandbox: real data, a moving clock, TMDb's shapes and errors, fault injection."""

import httpx
import pytest
from starlette.applications import Starlette

from tmdb_sandbox.app import create_app
from tmdb_sandbox.config import SandboxSettings
from tmdb_sandbox.data import Rating, is_present
from tmdb_sandbox.world import DAY_S, Clock, RatingsIndex


@pytest.fixture(scope="module")
def app() -> Starlette:
    settings = SandboxSettings()
    assert is_present(settings.data_dir), "MovieLens data missing: run `make sandbox-data`"
    return create_app(settings)


@pytest.fixture
async def client(app: Starlette):  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client
        await client.delete("/__admin/faults")


def test_clock_walks_and_wraps() -> None:
    now = [0.0]
    clock = Clock(
        first_ts=1000.0, last_ts=1000.0 + 10 * DAY_S, start_day=2, speed=1.0, now=lambda: now[0]
    )
    assert clock.data_time() == 1000.0 + 2 * DAY_S
    now[0] = 60.0  # one real minute = one data day
    assert clock.data_time() == 1000.0 + 3 * DAY_S
    now[0] = 60.0 * 9  # past the end: wraps around
    assert clock.data_time() == 1000.0 + 1 * DAY_S


def test_co_rating_uses_only_ratings_before_the_cutoff() -> None:
    ratings = [
        Rating(1, 10, 5, 100),
        Rating(1, 20, 5, 101),
        Rating(2, 10, 4, 102),
        Rating(2, 30, 4, 500),
    ]
    index = RatingsIndex(ratings)
    assert index.co_rated(10, before=200) == [20]
    assert set(index.co_rated(10)) == {20, 30}
    assert index.stats(10, before=101) == (10.0, 1)
    assert index.stats(10, before=1000) == (9.0, 2)


async def test_movie_details_shape(client: httpx.AsyncClient) -> None:
    movie = (await client.get("/3/movie/1")).json()
    assert movie["title"] == "Toy Story"
    assert movie["release_date"] == "1995-01-01"
    assert {"id": 16, "name": "Animation"} in movie["genres"]
    assert 0 < movie["vote_average"] <= 10 and movie["vote_count"] > 0
    assert "1995" in movie["overview"]


async def test_unknown_movie_is_tmdb_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/3/movie/424242")
    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "status_code": 34,
        "status_message": "The resource you requested could not be found.",
    }


async def test_missing_year_gives_an_empty_release_date(client: httpx.AsyncClient) -> None:
    movie = (await client.get("/3/movie/267")).json()  # MovieLens has no year for it
    assert movie["release_date"] == "" and movie["title"] == "Unknown title"


async def test_trending_moves_with_the_clock(client: httpx.AsyncClient) -> None:
    day = (await client.get("/__admin/clock")).json()["day"]
    before = [m["id"] for m in (await client.get("/3/trending/movie/day")).json()["results"]]
    await client.post("/__admin/clock", json={"day": day + 30})
    after = [m["id"] for m in (await client.get("/3/trending/movie/day")).json()["results"]]
    await client.post("/__admin/clock", json={"day": day})
    assert before != after


async def test_bad_page_is_tmdb_error_22(client: httpx.AsyncClient) -> None:
    for page in ("0", "501", "x"):
        response = await client.get("/3/trending/movie/week", params={"page": page})
        assert response.status_code == 400 and response.json()["status_code"] == 22


async def test_discover_by_genre(client: httpx.AsyncClient) -> None:
    results = (await client.get("/3/discover/movie", params={"with_genres": "878,28"})).json()[
        "results"
    ]
    assert results and all({878, 28} <= set(m["genre_ids"]) for m in results)


@pytest.mark.parametrize(
    ("mode", "status"),
    [("500", 500), ("503", 503), ("429", 429), ("invalid_key", 401), ("garbage", 200)],
)
async def test_fault_injection(client: httpx.AsyncClient, mode: str, status: int) -> None:
    await client.post("/__admin/faults", json={"path": "/3/movie/5", "mode": mode, "times": 1})
    faulty = await client.get("/3/movie/5")
    assert faulty.status_code == status
    if mode == "429":
        assert faulty.headers["retry-after"] == "1"
    assert (await client.get("/3/movie/5")).status_code == 200  # `times` used up


async def test_request_counts(client: httpx.AsyncClient) -> None:
    await client.delete("/__admin/stats")
    await client.get("/3/movie/2")
    await client.get("/3/movie/2")
    assert (await client.get("/__admin/stats")).json()["requests"]["/3/movie/2"] == 2


async def test_api_key_required_when_configured(app: Starlette) -> None:
    keyed = create_app(SandboxSettings(api_key="k1"), world=app.state.world)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=keyed), base_url="http://s"
    ) as client:
        assert (await client.get("/3/movie/1")).json()["status_code"] == 7
        assert (await client.get("/3/movie/1", params={"api_key": "k1"})).status_code == 200
        assert (
            await client.get("/3/movie/1", headers={"Authorization": "Bearer k1"})
        ).status_code == 200


APPENDED = "credits,videos,release_dates,watch/providers,external_ids,keywords"


async def test_details_with_appended_parts_in_tmdb_shapes(client: httpx.AsyncClient) -> None:
    movie = (await client.get("/3/movie/1", params={"append_to_response": APPENDED})).json()
    cast = movie["credits"]["cast"]
    assert len(cast) == 8 and [c["order"] for c in cast] == list(range(8))
    assert all(c["character"] and c["profile_path"] for c in cast)
    assert {c["job"] for c in movie["credits"]["crew"]} == {"Director", "Screenplay"}
    assert any(v["site"] == "YouTube" and v["official"] for v in movie["videos"]["results"])
    us = next(r for r in movie["release_dates"]["results"] if r["iso_3166_1"] == "US")
    assert us["release_dates"][0]["certification"] == "G"  # Toy Story: animation
    offers = movie["watch/providers"]["results"]
    assert offers and all(
        o["link"].startswith("https://www.themoviedb.org/") for o in offers.values()
    )
    assert movie["external_ids"]["imdb_id"] == "tt0000001"
    assert movie["keywords"]["keywords"]
    assert movie["runtime"] > 0
    plain = (await client.get("/3/movie/1")).json()
    assert "credits" not in plain and "videos" not in plain


async def test_unknown_runtime_is_zero_as_on_tmdb(client: httpx.AsyncClient) -> None:
    assert (await client.get("/3/movie/50")).json()["runtime"] == 0


async def test_collections_group_titles_of_one_series(client: httpx.AsyncClient) -> None:
    movie = (await client.get("/3/movie/228")).json()  # Star Trek: The Wrath of Khan
    collection = movie["belongs_to_collection"]
    assert collection["name"] == "Star Trek Collection"
    parts = (await client.get(f"/3/collection/{collection['id']}")).json()["parts"]
    assert len(parts) >= 5 and all(p["title"].startswith("Star Trek") for p in parts)
    assert (await client.get("/3/movie/1")).json()["belongs_to_collection"] is None


async def test_language_translates_overviews(client: httpx.AsyncClient) -> None:
    french = (await client.get("/3/movie/1", params={"language": "fr-FR"})).json()
    assert french["overview"].startswith("Un film")
    page = (await client.get("/3/trending/movie/week", params={"language": "de"})).json()
    assert all(m["overview"].startswith("Ein Film") for m in page["results"])


async def test_people_and_their_movies(client: httpx.AsyncClient) -> None:
    movie = (await client.get("/3/movie/1", params={"append_to_response": "credits"})).json()
    actor = movie["credits"]["cast"][0]
    person = (await client.get(f"/3/person/{actor['id']}")).json()
    assert person["name"] == actor["name"] and "generated" in person["biography"]
    credits = (await client.get(f"/3/person/{actor['id']}/movie_credits")).json()
    assert any(m["id"] == 1 and m["character"] == actor["character"] for m in credits["cast"])
    assert (await client.get("/3/person/5")).status_code == 404
    found = (await client.get("/3/search/person", params={"query": actor["name"]})).json()
    assert found["results"][0]["name"] == actor["name"] and found["results"][0]["known_for"]


async def test_lists_and_media_type(client: httpx.AsyncClient) -> None:
    for name in ("popular", "top_rated", "now_playing", "upcoming"):
        page = (await client.get(f"/3/movie/{name}", params={"region": "GB"})).json()
        assert page["results"], name
    trending = (await client.get("/3/trending/movie/day")).json()["results"]
    assert {m["media_type"] for m in trending} == {"movie"}
    upcoming = (await client.get("/3/movie/upcoming")).json()
    assert upcoming["dates"]["minimum"] <= upcoming["dates"]["maximum"]


async def test_missing_query_is_tmdb_error(client: httpx.AsyncClient) -> None:
    for path in ("/3/search/movie", "/3/search/person"):
        response = await client.get(path, params={"query": " "})
        assert response.status_code == 422
        assert response.json() == {"success": False, "errors": ["query must be provided"]}


async def test_discover_filters_and_sorts(client: httpx.AsyncClient) -> None:
    params = {
        "with_genres": "18",
        "without_genres": "10749",
        "primary_release_date.gte": "1990-01-01",
        "primary_release_date.lte": "1995-12-31",
        "vote_count.gte": "5",
        "with_runtime.gte": "90",
        "sort_by": "title.asc",
    }
    results = (await client.get("/3/discover/movie", params=params)).json()["results"]
    assert results
    assert all(18 in m["genre_ids"] and 10749 not in m["genre_ids"] for m in results)
    assert all("1990" <= m["release_date"][:4] <= "1995" for m in results)
    titles = [m["title"].casefold() for m in results]
    assert titles == sorted(titles)
    netflix = {"with_watch_providers": "8", "watch_region": "US"}
    offered = (await client.get("/3/discover/movie", params=netflix)).json()["total_results"]
    assert 0 < offered < 1682
    bad = await client.get("/3/discover/movie", params={"sort_by": "nonsense"})
    assert bad.status_code == 422


async def test_images_at_tmdbs_paths(client: httpx.AsyncClient) -> None:
    movie = (await client.get("/3/movie/1", params={"append_to_response": "credits"})).json()
    assert movie["poster_path"] == "/sandbox-poster-1.svg"
    poster = await client.get(f"/t/p/w500{movie['poster_path']}")
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/svg+xml"
    assert b"Toy Story" in poster.content and b"1995" in poster.content
    assert b'aria-label="Poster of Toy Story"' in poster.content
    assert (await client.get(f"/t/p/original{movie['backdrop_path']}")).status_code == 200
    profile = movie["credits"]["cast"][0]["profile_path"]
    assert (await client.get(f"/t/p/w185{profile}")).status_code == 200
    assert (await client.get("/t/p/w92/sandbox-provider-8.svg")).status_code == 200
    for missing in ("sandbox-poster-99999.svg", "sandbox-person-5.svg", "nope.png"):
        assert (await client.get(f"/t/p/w500/{missing}")).status_code == 404


async def _releases(client: httpx.AsyncClient, movie_id: int) -> dict[str, object]:
    parts = {"append_to_response": "release_dates,watch/providers"}
    return (await client.get(f"/3/movie/{movie_id}", params=parts)).json()  # type: ignore[no-any-return]


def _us_dates(movie: dict[str, object]) -> dict[int, str]:
    regions = movie["release_dates"]["results"]  # type: ignore[index]
    us = next(r for r in regions if r["iso_3166_1"] == "US")
    return {d["type"]: d["release_date"][:10] for d in us["release_dates"]}


async def test_the_clock_moves_release_dates_into_the_past(client: httpx.AsyncClient) -> None:
    from datetime import UTC, date, datetime, timedelta

    upcoming = (await client.get("/3/movie/upcoming", params={"region": "US"})).json()
    movie_id = upcoming["results"][-1]["id"]
    day = (await client.get("/__admin/clock")).json()["day"]
    try:
        opening = date.fromisoformat(_us_dates(await _releases(client, movie_id))[3])
        today = datetime.now(UTC).date()
        assert opening >= today  # upcoming: it opens today or later, on today's calendar
        await client.post("/__admin/clock", json={"day": day + (opening - today).days + 2})
        dates = _us_dates(await _releases(client, movie_id))
        assert date.fromisoformat(dates[3]) < today  # the clock passed it: out now
        assert date.fromisoformat(dates[4]) > date.fromisoformat(dates[3]) + timedelta(days=40)
        assert movie_id in [
            m["id"]
            for page in (1, 2, 3)
            for m in (
                await client.get("/3/movie/now_playing", params={"region": "US", "page": page})
            ).json()["results"]
        ]
    finally:
        await client.post("/__admin/clock", json={"day": day})


async def test_streaming_offers_come_and_go_with_the_clock(client: httpx.AsyncClient) -> None:
    day = (await client.get("/__admin/clock")).json()["day"]
    seen: dict[int, set[tuple[int, ...]]] = {}
    try:
        for step in range(0, 400, 20):
            await client.post("/__admin/clock", json={"day": step})
            for movie_id in (1, 50, 100, 181, 258):
                offers = (await _releases(client, movie_id))["watch/providers"]["results"]  # type: ignore[index]
                streaming = tuple(
                    p["provider_id"] for p in offers.get("US", {}).get("flatrate", [])
                )
                seen.setdefault(movie_id, set()).add(streaming)
        assert any(len(variants) > 1 for variants in seen.values())  # on and off over time
        await client.post("/__admin/clock", json={"day": 120})
        first = await _releases(client, 50)
        assert await _releases(client, 50) == first  # the same clock, the same answer
    finally:
        await client.post("/__admin/clock", json={"day": day})


async def test_a_title_can_be_made_available_now(client: httpx.AsyncClient) -> None:
    from datetime import UTC, datetime

    upcoming = (await client.get("/3/movie/upcoming", params={"region": "FR"})).json()
    movie_id = upcoming["results"][-1]["id"]
    today = datetime.now(UTC).date().isoformat()
    try:
        assert (
            await client.post(
                "/__admin/releases",
                json={"movie_id": movie_id, "region": "FR", "kind": "theatrical"},
            )
        ).status_code == 204
        regions = (await _releases(client, movie_id))["release_dates"]["results"]  # type: ignore[index]
        fr = next(r for r in regions if r["iso_3166_1"] == "FR")
        assert fr["release_dates"][0]["release_date"][:10] == today
        await client.post(
            "/__admin/releases",
            json={"movie_id": movie_id, "region": "FR", "kind": "streaming", "provider_id": 8},
        )
        offers = (await _releases(client, movie_id))["watch/providers"]["results"]  # type: ignore[index]
        assert 8 in [p["provider_id"] for p in offers["FR"]["flatrate"]]
        refused = await client.post(
            "/__admin/releases", json={"movie_id": movie_id, "region": "FR", "kind": "soon"}
        )
        assert refused.status_code == 422
    finally:
        await client.delete("/__admin/releases")
    regions = (await _releases(client, movie_id))["release_dates"]["results"]  # type: ignore[index]
    fr = next(r for r in regions if r["iso_3166_1"] == "FR")
    assert fr["release_dates"][0]["release_date"][:10] >= today


async def test_a_title_put_on_a_service_shows_even_where_it_is_not_offered(
    client: httpx.AsyncClient,
) -> None:
    absent = 0
    for movie_id in range(1, 400):
        offers = (await _releases(client, movie_id))["watch/providers"]["results"]  # type: ignore[index]
        if "US" not in offers:
            absent = movie_id
            break
    try:
        await client.post(
            "/__admin/releases",
            json={"movie_id": absent, "region": "US", "kind": "streaming", "provider_id": 8},
        )
        offers = (await _releases(client, absent))["watch/providers"]["results"]  # type: ignore[index]
        assert [p["provider_id"] for p in offers["US"]["flatrate"]] == [8]
    finally:
        await client.delete("/__admin/releases")
