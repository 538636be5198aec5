"""The sandbox's HTTP API: TMDb v3 paths and shapes, plus /__admin for tests."""

import math
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tmdb_sandbox.config import SandboxSettings
from tmdb_sandbox.data import load_movies, load_ratings
from tmdb_sandbox.faults import MODES, Fault, FaultBook, tmdb_error
from tmdb_sandbox.world import Clock, World

PAGE_SIZE = 20
MAX_PAGE = 500


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _not_found() -> Response:
    return tmdb_error(404, 34, "The resource you requested could not be found.")


class PageError(Exception):
    pass


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
    world: World, movie_ids: list[int], page: int, max_results: int | None = None
) -> Response:
    if max_results is not None:
        movie_ids = movie_ids[:max_results]
    total_results = len(movie_ids)
    start = (page - 1) * PAGE_SIZE
    return _json(
        {
            "page": page,
            "results": [world.list_item(m) for m in movie_ids[start : start + PAGE_SIZE]],
            "total_pages": min(MAX_PAGE, math.ceil(total_results / PAGE_SIZE)),
            "total_results": total_results,
        }
    )


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
            assert isinstance(response, Response)
            return response

        return endpoint

    def trending(request: Request) -> Response:
        window = request.path_params["window"]
        if window not in ("day", "week"):
            return _not_found()
        return _paged(world, world.trending(window), _page(request), max_results=400)

    def movie(request: Request) -> Response:
        movie_id = _movie_id(request, world)
        return _not_found() if movie_id is None else _json(world.details(movie_id))

    def recommendations(request: Request) -> Response:
        movie_id = _movie_id(request, world)
        if movie_id is None:
            return _not_found()
        return _paged(world, world.recommendations(movie_id), _page(request))

    def similar(request: Request) -> Response:
        movie_id = _movie_id(request, world)
        if movie_id is None:
            return _not_found()
        return _paged(world, world.similar(movie_id), _page(request))

    def search(request: Request) -> Response:
        query = request.query_params.get("query", "").strip()
        page = _page(request)
        if not query:
            return _json({"page": page, "results": [], "total_pages": 1, "total_results": 0})
        return _paged(world, world.search(query), page)

    def discover(request: Request) -> Response:
        params = request.query_params
        with_genres = params.get("with_genres", "")
        separator = "|" if "|" in with_genres else ","
        genres = {int(g) for g in with_genres.split(separator) if g.strip().isdigit()}
        year = params.get("primary_release_year")
        movie_ids = world.discover(
            all_genres=genres if separator == "," else set(),
            any_genres=genres if separator == "|" else set(),
            sort_by=params.get("sort_by", "popularity.desc"),
            min_votes=int(params.get("vote_count.gte", "0") or 0),
            year=int(year) if year and year.isdigit() else None,
        )
        return _paged(world, movie_ids, _page(request))

    def genres(_: Request) -> Response:
        return _json({"genres": world.genres})

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

    async def healthz(_: Request) -> Response:
        return _json({"status": "ok", "movies": len(world.movies)})

    routes = [
        Route("/3/trending/movie/{window}", tmdb(trending)),
        Route("/3/movie/{movie_id}", tmdb(movie)),
        Route("/3/movie/{movie_id}/recommendations", tmdb(recommendations)),
        Route("/3/movie/{movie_id}/similar", tmdb(similar)),
        Route("/3/search/movie", tmdb(search)),
        Route("/3/discover/movie", tmdb(discover)),
        Route("/3/genre/movie/list", tmdb(genres)),
        Route("/__admin/faults", admin_faults, methods=["POST", "DELETE"]),
        Route("/__admin/stats", admin_stats, methods=["GET", "DELETE"]),
        Route("/__admin/clock", admin_clock, methods=["GET", "POST"]),
        Route("/healthz", healthz),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return _not_found()

    app = Starlette(routes=routes, exception_handlers={404: not_found})
    app.state.world = world
    return app
