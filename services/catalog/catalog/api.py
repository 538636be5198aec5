"""Movie and people routes (tags `movies`, `people`, `search` in the OpenAPI); every answer
carries X-Cache (HIT, MISS or STALE), a strong ETag and Cache-Control (conditional.py)."""

import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from catalog import visibility
from catalog.community import CommunityMirror, community_key
from catalog.conditional import DETAILS_MAX_AGE_S, cache_headers, etag_of, matches
from catalog.deps import CatalogDep, PageQuery
from catalog.details import PARTS, assemble
from catalog.locale import (
    DEFAULT_LOCALE,
    LANGUAGE_PATTERN,
    REGION_PATTERN,
    Locale,
    Preferred,
    accepted,
    explicit,
)
from catalog.models import (
    Genre,
    MovieBatch,
    MovieDetail,
    MovieList,
    MoviePage,
    Person,
    PersonCreditPage,
    RelatedIds,
    RelatedLists,
    SearchPage,
)
from catalog.preferences import ANONYMOUS, ViewerPreferences, viewer_preferences
from catalog.service import (
    MOVIE_LISTS,
    TMDB_PAGE_SIZE,
    DiscoverFilters,
    MovieNotFound,
    Served,
)
from catalog.tmdb import TmdbUnavailable
from shared.app import API_PREFIX
from shared.catalog_models import page_count
from shared.deps import InternalOnly, OptionalPrincipal, RuntimeDep
from shared.errors import ProblemError, problem_responses
from shared.events import CatalogTrendingRefreshed
from shared.runtime import Runtime as ServiceRuntime

router = APIRouter(prefix=API_PREFIX, tags=["movies"])
internal_router = APIRouter(
    prefix="/internal", include_in_schema=False, dependencies=[InternalOnly]
)

MovieId = Annotated[int, Path(ge=1, le=2**31 - 1, description="TMDb movie id")]
PersonId = Annotated[int, Path(ge=1, le=2**31 - 1, description="TMDb person id")]
HEADERS = {
    name: {"description": description, "schema": {"type": "string"}}
    for name, description in {
        "X-Cache": "HIT, MISS or STALE (TMDb failed, last good copy)",
        "ETag": "Strong validator of the body; send it back in If-None-Match",
        "Cache-Control": "public, max-age=N (freshness left) anonymously, else private",
        "Vary": "Accept-Language, Authorization",
    }.items()
}


def _ok(model: type, description: str, example: Any = None) -> dict[int | str, dict[str, Any]]:
    content = {"application/json": {"example": example}} if example is not None else None
    answer: dict[str, Any] = {"model": model, "description": description, "headers": HEADERS}
    if content:
        answer["content"] = content
    return {200: answer, 304: {"description": "Not modified (If-None-Match matched the ETag)"}}


@dataclass(frozen=True, slots=True)
class Audience:
    """Who an answer is for: its language and region, and whether adult titles may show."""

    locale: Locale
    allows_adult: bool
    personal: bool  # a signed-in user's: not for shared caches


async def _audience(
    request: Request, runtime: RuntimeDep, principal: OptionalPrincipal, preferred: Preferred
) -> Audience:
    viewer = await viewer_preferences(runtime.redis, principal.user_id) if principal else ANONYMOUS
    locale = preferred.resolve(viewer.locale, accepted(request.headers.get("accept-language")))
    return Audience(locale=locale, allows_adult=viewer.allows_adult, personal=principal is not None)


async def audience(
    request: Request,
    runtime: RuntimeDep,
    principal: OptionalPrincipal,
    language: Annotated[
        str | None,
        Query(
            pattern=LANGUAGE_PATTERN,
            description="Answer language (fr, fr-CA); default: the user's, else Accept-Language",
        ),
    ] = None,
    region: Annotated[
        str | None,
        Query(pattern=REGION_PATTERN, description="Region (GB); default: the user's, else US"),
    ] = None,
) -> Audience:
    return await _audience(request, runtime, principal, explicit(language, region))


