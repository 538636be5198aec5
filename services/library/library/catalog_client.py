"""The catalog as the library sees it: does a movie exist, summaries for a page.

Every call is made for a viewer (a user id, or anonymous for public pages): an adult title
the viewer has not allowed is, for them, a movie that does not exist."""

import asyncio
import contextlib
import time
import uuid
from collections import OrderedDict
from typing import Any

from shared.catalog_client import CatalogClient
from shared.catalog_models import MatchAnswer, Matched, MatchRow, MovieBatch, MovieSummary
from shared.errors import DependencyUnavailable, ProblemError

# A title the catalog described as existing and not adult is known to exist, for anyone, for
# this long: a write need not ask again (a call to the catalog cost each write about a fifth
# of its CPU). Adult titles are asked about every time: whether they exist depends on the
# viewer's preferences.
KNOWN_TTL_S = 600.0
KNOWN_MAX_ENTRIES = 20_000


class LibraryCatalogClient(CatalogClient):
    """The shared client, with the lookups the library's routes make for a viewer."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._known: OrderedDict[int, tuple[float, MovieSummary]] = OrderedDict()
        self._asking: dict[int, asyncio.Task[MovieBatch]] = {}

    async def require(self, movie_id: int, *, viewer: uuid.UUID | None) -> MovieSummary:
        """The movie's summary; 404 when the catalog does not know it (or hides it from the
        viewer), 503 when it is down. A title known to exist for anyone is not asked again
        for `KNOWN_TTL_S`, and while it is being asked about, other callers wait for that
        answer (many users adding a title at once make one call): if it shows the title
        exists for anyone they have it, else each asks for its own viewer."""
        if (remembered := self._remembered(movie_id)) is not None:
            return remembered
        if (asking := self._asking.get(movie_id)) is not None:
            with contextlib.suppress(Exception):  # its failure is the first caller's to report
                await asyncio.shield(asking)
            if (remembered := self._remembered(movie_id)) is not None:
                return remembered
            known = await self._ask(movie_id, viewer)
        else:
            known = await self._ask_first(movie_id, viewer)
        if movie_id in known.unavailable:
            raise DependencyUnavailable("The movie catalog")
        if not known.results:
            raise ProblemError(404, "No movie with this id")
        return known.results[0]

    def _remembered(self, movie_id: int) -> MovieSummary | None:
        remembered = self._known.get(movie_id)
        if remembered is not None and remembered[0] > time.monotonic():
            return remembered[1]
        return None

    async def _ask_first(self, movie_id: int, viewer: uuid.UUID | None) -> MovieBatch:
        """Ask about a title as the first caller, in a task others can wait for; it ends
        with the client's timeout even if every caller has gone."""
        asking = asyncio.create_task(self._ask(movie_id, viewer))
        self._asking[movie_id] = asking

        def done(task: asyncio.Task[MovieBatch]) -> None:
            if self._asking.get(movie_id) is task:
                del self._asking[movie_id]
            if not task.cancelled():
                task.exception()  # retrieved: a failure nobody waited for is not logged as lost

        asking.add_done_callback(done)
        return await asyncio.shield(asking)

    async def _ask(self, movie_id: int, viewer: uuid.UUID | None) -> MovieBatch:
        """The catalog's answer for this viewer; a title it shows exists and is not adult is
        remembered (before anyone waiting for this answer wakes)."""
        known = await self.movies([movie_id], viewer=_viewer(viewer))
        if known.results and movie_id not in known.adult_ids:
            self._remember(known.results[0])
        return known

    def _remember(self, movie: MovieSummary) -> None:
        self._known[movie.id] = (time.monotonic() + KNOWN_TTL_S, movie)
        self._known.move_to_end(movie.id)
        while len(self._known) > KNOWN_MAX_ENTRIES:
            self._known.popitem(last=False)

    async def match(self, rows: list[MatchRow]) -> list[Matched]:
        """TMDb ids for up to 100 rows of another site's export, in order (the catalog's
        matching.py says how); 503 when the catalog is down."""
        body = {"rows": [row.model_dump(exclude_none=True) for row in rows]}
        return (await self._post("/internal/match", body, MatchAnswer)).results

    async def summaries(
        self, movie_ids: list[int], *, viewer: uuid.UUID | None
    ) -> dict[int, MovieSummary]:
        """Summaries for a page of movies in one call; a movie the catalog cannot describe
        right now gets a placeholder with its id; one hidden from the viewer (None: an
        anonymous reader) is left out."""
        return (await self.described(movie_ids, viewer=viewer))[0]

    async def described(
        self, movie_ids: list[int], *, viewer: uuid.UUID | None
    ) -> tuple[dict[int, MovieSummary], bool]:
        """As `summaries`, and whether every movie was described (no placeholder)."""
        found = await self.movies(movie_ids, viewer=_viewer(viewer))
        by_id = {movie.id: movie for movie in found.results}
        hidden = set(found.hidden)
        summaries = {
            movie_id: by_id.get(movie_id) or MovieSummary.placeholder(movie_id)
            for movie_id in movie_ids
            if movie_id not in hidden
        }
        return summaries, len(by_id) + len(hidden) == len(set(movie_ids))


def _viewer(user_id: uuid.UUID | None) -> str:
    return str(user_id) if user_id is not None else "anonymous"
