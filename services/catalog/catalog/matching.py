"""How a row of another site's export (Letterboxd, IMDb, Trakt) becomes a TMDb id, for the
library's imports: by the TMDb id it carries (checked), else its IMDb id through TMDb's /find,
else its title and year through TMDb's search. A title is matched only when one film fits: the
same title (case, accents and punctuation aside) of that year, or of the year before or after
when no film of that year has it (festival premieres are often dated a year apart from the
release TMDb keeps). Anything else is reported with its reason, never guessed.

Every lookup goes through the catalog's cache and single flight, so the same title in many
imports, or twice in one, is one TMDb call; a batch runs a few lookups at a time so an import
of thousands of rows does not hit TMDb's rate limit in a burst."""

import asyncio
import logging
import re
import unicodedata
from typing import Any

import orjson

from catalog.freshness import NotInTmdb
from catalog.service import Catalog
from shared.catalog_models import MatchAnswer, Matched, MatchRequest, MatchRow

__all__ = ["MatchAnswer", "MatchRequest", "match"]

logger = logging.getLogger(__name__)
CONCURRENT_LOOKUPS = 8
YEAR_SLACK = 1
UNKNOWN = "unknown"
AMBIGUOUS = "ambiguous"
UNAVAILABLE = "unavailable"


async def match(catalog: Catalog, rows: list[MatchRow]) -> list[Matched]:
    """Each row's TMDb id, or why it has none, in order."""
    gate = asyncio.Semaphore(CONCURRENT_LOOKUPS)

    async def one(row: MatchRow) -> Matched:
        async with gate:
            try:
                return await _match(catalog, row)
            except NotInTmdb:
                return _unmatched(UNKNOWN, "TMDb has no such title")
            except Exception as exc:  # TMDb down or refusing: the caller tries again later
                logger.warning("matching a row: %s; the row waits", type(exc).__name__)
                return _unmatched(UNAVAILABLE, "TMDb could not be asked just now")

    return list(await asyncio.gather(*(one(row) for row in rows)))


async def _match(catalog: Catalog, row: MatchRow) -> Matched:
    if row.tmdb_id is not None:
        found = await catalog.movies([row.tmdb_id])
        if row.tmdb_id in found["unavailable"]:
            return _unmatched(UNAVAILABLE, "TMDb could not be asked just now")
        if found["results"]:
            return Matched(movie_id=row.tmdb_id, problem=None, reason=None)
        if row.imdb_id is None and row.title is None:
            return _unmatched(UNKNOWN, f"TMDb has no title with id {row.tmdb_id}")
    if row.imdb_id is not None:
        movies = _results(await catalog.find_imdb(row.imdb_id))
        if len(movies) == 1:
            return Matched(movie_id=int(movies[0]["id"]), problem=None, reason=None)
        return _unmatched(UNKNOWN, f"TMDb has no film with IMDb id {row.imdb_id}")
    if not row.title or not normalized(row.title):
        return _unmatched(UNKNOWN, "The row names no title")
    movies = _results(await catalog.search(row.title, 1))
    return by_title(movies, row.title, row.year)


def by_title(movies: list[dict[str, Any]], title: str, year: int | None) -> Matched:
    """The one film among TMDb's search results with this title (and year), if there is one."""
    wanted = normalized(title)
    named = [m for m in movies if normalized(str(m.get("title") or "")) == wanted]
    years = [_year(m) for m in named]
    if year is None:
        fits = named
    else:
        fits = [m for m, y in zip(named, years, strict=True) if y == year] or [
            m for m, y in zip(named, years, strict=True) if y and abs(y - year) <= YEAR_SLACK
        ]
    if len(fits) == 1:
        return Matched(movie_id=int(fits[0]["id"]), problem=None, reason=None)
    when = f" from {year}" if year is not None else ""
    if len(fits) > 1:
        ids = ", ".join(str(m["id"]) for m in fits[:5])
        return _unmatched(AMBIGUOUS, f"{len(fits)} films are called that{when} (TMDb ids {ids})")
    if named and year is not None:
        known = ", ".join(sorted({str(y) for y in years if y}))
        return _unmatched(UNKNOWN, f"No film of that name{when} (TMDb has it from {known})")
    return _unmatched(UNKNOWN, "TMDb has no film of that name")


_PUNCTUATION = re.compile(r"[^\w\s]|_")


def normalized(title: str) -> str:
    """A title for comparing: case, accents, punctuation and spacing aside, '&' as 'and'."""
    decomposed = unicodedata.normalize("NFKD", title.casefold().replace("&", " and "))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_PUNCTUATION.sub(" ", plain).split())


def _year(movie: dict[str, Any]) -> int | None:
    date = movie.get("release_date") or ""
    return int(date[:4]) if len(date) >= 4 and date[:4].isdigit() else None


def _results(served: Any) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = orjson.loads(served.entry.body).get("results", [])
    return results


def _unmatched(problem: str, reason: str) -> Matched:
    return Matched(movie_id=None, problem=problem, reason=reason)
