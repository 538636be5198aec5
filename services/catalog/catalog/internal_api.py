"""Routes for other services only (gateway-signed, not in the public OpenAPI): batches of
movies, related lists, trending and discover lists for a viewer, a refresh on demand, a
user's release calendar."""

import uuid
from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from catalog import matching, release_check, visibility
from catalog.deps import CatalogDep
from catalog.locale import DEFAULT_LOCALE, Locale
from catalog.models import MovieBatch, MovieList, RelatedIds, RelatedLists
from catalog.preferences import ANONYMOUS, ViewerPreferences, viewer_preferences
from shared.app import service_router
from shared.deps import InternalOnly, RuntimeDep
from shared.events import CatalogTrendingRefreshed
from shared.runtime import Runtime as ServiceRuntime

internal_router = service_router(
    prefix="/internal", include_in_schema=False, dependencies=[InternalOnly]
)


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
async def refresh_now(request: Request) -> Response:
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


@internal_router.post("/match", response_model=matching.MatchAnswer)
async def match_rows(catalog: CatalogDep, body: matching.MatchRequest) -> matching.MatchAnswer:
    """TMDb ids for up to 100 rows of another site's export (matching.py says how)."""
    return matching.MatchAnswer(results=await matching.match(catalog, body.rows))


@internal_router.get("/movies", response_model=MovieBatch)
async def movies_batch(
    catalog: CatalogDep,
    runtime: RuntimeDep,
    ids: IdList,
    viewer: Annotated[
        uuid.UUID | Literal["anonymous"] | None,
        Query(description="Whose eyes: adult titles they have not allowed are left out"),
    ] = None,
    language: Annotated[
        str | None,
        Query(pattern=r"^[a-z]{2}$", description="In this language, whoever the viewer is"),
    ] = None,
) -> Response:
    """Summaries of many movies at once, for other services (gateway-signed calls only).

    With `viewer`, they are in that viewer's language and region, and adult titles the viewer
    has not allowed are listed in `hidden` instead of `results`, so a service acting for a user
    treats them as it would an unknown id. With `language`, they are in that language (a
    service writing for every reader of a language at once)."""
    movie_ids = list(dict.fromkeys(int(i) for i in ids.split(",")))[:100]
    eyes = await _eyes(runtime, viewer)
    locale = eyes.locale or DEFAULT_LOCALE
    if language is not None:
        locale = Locale(language, locale.region)
    found = await catalog.movies(movie_ids, locale)
    hidden: list[int] = []
    if viewer is not None:
        hidden = visibility.hidden_ids(found["adult_ids"], allows_adult=eyes.allows_adult)
        left_out = set(hidden)
        found["results"] = [m for m in found["results"] if m["id"] not in left_out]
    found["hidden"] = hidden
    return Response(orjson.dumps(found), media_type="application/json")


class CalendarAsk(BaseModel):
    user_id: uuid.UUID
    movie_ids: list[int] = Field(max_length=2000, description="The user's watchlist and favorites")
    start: date
    end: date


SUMMARIES_PER_CALL = 100


@internal_router.post("/calendar")
async def calendar_of(catalog: CatalogDep, runtime: RuntimeDep, body: CalendarAsk) -> Response:
    """The user's calendar: these titles' release dates in the user's region and their arrival
    on the user's services, between `start` and `end`, with each title's summary."""
    assert runtime.engine is not None
    entries = await release_check.calendar(
        engine=runtime.engine,
        tmdb=catalog.tmdb,
        user_id=body.user_id,
        movie_ids=list(dict.fromkeys(body.movie_ids)),
        start=body.start,
        end=body.end,
        logo_url=catalog.upstream.image,
    )
    eyes = await _eyes(runtime, body.user_id)
    ids = list(dict.fromkeys(entry.movie_id for entry in entries))
    summaries: dict[int, Any] = {}
    for first in range(0, len(ids), SUMMARIES_PER_CALL):
        found = await catalog.movies(
            ids[first : first + SUMMARIES_PER_CALL], eyes.locale or DEFAULT_LOCALE
        )
        hidden = set(visibility.hidden_ids(found["adult_ids"], allows_adult=eyes.allows_adult))
        summaries.update((m["id"], m) for m in found["results"] if m["id"] not in hidden)
    results = [
        {
            "movie": summaries[entry.movie_id],
            "date": entry.on.isoformat(),
            "kind": entry.kind,
            **({"provider": entry.provider} if entry.provider else {}),
        }
        for entry in entries
        if entry.movie_id in summaries
    ]
    return Response(orjson.dumps({"results": results}), media_type="application/json")