AudienceDep = Annotated[Audience, Depends(audience)]


@asynccontextmanager
async def _upstream_errors(what: str = "movie") -> AsyncIterator[None]:
    try:
        yield
    except MovieNotFound as exc:
        raise ProblemError(404, f"No {what} with this id") from exc
    except TmdbUnavailable as exc:
        headers = {"Retry-After": "10"} if exc.status == 503 else {}
        raise ProblemError(
            exc.status, f"The movie database is unavailable: {exc.reason}", headers=headers
        ) from exc


def _answer(
    request: Request,
    body: bytes,
    served: Served,
    audience: Audience,
    *,
    max_age_cap_s: int | None = None,
) -> Response:
    etag = etag_of(body)
    headers = cache_headers(
        etag=etag,
        cache_status=served.cache_status,
        fresh_until=served.entry.fresh_until,
        personal=audience.personal,
        max_age_cap_s=max_age_cap_s,
    )
    decoded = {key.decode(): value.decode() for key, value in headers}
    if matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=decoded)
    return Response(body, media_type="application/json", headers=decoded)


async def _respond(request: Request, served: Awaitable[Served], audience: Audience) -> Response:
    async with _upstream_errors():
        result = await served
    body = visibility.visible_page(result.entry, allows_adult=audience.allows_adult)
    return _answer(request, body, result, audience)


PAGE_EXAMPLE = {
    "page": 1,
    "total_pages": 20,
    "total_results": 400,
    "results": [
        {
            "id": 603,
            "title": "The Matrix",
            "overview": "A hacker learns what reality is.",
            "release_date": "1999-03-30",
            "genre_ids": [28, 878],
            "vote_average": 8.2,
            "vote_count": 25000,
            "popularity": 80.5,
            "poster_url": "https://image.tmdb.org/t/p/w500/matrix.jpg",
        }
    ],
}


@router.get(
    "/movies/trending",
    operation_id="movies_trending",
    response_model=None,
    summary="Trending movies",
    responses={
        **_ok(MoviePage, "A page of trending movies", PAGE_EXAMPLE),
        **problem_responses(422, 502, 503, 504),
    },
)
async def trending(
    request: Request,
    catalog: CatalogDep,
    audience: AudienceDep,
    window: Annotated[Literal["day", "week"], Query(description="day or week")] = "day",
    page: PageQuery = 1,
) -> Response:
    return await _respond(request, catalog.trending(window, page, audience.locale), audience)


def _list_route(name: str, summary: str) -> None:
    async def movie_list(
        request: Request, catalog: CatalogDep, audience: AudienceDep, page: PageQuery = 1
    ) -> Response:
        return await _respond(request, catalog.movie_list(name, page, audience.locale), audience)

    router.add_api_route(
        f"/movies/{name}",
        movie_list,
        methods=["GET"],
        operation_id=f"movies_{name.replace('-', '_')}",
        response_model=None,
        summary=summary,
        responses={
            **_ok(MoviePage, f"A page of {summary.lower()}", PAGE_EXAMPLE),
            **problem_responses(422, 502, 503, 504),
        },
    )


for _name, _summary in {
    "popular": "Popular movies",
    "top-rated": "Top rated movies",
    "upcoming": "Upcoming movies in the region",
    "now-playing": "Movies in cinemas in the region",
}.items():
    assert _name in MOVIE_LISTS
    _list_route(_name, _summary)

IdFilter = Annotated[
    str | None,
    Query(
        max_length=200,
        pattern=r"^\d{1,9}([,|]\d{1,9}){0,19}$",
        description="Ids joined by , (all of them) or | (any of them)",
    ),
]
Year = Annotated[int | None, Query(ge=1870, le=2100)]
Runtime = Annotated[int | None, Query(ge=0, le=1000, description="Minutes")]


def _ids(raw: str | None) -> tuple[tuple[int, ...], bool]:
    if not raw:
        return (), False
    any_of = "|" in raw
    return tuple(sorted({int(i) for i in raw.replace("|", ",").split(",")})), any_of


