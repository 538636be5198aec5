"""How a page of a user's list is built, for every list the library shows (favorites, the
watchlist, watch history): the page of rows comes from the list's own service, newest first;
each row is shown with its movie as the catalog describes it to this user (their language and
region, one call for the page); a row whose title is hidden from the user (an adult title they
have not allowed) is left out, as the catalog leaves out an unknown id."""

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from shared.catalog_models import MovieSummary, PageT, paginate


class Row(Protocol):
    @property
    def movie_id(self) -> int: ...


R = TypeVar("R", bound=Row)
T = TypeVar("T")


def page_of(
    page_type: type[PageT],
    rows: Sequence[R],
    movies: Mapping[int, MovieSummary],
    item: Callable[[MovieSummary, R], T],
    *,
    total: int,
    page: int,
    limit: int,
) -> PageT:
    """The page: each row that has a movie to show, as `item(movie, row)`."""
    return paginate(
        page_type,
        total=total,
        page=page,
        limit=limit,
        results=[item(movies[row.movie_id], row) for row in rows if row.movie_id in movies],
    )
