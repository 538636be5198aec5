"""Movie routes (tag `movies` in the OpenAPI): trending, lists, discover, search, details,
similar titles and recommendations, genres; answers shaped by answers.py."""

from typing import Annotated, Literal

from fastapi import Query, Request
from starlette.responses import Response

from catalog import visibility
from catalog.answers import (
    HEADERS,
    Audience,
    AudienceDep,
    MovieId,
    answer,
    audience_of,
    ok,
    respond,
    upstream_errors,
)
from catalog.community import CommunityMirror, community_key
from catalog.conditional import DETAILS_MAX_AGE_S
from catalog.deps import CatalogDep, PageQuery
from catalog.details import PARTS, assemble
from catalog.locale import REGION_PATTERN, Preferred
from catalog.models import Genre, MovieDetail, MoviePage
from catalog.service import MOVIE_LISTS, DiscoverFilters
from shared.app import API_PREFIX, service_router
from shared.deps import OptionalPrincipal, RuntimeDep
from shared.errors import ProblemError, problem_responses

router = service_router(prefix=API_PREFIX, tags=["movies"])


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
        **ok(MoviePage, "A page of trending movies", PAGE_EXAMPLE),
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
    return await respond(request, catalog.trending(window, page, audience.locale), audience)


def _list_route(name: str, summary: str) -> None:
    async def movie_list(
        request: Request, catalog: CatalogDep, audience: AudienceDep, page: PageQuery = 1
    ) -> Response:
        return await respond(request, catalog.movie_list(name, page, audience.locale), audience)

    router.add_api_route(
        f"/movies/{name}",
        movie_list,
        methods=["GET"],
        operation_id=f"movies_{name.replace('-', '_')}",
        response_model=None,
        summary=summary,
        responses={
            **ok(MoviePage, f"A page of {summary.lower()}", PAGE_EXAMPLE),
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
ProviderFilter = Annotated[
    str | None,
    Query(
        max_length=200,
        pattern=r"^(mine|\d{1,9}([,|]\d{1,9}){0,19})$",
        description=(
            "Watch provider ids joined by | (any of them), or `mine`: the services in the "
            "signed-in user's preferences (`preferences.providers`)"
        ),
    ),
]
Year = Annotated[int | None, Query(ge=1870, le=2100)]
Runtime = Annotated[int | None, Query(ge=0, le=1000, description="Minutes")]


def _providers(raw: str | None, signed_in: bool, who: Audience) -> tuple[int, ...]:
    """The provider filter: ids as given, or `mine`, the services the user has."""
    if raw != "mine":
        return _ids(raw)[0]
    if not signed_in:
        raise ProblemError(
            401, "provider=mine needs a signed-in user", headers={"WWW-Authenticate": "Bearer"}
        )
    return who.providers  # none set: nothing matches


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
        "providers, and defaults to the user's region for `provider`. `provider=mine` keeps "
        "the titles streaming on the services the user has (`preferences.providers`; a "
        "token needed, and with no services set nothing matches)."
    ),
    responses={
        **ok(MoviePage, "A page of movies matching every filter", PAGE_EXAMPLE),
        **problem_responses(401, 422, 502, 503, 504),
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
    provider: ProviderFilter = None,
    region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
    sort: Literal["popularity", "rating", "release_date", "title"] = "popularity",
    order: Annotated[
        Literal["desc", "asc"] | None, Query(description="Default: asc for title, else desc")
    ] = None,
    page: PageQuery = 1,
) -> Response:
    who = await audience_of(request, runtime, principal, Preferred(region=region))
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
        providers=_providers(provider, principal is not None, who),
        release_region=region,
        sort=sort,
        order=order or ("asc" if sort == "title" else "desc"),
    )
    if provider == "mine" and not filters.providers:
        empty = b'{"page":%d,"total_pages":0,"total_results":0,"results":[]}' % page
        return Response(empty, media_type="application/json", headers={"Cache-Control": "private"})
    return await respond(
        request, catalog.discover_filtered(filters, page=page, locale=who.locale), who
    )


@router.get(
    "/movies/search",
    operation_id="movies_search",
    response_model=None,
    summary="Search movies by title",
    responses={
        **ok(MoviePage, "A page of matching movies", PAGE_EXAMPLE),
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
    return await respond(request, catalog.search(query, page, audience.locale), audience)


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
        **ok(MovieDetail, "The movie", DETAIL_EXAMPLE),
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
    since = catalog.cache.recent.mark()
    async with upstream_errors():
        served = await catalog.movie(
            movie_id, audience.locale, companions=(community_key(movie_id),)
        )
    if visibility.hides(served.entry, allows_adult=audience.allows_adult):
        raise ProblemError(404, "No movie with this id")
    community = await mirror.resolve(movie_id, served.companions[0])
    catalog.cache.recent.remember_rating(community_key(movie_id), community, since=since)
    body = assemble(served.entry.body, parts, community, providers=audience.providers)
    return answer(request, body, served, audience, max_age_cap_s=DETAILS_MAX_AGE_S)


async def _related(
    request: Request, catalog: CatalogDep, audience: Audience, kind: str, movie_id: int, page: int
) -> Response:
    async with upstream_errors():
        title = await catalog.movie(movie_id, audience.locale)
    if visibility.hides(title.entry, allows_adult=audience.allows_adult):  # as its details
        raise ProblemError(404, "No movie with this id")
    fetch = catalog.similar if kind == "similar" else catalog.recommendations
    return await respond(request, fetch(movie_id, page, audience.locale), audience)


@router.get(
    "/movies/{movie_id}/similar",
    operation_id="movies_similar",
    response_model=None,
    summary="Movies similar to this one",
    responses={
        **ok(MoviePage, "A page of similar movies", PAGE_EXAMPLE),
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
        **ok(MoviePage, "A page of recommended movies", PAGE_EXAMPLE),
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
    return await respond(request, catalog.genres(audience.locale), audience)