@router.get(
    "/movies/discover",
    operation_id="movies_discover",
    response_model=None,
    summary="Movies matching filters",
    description=(
        "Every filter is optional and all of them must hold (a range whose ends are swapped "
        "matches nothing). `language` here filters on the original language; the answer's "
        "language is the user's (or Accept-Language). `region` filters releases and watch "
        "providers, and defaults to the user's region for `provider`."
    ),
    responses={
        **_ok(MoviePage, "A page of movies matching every filter", PAGE_EXAMPLE),
        **problem_responses(422, 502, 503, 504),
    },
)
async def discover(
    request: Request,
    catalog: CatalogDep,
    runtime: RuntimeDep,
    principal: OptionalPrincipal,
    genres: IdFilter = None,
    without_genres: IdFilter = None,
    year_from: Year = None,
    year_to: Year = None,
    min_rating: Annotated[float | None, Query(ge=0, le=10)] = None,
    min_votes: Annotated[int | None, Query(ge=0, le=10_000_000)] = None,
    language: Annotated[
        str | None, Query(pattern=r"^[a-z]{2}$", description="Original language (ISO 639-1)")
    ] = None,
    runtime_min: Runtime = None,
    runtime_max: Runtime = None,
    provider: IdFilter = None,
    region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
    sort: Literal["popularity", "rating", "release_date", "title"] = "popularity",
    order: Annotated[
        Literal["desc", "asc"] | None, Query(description="Default: asc for title, else desc")
    ] = None,
    page: PageQuery = 1,
) -> Response:
    who = await _audience(request, runtime, principal, Preferred(region=region))
    genre_ids, any_genre = _ids(genres)
    filters = DiscoverFilters(
        genres=genre_ids,
        any_genre=any_genre,
        without_genres=_ids(without_genres)[0],
        year_from=year_from,
        year_to=year_to,
        min_rating=min_rating,
        min_votes=min_votes,
        original_language=language,
        runtime_min=runtime_min,
        runtime_max=runtime_max,
        providers=_ids(provider)[0],
        release_region=region,
        sort=sort,
        order=order or ("asc" if sort == "title" else "desc"),
    )
    return await _respond(
        request, catalog.discover_filtered(filters, page=page, locale=who.locale), who
    )


@router.get(
    "/movies/search",
    operation_id="movies_search",
    response_model=None,
    summary="Search movies by title",
    responses={
        **_ok(MoviePage, "A page of matching movies", PAGE_EXAMPLE),
        **problem_responses(422, 502, 503, 504),
    },
)
async def search(
    request: Request,
    catalog: CatalogDep,
    audience: AudienceDep,
    query: Annotated[
        str, Query(min_length=1, max_length=200, pattern=r"\S", description="Words of the title")
    ],
    page: PageQuery = 1,
) -> Response:
    return await _respond(request, catalog.search(query, page, audience.locale), audience)


_PART = f"({'|'.join(PARTS)})"
INCLUDE_PATTERN = f"^({_PART}(,{_PART})*)?$"


def _parts(include: str | None) -> tuple[str, ...]:
    """The parts asked for (the query's pattern has refused unknown ones); all without it."""
    if include is None:
        return PARTS
    return tuple(dict.fromkeys(part for part in include.split(",") if part))


DETAIL_EXAMPLE = {
    **PAGE_EXAMPLE["results"][0],  # type: ignore[index]
    "genres": [{"id": 28, "name": "Action"}],
    "runtime": 136,
    "tagline": "Welcome to the Real World.",
    "status": "Released",
    "original_language": "en",
    "backdrop_url": None,
    "community_rating": {"average": 8.5, "count": 12},
    "credits": {
        "cast": [
            {
                "id": 6384,
                "name": "Keanu Reeves",
                "character": "Neo",
                "profile_url": None,
                "order": 0,
            }
        ],
        "crew": [
            {"id": 9340, "name": "Lana Wachowski", "job": "Director", "department": "Directing"}
        ],
    },
    "videos": [
        {
            "site": "YouTube",
            "key": "vKQi3bBA1y8",
            "url": "https://www.youtube.com/watch?v=vKQi3bBA1y8",
            "type": "Trailer",
            "official": True,
            "name": "Official Trailer",
        }
    ],
    "watch_providers": {
        "region": "US",
        "link": "https://www.themoviedb.org/movie/603-the-matrix/watch?locale=US",
        "flatrate": [{"id": 8, "name": "Netflix", "logo_url": None}],
        "rent": [],
        "buy": [],
    },
    "certification": "R",
    "collection": None,
    "external_ids": {"imdb_id": "tt0133093"},
    "keywords": [{"id": 310, "name": "artificial intelligence"}],
}


