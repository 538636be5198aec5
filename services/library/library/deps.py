"""Dependencies of the library's routes."""

import uuid
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Query, Request

from library.catalog_client import LibraryCatalogClient
from shared.errors import ProblemError
from shared.pagecache import PAGE_STAMP_HEADER, UserPageCache


async def get_catalog(request: Request) -> LibraryCatalogClient:
    client: LibraryCatalogClient = request.app.state.catalog
    return client


async def get_pages(request: Request) -> UserPageCache:
    pages: UserPageCache = request.app.state.pages
    return pages


CatalogDep = Annotated[LibraryCatalogClient, Depends(get_catalog)]
PagesDep = Annotated[UserPageCache, Depends(get_pages)]
# The generations the gateway saw when it found no cached page (shared.pagecache).
PageStamp = Annotated[str | None, Header(alias=PAGE_STAMP_HEADER, include_in_schema=False)]
PageQuery = Annotated[int, Query(ge=1, le=500, description="Page number, 1 to 500")]
LimitQuery = Annotated[int, Query(ge=1, le=100, description="Page size, 1 to 100")]
MovieId = Annotated[int, Path(ge=1, le=2**31 - 1, description="TMDb movie id")]


def path_id(what: str) -> Any:
    """A `{what}_id` in the path, a UUID: one that is not names nothing here, so it is a 404
    as an unknown one is (not a 422: clients following links get the same answer)."""

    async def parse(
        raw: Annotated[
            str, Path(alias=f"{what}_id", max_length=100, description=f"The {what}'s id")
        ],
    ) -> uuid.UUID:
        try:
            return uuid.UUID(raw)
        except ValueError as exc:
            raise ProblemError(404, f"No such {what}") from exc

    return Depends(parse)
