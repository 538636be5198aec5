"""The library's catalog client: callers asking about one title at once share one call when
its answer holds for anyone, and ask for themselves when it does not."""

import asyncio
import uuid
from typing import Any

import pytest

from library.catalog_client import LibraryCatalogClient
from shared.catalog_models import MovieBatch, MovieSummary
from shared.errors import DependencyUnavailable, ProblemError


class _Catalog(LibraryCatalogClient):
    """The client with the catalog's answers made here: each call waits for `go`, then
    answers (`adult` titles are hidden from every viewer but `allowed`) or fails."""

    def __init__(self, *, adult: bool = False, allowed: str | None = None) -> None:
        super().__init__(base_url="http://catalog.invalid", internal_secret="s", timeout_s=1)
        self.adult, self.allowed = adult, allowed
        self.calls: list[str | None] = []
        self.go = asyncio.Event()
        self.failing = False

    async def movies(self, movie_ids: list[int], **options: Any) -> MovieBatch:
        viewer = options.get("viewer")
        self.calls.append(viewer)
        await self.go.wait()
        if self.failing:
            raise DependencyUnavailable("The movie catalog")
        shown = not self.adult or viewer == self.allowed
        return MovieBatch(
            results=[MovieSummary.placeholder(i) for i in movie_ids] if shown else [],
            missing=[],
            unavailable=[],
            adult_ids=list(movie_ids) if self.adult and shown else [],
            hidden=[] if shown else list(movie_ids),
        )


async def _all_asking(catalog: _Catalog, viewers: list[uuid.UUID]) -> list[Any]:
    asking = [asyncio.create_task(catalog.require(550, viewer=viewer)) for viewer in viewers]
    await asyncio.sleep(0.01)
    catalog.go.set()
    async with asyncio.timeout(5):
        return await asyncio.gather(*asking, return_exceptions=True)


async def test_callers_share_one_call_for_a_title_anyone_may_see() -> None:
    catalog = _Catalog()
    answers = await _all_asking(catalog, [uuid.uuid4() for _ in range(20)])
    assert len(catalog.calls) == 1
    assert [answer.id for answer in answers] == [550] * 20
    await catalog.require(550, viewer=uuid.uuid4())  # remembered now
    assert len(catalog.calls) == 1


async def test_an_adult_title_is_asked_about_for_each_viewer() -> None:
    allowed = uuid.uuid4()
    catalog = _Catalog(adult=True, allowed=str(allowed))
    answers = await _all_asking(catalog, [allowed, uuid.uuid4(), uuid.uuid4()])
    assert answers[0].id == 550
    assert [type(answer) for answer in answers[1:]] == [ProblemError, ProblemError]
    assert [answer.status for answer in answers[1:]] == [404, 404]
    assert len(catalog.calls) == 3  # the first caller's answer held for that caller only
    assert catalog.calls[1:] != [str(allowed)] * 2


async def test_a_failed_call_is_the_first_callers_and_the_others_ask_again() -> None:
    catalog = _Catalog()
    catalog.failing = True
    answers = await _all_asking(catalog, [uuid.uuid4() for _ in range(3)])
    assert all(isinstance(answer, DependencyUnavailable) for answer in answers)
    assert len(catalog.calls) == 3
    catalog.failing = False
    assert (await catalog.require(550, viewer=None)).id == 550


async def test_a_first_caller_gone_does_not_take_the_answer_from_the_others() -> None:
    catalog = _Catalog()
    first = asyncio.create_task(catalog.require(550, viewer=uuid.uuid4()))
    await asyncio.sleep(0.01)
    other = asyncio.create_task(catalog.require(550, viewer=uuid.uuid4()))
    await asyncio.sleep(0.01)
    first.cancel()
    catalog.go.set()
    async with asyncio.timeout(5):
        assert (await other).id == 550
    with pytest.raises(asyncio.CancelledError):
        await first
    assert len(catalog.calls) == 1