@router.get(
    "/movies/{movie_id}",
    operation_id="movies_get",
    response_model=None,
    summary="A movie's details",
    description="With `include`, only the parts named (comma-separated); without it, all.",
    responses={
        **_ok(MovieDetail, "The movie", DETAIL_EXAMPLE),
        **problem_responses(404, 422, 502, 503, 504),
    },
)
async def movie(
    request: Request,
    catalog: CatalogDep,
    audience: AudienceDep,
    movie_id: MovieId,
    include: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=INCLUDE_PATTERN,
            description=f"Parts to add, comma-separated: {', '.join(PARTS)}",
        ),
    ] = None,
) -> Response:
    parts = _parts(include)
    mirror: CommunityMirror = request.app.state.community
    async with _upstream_errors():
        served = await catalog.movie(
            movie_id, audience.locale, companions=(community_key(movie_id),)
        )
    if visibility.hides(served.entry, allows_adult=audience.allows_adult):
        raise ProblemError(404, "No movie with this id")
    community = await mirror.resolve(movie_id, served.companions[0])
    catalog.cache.remember(community_key(movie_id), community)
    body = assemble(served.entry.body, parts, community)
    return _answer(request, body, served, audience, max_age_cap_s=DETAILS_MAX_AGE_S)


async def _related(
    request: Request, catalog: CatalogDep, audience: Audience, kind: str, movie_id: int, page: int
) -> Response:
    async with _upstream_errors():
        title = await catalog.movie(movie_id, audience.locale)
    if visibility.hides(title.entry, allows_adult=audience.allows_adult):  # as its details
        raise ProblemError(404, "No movie with this id")
    fetch = catalog.similar if kind == "similar" else catalog.recommendations
    return await _respond(request, fetch(movie_id, page, audience.locale), audience)


@router.get(
    "/movies/{movie_id}/similar",
    operation_id="movies_similar",
    response_model=None,
    summary="Movies similar to this one",
    responses={
        **_ok(MoviePage, "A page of similar movies", PAGE_EXAMPLE),
        **problem_responses(404, 422, 502, 503, 504),
    },
)
async def similar(
    request: Request,
    catalog: CatalogDep,
    audience: AudienceDep,
    movie_id: MovieId,
    page: PageQuery = 1,
) -> Response:
    return await _related(request, catalog, audience, "similar", movie_id, page)


@router.get(
    "/movies/{movie_id}/recommendations",
    operation_id="movies_recommendations",
    response_model=None,
    summary="TMDb's recommendations for this title",
    description="TMDb's per-title list; `/recommendations` is the personalised one.",
    responses={
        **_ok(MoviePage, "A page of recommended movies", PAGE_EXAMPLE),
        **problem_responses(404, 422, 502, 503, 504),
    },
)
async def title_recommendations(
    request: Request,
    catalog: CatalogDep,
    audience: AudienceDep,
    movie_id: MovieId,
    page: PageQuery = 1,
) -> Response:
    return await _related(request, catalog, audience, "recommendations", movie_id, page)


@router.get(
    "/genres",
    operation_id="movies_genres",
    response_model=None,
    summary="Movie genres",
    responses={
        200: {
            "model": list[Genre],
            "description": "Every genre",
            "headers": HEADERS,
            "content": {"application/json": {"example": [{"id": 28, "name": "Action"}]}},
        },
        **problem_responses(502, 503, 504),
    },
)
async def genres(request: Request, catalog: CatalogDep, audience: AudienceDep) -> Response:
    return await _respond(request, catalog.genres(audience.locale), audience)


