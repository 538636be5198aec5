"""People routes and search across kinds (tags `people` and `search` in the OpenAPI)."""

from typing import Annotated, Literal

import orjson
from fastapi import Query, Request
from starlette.responses import Response

from catalog import visibility
from catalog.answers import AudienceDep, PersonId, answer, ok, respond, upstream_errors
from catalog.deps import CatalogDep, PageQuery
from catalog.models import Person, PersonCreditPage, SearchPage
from catalog.upstream import TMDB_PAGE_SIZE
from shared.app import API_PREFIX, service_router
from shared.catalog_models import page_count
from shared.errors import problem_responses

people = service_router(prefix=API_PREFIX, tags=["people"])
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
        **ok(Person, "The person", PERSON_EXAMPLE),
        **problem_responses(404, 422, 502, 503, 504),
    },
)
async def person(
    request: Request, catalog: CatalogDep, audience: AudienceDep, person_id: PersonId
) -> Response:
    async with upstream_errors("person"):
        served = await catalog.person(person_id, audience.locale)
    return answer(request, served.entry.body, served, audience)


@people.get(
    "/people/{person_id}/movies",
    operation_id="people_movies",
    response_model=None,
    summary="A person's movies, newest first",
    responses={
        **ok(PersonCreditPage, "A page of their movies, each with character or job"),
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
    async with upstream_errors("person"):
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
    return answer(request, body, served, audience)


finder = service_router(prefix=API_PREFIX, tags=["search"])


@finder.get(
    "/search",
    operation_id="search_any",
    response_model=None,
    summary="Search movies or people",
    responses={
        **ok(SearchPage, "A page of results, each with its `type`"),
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
        return await respond(request, catalog.search_people(query, page, audience.locale), audience)
    async with upstream_errors():
        served = await catalog.search(query, page, audience.locale)
    body = visibility.visible_page(served.entry, allows_adult=audience.allows_adult)
    # The movie page's bytes with a type on each result, without parsing: results are
    # objects that all begin with {"id":
    typed = body.replace(b'{"id":', b'{"type":"movie","id":')
    return answer(request, typed, served, audience)
