"""What every public catalog answer shares: who it is for (the audience: language, region,
adult titles), its errors when TMDb fails, and its HTTP caching headers (X-Cache, a strong
ETag, Cache-Control; conditional.py). The routes live in api.py (movies), people_api.py
(people and search across kinds) and internal_api.py (other services)."""

from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from starlette.responses import Response

from catalog import visibility
from catalog.conditional import cache_headers, etag_of, matches
from catalog.freshness import NotInTmdb, Served
from catalog.locale import LANGUAGE_PATTERN, REGION_PATTERN, Locale, Preferred, accepted, explicit
from catalog.preferences import ANONYMOUS, viewer_preferences
from catalog.tmdb import TmdbUnavailable
from shared.deps import OptionalPrincipal, RuntimeDep
from shared.errors import ProblemError

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


def ok(model: type, description: str, example: Any = None) -> dict[int | str, dict[str, Any]]:
    content = {"application/json": {"example": example}} if example is not None else None
    answer: dict[str, Any] = {"model": model, "description": description, "headers": HEADERS}
    if content:
        answer["content"] = content
    return {200: answer, 304: {"description": "Not modified (If-None-Match matched the ETag)"}}


@dataclass(frozen=True, slots=True)
class Audience:
    """Who an answer is for: its language and region, whether adult titles may show, and the
    streaming services the user has."""

    locale: Locale
    allows_adult: bool
    personal: bool  # a signed-in user's: not for shared caches
    providers: tuple[int, ...] = ()


async def audience_of(
    request: Request, runtime: RuntimeDep, principal: OptionalPrincipal, preferred: Preferred
) -> Audience:
    viewer = await viewer_preferences(runtime.redis, principal.user_id) if principal else ANONYMOUS
    locale = preferred.resolve(viewer.locale, accepted(request.headers.get("accept-language")))
    return Audience(
        locale=locale,
        allows_adult=viewer.allows_adult,
        personal=principal is not None,
        providers=viewer.providers,
    )


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
    return await audience_of(request, runtime, principal, explicit(language, region))


AudienceDep = Annotated[Audience, Depends(audience)]


@asynccontextmanager
async def upstream_errors(what: str = "movie") -> AsyncIterator[None]:
    try:
        yield
    except NotInTmdb as exc:
        raise ProblemError(404, f"No {what} with this id") from exc
    except TmdbUnavailable as exc:
        headers = {"Retry-After": "10"} if exc.status == 503 else {}
        raise ProblemError(
            exc.status, f"The movie database is unavailable: {exc.reason}", headers=headers
        ) from exc


def answer(
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


async def respond(request: Request, served: Awaitable[Served], audience: Audience) -> Response:
    async with upstream_errors():
        result = await served
    body = visibility.visible_page(result.entry, allows_adult=audience.allows_adult)
    return answer(request, body, result, audience)