people = APIRouter(prefix=API_PREFIX, tags=["people"])
PERSON_EXAMPLE = {
    "id": 6384,
    "name": "Keanu Reeves",
    "biography": "An actor.",
    "birthday": "1964-09-02",
    "place_of_birth": "Beirut, Lebanon",
    "profile_url": None,
    "known_for_department": "Acting",
}


@people.get(
    "/people/{person_id}",
    operation_id="people_get",
    response_model=None,
    summary="A person",
    responses={
        **_ok(Person, "The person", PERSON_EXAMPLE),
        **problem_responses(404, 422, 502, 503, 504),
    },
)
async def person(
    request: Request, catalog: CatalogDep, audience: AudienceDep, person_id: PersonId
) -> Response:
    async with _upstream_errors("person"):
        served = await catalog.person(person_id, audience.locale)
    return _answer(request, served.entry.body, served, audience)


@people.get(
    "/people/{person_id}/movies",
    operation_id="people_movies",
    response_model=None,
    summary="A person's movies, newest first",
    responses={
        **_ok(PersonCreditPage, "A page of their movies, each with character or job"),
        **problem_responses(404, 422, 502, 503, 504),
    },
)
async def person_movies(
    request: Request,
    catalog: CatalogDep,
    audience: AudienceDep,
    person_id: PersonId,
    page: PageQuery = 1,
) -> Response:
    async with _upstream_errors("person"):
        served = await catalog.person_credits(person_id, audience.locale)
    credits = visibility.visible_credits(
        orjson.loads(served.entry.body), served.entry, allows_adult=audience.allows_adult
    )
    start = (page - 1) * TMDB_PAGE_SIZE
    body = orjson.dumps(
        {
            "page": page,
            "total_pages": page_count(len(credits), TMDB_PAGE_SIZE),
            "total_results": len(credits),
            "results": credits[start : start + TMDB_PAGE_SIZE],
        }
    )
    return _answer(request, body, served, audience)


finder = APIRouter(prefix=API_PREFIX, tags=["search"])


@finder.get(
    "/search",
    operation_id="search_any",
    response_model=None,
    summary="Search movies or people",
    responses={
        **_ok(SearchPage, "A page of results, each with its `type`"),
        **problem_responses(422, 502, 503, 504),
    },
)
async def search_any(
    request: Request,
    catalog: CatalogDep,
    audience: AudienceDep,
    query: Annotated[str, Query(min_length=1, max_length=200, pattern=r"\S")],
    type: Annotated[Literal["movie", "person"], Query(description="What to look for")] = "movie",
    page: PageQuery = 1,
) -> Response:
    if type == "person":
        return await _respond(
            request, catalog.search_people(query, page, audience.locale), audience
        )
    async with _upstream_errors():
        served = await catalog.search(query, page, audience.locale)
    body = visibility.visible_page(served.entry, allows_adult=audience.allows_adult)
    # The movie page's bytes with a type on each result, without parsing: results are
    # objects that all begin with {"id":
    typed = body.replace(b'{"id":', b'{"type":"movie","id":')
    return _answer(request, typed, served, audience)


IdList = Annotated[str, Query(max_length=2000, pattern=r"^\d{1,10}(,\d{1,10})*$")]
Pages = Annotated[int, Query(ge=1, le=5)]
Viewer = Annotated[
    uuid.UUID | Literal["anonymous"] | None,
    Query(description="Whose eyes: the answer is in their language and region"),
]


async def _eyes(runtime: ServiceRuntime, viewer: uuid.UUID | str | None) -> ViewerPreferences:
    """The preferences of the user a service asks for (anonymous: the defaults)."""
    if isinstance(viewer, uuid.UUID):
        return await viewer_preferences(runtime.redis, viewer)
    return ANONYMOUS


