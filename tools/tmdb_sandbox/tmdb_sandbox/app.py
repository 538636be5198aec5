"""The sandbox's HTTP API: TMDb v3 paths and shapes, plus /__admin for tests."""

import math
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tmdb_sandbox import generated, images
from tmdb_sandbox.config import SandboxSettings
from tmdb_sandbox.data import load_movies, load_ratings
from tmdb_sandbox.faults import MODES, Fault, FaultBook, tmdb_error
from tmdb_sandbox.generated import PROVIDERS, REGIONS
from tmdb_sandbox.releases import KINDS
from tmdb_sandbox.world import DISCOVER_SORTS, Clock, DiscoverQuery, World

PAGE_SIZE = 20
MOVIE_LISTS = ("popular", "top_rated", "now_playing", "upcoming")
MAX_PAGE = 500


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _not_found() -> Response:
    return tmdb_error(404, 34, "The resource you requested could not be found.")


class PageError(Exception):
    pass


class ParameterError(Exception):
    """A parameter TMDb would refuse: answered 422 with TMDb's `errors` list."""


def _language(request: Request) -> str:
    """TMDb takes `fr` or `fr-FR`; the sandbox's translations are per language."""
    return request.query_params.get("language", "en-US").split("-", 1)[0].lower() or "en"


def _region(request: Request, name: str = "region") -> str:
    region = request.query_params.get(name, "US").upper()
    return region if region in generated.REGIONS else "US"


def _number(request: Request, name: str, kind: type[int] | type[float]) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return kind(raw)
    except ValueError as exc:
        raise ParameterError(f"{name} must be a number") from exc


def _ids(raw: str) -> frozenset[int]:
    parts = [part.strip() for part in raw.replace("|", ",").split(",") if part.strip()]
    if not all(part.isdigit() for part in parts):
        raise ParameterError("ids must be integers separated by , or |")
    return frozenset(int(part) for part in parts)


def _discover_query(request: Request) -> DiscoverQuery:
    params = request.query_params
    with_genres = params.get("with_genres", "")
    sort_by = params.get("sort_by", "popularity.desc")
    sort, _, direction = sort_by.partition(".")
    if sort not in DISCOVER_SORTS or direction not in ("asc", "desc"):
        raise ParameterError("sort_by is not a valid sort")
    year = _number(request, "primary_release_year", int)
    runtime_min = _number(request, "with_runtime.gte", int)
    runtime_max = _number(request, "with_runtime.lte", int)
    return DiscoverQuery(
        all_genres=_ids(with_genres) if "|" not in with_genres else frozenset(),
        any_genres=_ids(with_genres) if "|" in with_genres else frozenset(),
        without_genres=_ids(params.get("without_genres", "")),
        year=int(year) if year is not None else None,
        date_from=params.get("primary_release_date.gte") or None,
        date_to=params.get("primary_release_date.lte") or None,
        min_rating=_number(request, "vote_average.gte", float) or 0.0,
        min_votes=int(_number(request, "vote_count.gte", int) or 0),
        original_language=params.get("with_original_language") or None,
        runtime_min=int(runtime_min) if runtime_min is not None else None,
        runtime_max=int(runtime_max) if runtime_max is not None else None,
        providers=_ids(params.get("with_watch_providers", "")),
        watch_region=_region(request, "watch_region"),
        sort=sort,
        descending=direction == "desc",
    )


