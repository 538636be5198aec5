"""Details with their parts, the locale of answers and the keys they are cached under."""

from collections.abc import Callable

import httpx
import orjson
from starlette.applications import Starlette

from catalog.details import PARTS, assemble, unpack
from catalog.locale import DEFAULT_LOCALE, Locale, accepted, explicit
from catalog.service import Catalog, DiscoverFilters
from catalog.upstream import _page_counts
from services.catalog.tests.support import ScriptedTmdb, movie_json, page_json

MakeCatalog = Callable[..., Catalog]
COMMUNITY = b'{"average":null,"count":0}'


def _sandbox(sandbox_app: Starlette, calls: list[str]) -> httpx.AsyncBaseTransport:
    inner = httpx.ASGITransport(app=sandbox_app)

    class Counting(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            calls.append(request.url.path)
            return await inner.handle_async_request(request)

    return Counting()


async def test_details_and_every_part_come_from_one_tmdb_call(
    make_catalog: MakeCatalog, sandbox_app: Starlette
) -> None:
    calls: list[str] = []
    catalog = make_catalog(_sandbox(sandbox_app, calls))
    served = await catalog.movie(1)
    assert calls == ["/3/movie/1"]  # Toy Story belongs to no collection
    body = orjson.loads(assemble(served.entry.body, PARTS, COMMUNITY))
    assert len(body["credits"]["cast"]) == 8 and body["credits"]["cast"][0]["order"] == 0
    assert {c["job"] for c in body["credits"]["crew"]} == {"Director", "Screenplay"}
    assert body["credits"]["crew"][0]["job"] == "Director"  # directors first
    videos = body["videos"]
    assert videos[0]["official"] and videos[0]["type"] == "Trailer"
    assert videos[0]["url"] == f"https://www.youtube.com/watch?v={videos[0]['key']}"
    assert body["certification"] == "G"
    providers = body["watch_providers"]
    assert providers["region"] == "US" and set(providers) == {
        "region",
        "link",
        "flatrate",
        "rent",
        "buy",
        "mine",
    }
    assert providers["mine"] == []  # nobody's services: anonymous
    assert body["external_ids"] == {"imdb_id": "tt0000001"}
    assert body["keywords"] and body["collection"] is None
    assert body["community_rating"] == {"average": None, "count": 0}
    assert (await catalog.movie(1)).cache_status == "HIT" and len(calls) == 1


async def test_include_limits_the_parts_without_parsing(
    make_catalog: MakeCatalog, sandbox_app: Starlette
) -> None:
    served = await make_catalog(_sandbox(sandbox_app, [])).movie(2)
    only = orjson.loads(assemble(served.entry.body, ("videos", "certification"), COMMUNITY))
    assert "videos" in only and "certification" in only
    assert not {"credits", "watch_providers", "collection", "keywords"} & set(only)
    bare = orjson.loads(assemble(served.entry.body, (), COMMUNITY))
    assert bare["id"] == 2 and not set(PARTS) & set(bare)
    base, parts = unpack(served.entry.body)
    assert set(parts) == set(PARTS) and orjson.loads(base)["title"] == "GoldenEye"


async def test_a_collection_is_fetched_once_for_all_its_parts(
    make_catalog: MakeCatalog, sandbox_app: Starlette
) -> None:
    calls: list[str] = []
    catalog = make_catalog(_sandbox(sandbox_app, calls))
    first = orjson.loads(assemble((await catalog.movie(228)).entry.body, PARTS, COMMUNITY))
    collection = first["collection"]
    assert collection["name"] == "Star Trek Collection"
    assert all(part["title"].startswith("Star Trek") for part in collection["parts"])
    other = next(p["id"] for p in collection["parts"] if p["id"] != 228)
    await catalog.movie(other)
    assert calls == ["/3/movie/228", f"/3/collection/{collection['id']}", f"/3/movie/{other}"]


async def test_unknown_runtime_is_null(make_catalog: MakeCatalog, scripted: ScriptedTmdb) -> None:
    scripted.handler = lambda request: httpx.Response(200, json=movie_json(9, runtime=0))
    served = await make_catalog(scripted.transport()).movie(9)
    assert orjson.loads(assemble(served.entry.body, (), COMMUNITY))["runtime"] is None


async def test_answers_are_cached_per_language_region_and_upstream(
    make_catalog: MakeCatalog, sandbox_app: Starlette
) -> None:
    calls: list[str] = []
    catalog = make_catalog(_sandbox(sandbox_app, calls))
    german = Locale("de", "DE")
    english = orjson.loads(assemble((await catalog.movie(1)).entry.body, PARTS, COMMUNITY))
    served = await catalog.movie(1, german)
    assert served.cache_status == "MISS" and len(calls) == 2
    in_german = orjson.loads(assemble(served.entry.body, PARTS, COMMUNITY))
    assert in_german["overview"].startswith("Ein Film") and english["overview"].startswith("A ")
    assert (in_german["certification"], english["certification"]) == ("0", "G")
    assert in_german["watch_providers"]["region"] == "DE"
    assert german in await catalog.cached_locales()  # so invalidations reach it
    elsewhere = make_catalog(_sandbox(sandbox_app, calls), tmdb_base_url="http://other.test/3")
    assert (await elsewhere.movie(1)).cache_status == "MISS"  # another upstream's cache
    assert elsewhere.keys.movie(1, DEFAULT_LOCALE) != catalog.keys.movie(1, DEFAULT_LOCALE)


async def test_discover_is_cached_by_its_normalised_query(
    make_catalog: MakeCatalog, scripted: ScriptedTmdb
) -> None:
    scripted.handler = lambda request: httpx.Response(200, json=page_json(1, 2))
    catalog = make_catalog(scripted.transport())
    one = DiscoverFilters(genres=(28, 12), min_votes=10, sort="rating")
    same = DiscoverFilters(genres=(12, 28), min_votes=10, sort="rating")
    assert (await catalog.discover_filtered(one, page=1)).cache_status == "MISS"
    assert (await catalog.discover_filtered(same, page=1)).cache_status == "HIT"
    params = one.tmdb_params(DEFAULT_LOCALE)
    assert params["with_genres"] == "12,28" and params["sort_by"] == "vote_average.desc"
    assert "watch_region" not in params
    offered = DiscoverFilters(providers=(8,), any_genre=True, genres=(18, 35))
    params = offered.tmdb_params(Locale("fr", "FR"))
    assert params["watch_region"] == "FR" and params["with_genres"] == "18|35"


def test_totals_stay_consistent_past_tmdbs_500_pages() -> None:
    assert _page_counts(1000, 19_990) == {"total_pages": 500, "total_results": 10_000}
    assert _page_counts(3, 47) == {"total_pages": 3, "total_results": 47}


def test_locale_from_query_preferences_and_accept_language() -> None:
    assert accepted("fr-CA,fr;q=0.9,en;q=0.8") == Locale("fr", "CA")
    assert accepted("en;q=0.2, de;q=0.9") == Locale("de", "US")
    assert accepted("*, x-klingon") is None and accepted("") is None
    assert accepted("es;q=0") is None
    user = Locale("it", "IT")
    header = Locale("de", "DE")
    assert explicit(None, None).resolve(user, header) == user
    assert explicit(None, None).resolve(None, header) == header
    assert explicit(None, None).resolve(None, None) == DEFAULT_LOCALE
    assert explicit("pt-BR", None).resolve(user, header) == Locale("pt", "BR")
    assert explicit("fr", "BE").resolve(user, header) == Locale("fr", "BE")
    assert explicit(None, "GB").resolve(user, header) == Locale("it", "GB")


async def test_watch_providers_name_the_users_own(
    make_catalog: MakeCatalog, sandbox_app: Starlette
) -> None:
    releases = sandbox_app.state.world.releases
    releases.available_now(1, "US", "streaming", 8)
    try:
        catalog = make_catalog(_sandbox(sandbox_app, []))
        served = await catalog.movie(1)
    finally:
        releases.clear()
    anonymous = orjson.loads(assemble(served.entry.body, PARTS, COMMUNITY))["watch_providers"]
    streaming = [p["id"] for p in anonymous["flatrate"]]
    assert 8 in streaming
    mine = (8, *(p for p in (9, 337) if p not in streaming))
    body = assemble(served.entry.body, ("watch_providers",), COMMUNITY, providers=mine)
    offers = orjson.loads(body)["watch_providers"]
    assert [p["id"] for p in offers["mine"]] == [8]
    assert {k: v for k, v in offers.items() if k != "mine"} == {
        k: v for k, v in anonymous.items() if k != "mine"
    }