@internal_router.get("/related", response_model=RelatedLists | RelatedIds)
async def related(
    request: Request,
    catalog: CatalogDep,
    runtime: RuntimeDep,
    ids: IdList,
    kind: Literal["recommendations", "similar"] = "recommendations",
    pages: Pages = 2,
    ids_only: Annotated[bool, Query(description="Each list as movie ids only")] = False,
    viewer: Viewer = None,
) -> Response:
    """TMDb's recommendations (or similar titles) for up to 50 movies in one call."""
    movie_ids = list(dict.fromkeys(int(i) for i in ids.split(",")))[:50]
    locale = (await _eyes(runtime, viewer)).locale or DEFAULT_LOCALE
    found = await catalog.related(movie_ids, kind=kind, pages=pages, locale=locale)
    if ids_only:
        found["lists"] = {key: [m["id"] for m in movies] for key, movies in found["lists"].items()}
    return Response(orjson.dumps(found), media_type="application/json")


@internal_router.get("/trending", response_model=MovieList)
async def trending_list(
    request: Request,
    catalog: CatalogDep,
    runtime: RuntimeDep,
    window: Literal["day", "week"] = "week",
    pages: Pages = 2,
    viewer: Viewer = None,
) -> Response:
    """Several pages of trending as one list, adult titles marked, for other services."""
    locale = (await _eyes(runtime, viewer)).locale or DEFAULT_LOCALE
    found = await catalog.collected(
        [catalog.trending(window, page, locale) for page in range(1, pages + 1)]
    )
    return Response(orjson.dumps(found), media_type="application/json")


@internal_router.get("/discover", response_model=MovieList)
async def discover_list(
    request: Request,
    catalog: CatalogDep,
    runtime: RuntimeDep,
    genre_ids: IdList,
    pages: Pages = 1,
    viewer: Viewer = None,
) -> Response:
    """Popular titles in any of these genres, for other services."""
    genres = [int(g) for g in genre_ids.split(",")][:20]
    locale = (await _eyes(runtime, viewer)).locale or DEFAULT_LOCALE
    found = await catalog.collected(
        [
            catalog.discover(genre_ids=genres, page=page, locale=locale)
            for page in range(1, pages + 1)
        ]
    )
    return Response(orjson.dumps(found), media_type="application/json")


@internal_router.post("/refresh")
async def refresh_now(request: Request, runtime: RuntimeDep) -> Response:
    """Run the scheduled refresh now (operators, tests): the same code, the same events."""
    events = await request.app.state.refresher.refresh_once(trigger="request")
    new = {
        event.window: event.new_movie_ids
        for event in events
        if isinstance(event, CatalogTrendingRefreshed)
    }
    return Response(
        orjson.dumps({"events": len(events), "new_movie_ids": new}), media_type="application/json"
    )


@internal_router.get("/movies", response_model=MovieBatch)
async def movies_batch(
    request: Request,
    catalog: CatalogDep,
    runtime: RuntimeDep,
    ids: IdList,
    viewer: Annotated[
        uuid.UUID | Literal["anonymous"] | None,
        Query(description="Whose eyes: adult titles they have not allowed are left out"),
    ] = None,
) -> Response:
    """Summaries of many movies at once, for other services (gateway-signed calls only).

    With `viewer`, they are in that viewer's language and region, and adult titles the viewer
    has not allowed are listed in `hidden` instead of `results`, so a service acting for a user
    treats them as it would an unknown id."""
    movie_ids = list(dict.fromkeys(int(i) for i in ids.split(",")))[:100]
    eyes = await _eyes(runtime, viewer)
    found = await catalog.movies(movie_ids, eyes.locale or DEFAULT_LOCALE)
    hidden: list[int] = []
    if viewer is not None:
        hidden = visibility.hidden_ids(found["adult_ids"], allows_adult=eyes.allows_adult)
        left_out = set(hidden)
        found["results"] = [m for m in found["results"] if m["id"] not in left_out]
    found["hidden"] = hidden
    return Response(orjson.dumps(found), media_type="application/json")
