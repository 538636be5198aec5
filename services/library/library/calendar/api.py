"""The release calendar route: the user's watchlist and favorites by date, in their region."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import orjson
from fastapi import Query
from starlette.responses import Response

from library.calendar.service import watched_titles
from library.deps import CatalogDep
from shared.app import API_PREFIX, service_router
from shared.catalog_models import Calendar, CalendarEntry
from shared.db import in_session
from shared.deps import CurrentPrincipal, EngineDep
from shared.errors import ProblemError, problem_responses
from shared.threads import run_sync

router = service_router(prefix=API_PREFIX, tags=["calendar"])
MAX_SPAN_DAYS = 180
DEFAULT_PAST_DAYS = 7
DEFAULT_AHEAD_DAYS = 90
DATE = r"^\d{4}-\d{2}-\d{2}$"


@router.get(
    "/me/calendar",
    operation_id="calendar_get",
    response_model=Calendar,
    responses=problem_responses(401, 422, 503),
    summary="Your watchlist and favorites by date: releases and arrivals on your services",
    description=(
        "Theatrical and digital release dates in your region (`preferences.region`, else US) "
        "and the day each title arrived on one of your services (`preferences.providers`; "
        "`streaming`, naming it), oldest first. `from` and `to` are inclusive and at most "
        f"{MAX_SPAN_DAYS} days apart; by default from {DEFAULT_PAST_DAYS} days ago to "
        f"{DEFAULT_AHEAD_DAYS} days ahead. A provider's arrival is the day the catalog saw it."
    ),
)
async def calendar(
    principal: CurrentPrincipal,
    engine: EngineDep,
    catalog: CatalogDep,
    start_text: Annotated[
        str | None, Query(alias="from", pattern=DATE, description="YYYY-MM-DD")
    ] = None,
    end_text: Annotated[
        str | None, Query(alias="to", pattern=DATE, description="YYYY-MM-DD")
    ] = None,
) -> Response:
    start, end = _span(_day(start_text, "from"), _day(end_text, "to"))
    if end < start or (end - start).days > MAX_SPAN_DAYS:
        raise ProblemError(
            422,
            f"`from` and `to` must be in order and at most {MAX_SPAN_DAYS} days apart",
            errors=[{"loc": ["query", "to"], "msg": f"at most {MAX_SPAN_DAYS} days after from"}],
        )
    movie_ids = await run_sync(in_session, engine, watched_titles, user_id=principal.user_id)
    if not movie_ids:
        return Response(b'{"results":[]}', media_type="application/json")
    found = await catalog.calendar(
        user_id=str(principal.user_id),
        movie_ids=movie_ids,
        start=start.isoformat(),
        end=end.isoformat(),
    )
    body = {"results": [_public(entry) for entry in found.results]}
    return Response(orjson.dumps(body), media_type="application/json")


def _span(start: date | None, end: date | None) -> tuple[date, date]:
    """The dates asked for, or the defaults around the one given (or today)."""
    span = timedelta(days=DEFAULT_PAST_DAYS + DEFAULT_AHEAD_DAYS)
    if start is None and end is None:
        start = datetime.now(UTC).date() - timedelta(days=DEFAULT_PAST_DAYS)
    try:
        if start is None:
            assert end is not None
            return end - span, end
        return start, end or start + span
    except OverflowError:  # a default span past year 1 or 9999
        raise ProblemError(422, "`from` or `to` is out of range") from None


def _public(entry: CalendarEntry) -> dict[str, object]:
    """An entry as the contract has it: `provider` only on a streaming arrival."""
    return entry.model_dump(mode="json", exclude={"provider"} if entry.provider is None else None)


def _day(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ProblemError(
            422, f"`{name}` is not a date", errors=[{"loc": ["query", name], "msg": "not a date"}]
        ) from None
