"""Dependencies of the favorites routes."""

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from library.cache import FavoritePages
from library.catalog_client import LibraryCatalogClient


async def get_catalog(request: Request) -> LibraryCatalogClient:
    client: LibraryCatalogClient = request.app.state.catalog
    return client


async def get_pages(request: Request) -> FavoritePages:
    pages: FavoritePages = request.app.state.pages
    return pages


CatalogDep = Annotated[LibraryCatalogClient, Depends(get_catalog)]
PagesDep = Annotated[FavoritePages, Depends(get_pages)]
PageQuery = Annotated[int, Query(ge=1, le=500, description="Page number, 1 to 500")]
LimitQuery = Annotated[int, Query(ge=1, le=100, description="Page size, 1 to 100")]
MovieId = Annotated[int, Path(ge=1, le=2**31 - 1, description="TMDb movie id")]
