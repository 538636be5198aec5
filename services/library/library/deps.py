"""Dependencies of the library's routes."""

from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request

from library.catalog_client import LibraryCatalogClient
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