def _page(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    try:
        page = int(raw)
    except ValueError as exc:
        raise PageError from exc
    if not 1 <= page <= MAX_PAGE:
        raise PageError
    return page


def _paged(
    world: World,
    movie_ids: list[int],
    request: Request,
    *,
    max_results: int | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    language = _language(request)
    return _page_of(
        [world.list_item(m, language) for m in movie_ids[:max_results]], _page(request), extra
    )


def _page_of(
    items: list[dict[str, Any]], page: int, extra: dict[str, Any] | None = None
) -> Response:
    """A TMDb page; like TMDb, total_results counts everything, total_pages stops at 500."""
    start = (page - 1) * PAGE_SIZE
    return _json(
        {
            **(extra or {}),
            "page": page,
            "results": items[start : start + PAGE_SIZE],
            "total_pages": min(MAX_PAGE, math.ceil(len(items) / PAGE_SIZE)),
            "total_results": len(items),
        }
    )


def _date(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).date().isoformat()


def _movie_id(request: Request, world: World) -> int | None:
    raw = request.path_params["movie_id"]
    if not raw.isdigit() or int(raw) not in world.movies:
        return None
    return int(raw)


def build_world(settings: SandboxSettings) -> World:
    movies = load_movies(settings.data_dir)
    ratings = load_ratings(settings.data_dir)
    first = min(r.timestamp for r in ratings)
    last = max(r.timestamp for r in ratings)
    clock = Clock(
        first_ts=first, last_ts=last, start_day=settings.clock_start_day, speed=settings.clock_speed
    )
    return World(movies, ratings, clock, adult_ids=settings.adult_ids)


def create_app(settings: SandboxSettings | None = None, world: World | None = None) -> Starlette:
    settings = settings or SandboxSettings()
    world = world or build_world(settings)
    faults = FaultBook()

    def authorised(request: Request) -> bool:
        if not settings.api_key:
            return True
        bearer = request.headers.get("authorization", "")
        return (
            request.query_params.get("api_key") == settings.api_key
            or bearer == f"Bearer {settings.api_key}"
        )

    def tmdb(handler):  # type: ignore[no-untyped-def]
        async def endpoint(request: Request) -> Response:
            faults.requests[request.url.path] += 1
            fault = faults.take(request.url.path)
            if fault is not None and (response := await faults.apply(fault)) is not None:
                return response
            if not authorised(request):
                return tmdb_error(401, 7, "Invalid API key: You must be granted a valid key.")
            try:
                response = handler(request)
            except PageError:
                return tmdb_error(
                    400,
                    22,
                    "Invalid page: Pages start at 1 and max at 500. "
                    "They are expected to be an integer.",
                )
            except ParameterError as exc:
                return _json({"success": False, "errors": [str(exc)]}, 422)
            assert isinstance(response, Response)
            return response

        return endpoint

    def trending(request: Request) -> Response:
        window = request.path_params["window"]
        if window not in ("day", "week"):
            return _not_found()
        return _paged(world, world.trending(window), request, max_results=400)

    def movie(request: Request) -> Response:
        movie_id = _movie_id(request, world)
        if movie_id is None:
            return _not_found()
        append = request.query_params.get("append_to_response", "")
        parts = tuple(part.strip() for part in append.split(",") if part.strip())
        return _json(world.details(movie_id, _language(request), parts))

    def recommendations(request: Request) -> Response:
        movie_id = _movie_id(request, world)
        if movie_id is None:
            return _not_found()
        return _paged(world, world.recommendations(movie_id), request)

    def similar(request: Request) -> Response:
        movie_id = _movie_id(request, world)
        if movie_id is None:
            return _not_found()
        return _paged(world, world.similar(movie_id), request)

    def _query(request: Request) -> str:
        query = request.query_params.get("query", "").strip()
        if not query:
            raise ParameterError("query must be provided")
        return query

    def search(request: Request) -> Response:
        year = _number(request, "primary_release_year", int) or _number(request, "year", int)
        found = world.search(_query(request), year=int(year) if year is not None else None)
        return _paged(world, found, request)

    def find(request: Request) -> Response:
        """TMDb's /find by an external id: the sandbox knows IMDb ids (tt + the id, padded)."""
        if request.query_params.get("external_source") != "imdb_id":
            return tmdb_error(400, 5, "Invalid parameters: external_source must be provided")
        movie_id = world.by_imdb_id(request.path_params["external_id"])
        found = [world.list_item(movie_id, _language(request))] if movie_id is not None else []
        return _json(
            {
                "movie_results": found,
                "person_results": [],
                "tv_results": [],
                "tv_episode_results": [],
                "tv_season_results": [],
            }
        )

    def search_person(request: Request) -> Response:
        language = _language(request)
        people = world.search_people(_query(request))
        return _page_of([world.person_search_item(p, language) for p in people], _page(request))

    def discover(request: Request) -> Response:
        return _paged(world, world.discover(_discover_query(request)), request)

    def movie_list(name: str):  # type: ignore[no-untyped-def]
        def handler(request: Request) -> Response:
            if name == "popular":
                return _paged(world, world.popular(), request)
            if name == "top_rated":
                return _paged(world, world.top_rated(), request)
            dated = world.now_playing if name == "now_playing" else world.upcoming
            found, start, end = dated(_region(request))
            dates = {"maximum": _date(end), "minimum": _date(start)}
            return _paged(world, found, request, extra={"dates": dates})

        return handler

    def collection(request: Request) -> Response:
        raw = request.path_params["collection_id"]
        found = world.collection(int(raw), _language(request)) if raw.isdigit() else None
        return _not_found() if found is None else _json(found)

    def person(request: Request) -> Response:
        raw = request.path_params["person_id"]
        found = generated.person_details(int(raw)) if raw.isdigit() else None
        return _not_found() if found is None else _json(found)

    def person_credits(request: Request) -> Response:
        raw = request.path_params["person_id"]
        if not raw.isdigit() or generated.person(int(raw)) is None:
            return _not_found()
        return _json(world.person_credits(int(raw), _language(request)))

    def genres(_: Request) -> Response:
        return _json({"genres": world.genres})

    async def image(request: Request) -> Response:
        found = images.image(request.path_params["file_name"], world.movies)
        if found is None:
            return Response(status_code=404)
        return Response(
            found,
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    async def admin_faults(request: Request) -> Response:
        if request.method == "DELETE":
            faults.clear()
            return Response(status_code=204)
        body = await request.json()
        if body.get("mode") not in MODES:
            return _json({"error": f"mode must be one of {MODES}"}, 422)
        faults.add(
            Fault(
                path_prefix=body.get("path", "/3/"),
                mode=body["mode"],
                times=body.get("times"),
                delay_s=float(body.get("delay_s", 0)),
                retry_after_s=int(body.get("retry_after_s", 1)),
            )
        )
        return Response(status_code=204)

    async def admin_stats(request: Request) -> Response:
        if request.method == "DELETE":
            faults.requests.clear()
            return Response(status_code=204)
        return _json({"requests": dict(faults.requests), "total": sum(faults.requests.values())})

    async def admin_clock(request: Request) -> Response:
        if request.method == "POST":
            world.clock.set_day(float((await request.json())["day"]))
        now = world.clock.data_time()
        return _json({"data_time": now, "day": (now - world.clock.first_ts) / 86400})

    async def admin_releases(request: Request) -> Response:
        """Make a title available now in a region: opened in cinemas (`theatrical`), out to rent
        or buy (`digital`) or on a streaming service (`streaming` with `provider_id`); DELETE
        forgets every such change."""
        if request.method == "DELETE":
            world.releases.clear()
            return Response(status_code=204)
        body = await request.json()
        movie_id, region, kind = body.get("movie_id"), body.get("region"), body.get("kind")
        provider_id = body.get("provider_id")
        if movie_id not in world.movies or region not in REGIONS or kind not in KINDS:
            return _json({"error": f"movie_id, region of {REGIONS}, kind of {KINDS}"}, 422)
        if kind == "streaming" and provider_id not in PROVIDERS:
            return _json({"error": f"provider_id of {sorted(PROVIDERS)}"}, 422)
        world.releases.available_now(movie_id, region, kind, provider_id)
        return Response(status_code=204)

    async def healthz(_: Request) -> Response:
        return _json({"status": "ok", "movies": len(world.movies)})

    routes = [
        Route("/3/trending/movie/{window}", tmdb(trending)),
        *(Route(f"/3/movie/{name}", tmdb(movie_list(name))) for name in MOVIE_LISTS),
        Route("/3/movie/{movie_id}", tmdb(movie)),
        Route("/3/movie/{movie_id}/recommendations", tmdb(recommendations)),
        Route("/3/movie/{movie_id}/similar", tmdb(similar)),
        Route("/3/search/movie", tmdb(search)),
        Route("/3/search/person", tmdb(search_person)),
        Route("/3/find/{external_id}", tmdb(find)),
        Route("/3/discover/movie", tmdb(discover)),
        Route("/3/collection/{collection_id}", tmdb(collection)),
        Route("/3/person/{person_id}", tmdb(person)),
        Route("/3/person/{person_id}/movie_credits", tmdb(person_credits)),
        Route("/3/genre/movie/list", tmdb(genres)),
        Route("/t/p/{size}/{file_name}", image),  # TMDb's image paths, not counted as calls
        Route("/__admin/faults", admin_faults, methods=["POST", "DELETE"]),
        Route("/__admin/stats", admin_stats, methods=["GET", "DELETE"]),
        Route("/__admin/clock", admin_clock, methods=["GET", "POST"]),
        Route("/__admin/releases", admin_releases, methods=["POST", "DELETE"]),
        Route("/healthz", healthz),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return _not_found()

    app = Starlette(routes=routes, exception_handlers={404: not_found})
    app.state.world = world
    return app
