"""Dependencies of the catalog routes."""

from typing import Annotated

from fastapi import Depends, Query, Request

from catalog.keys import MAX_PAGE
from catalog.service import Catalog


async def get_catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


CatalogDep = Annotated[Catalog, Depends(get_catalog)]
PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, 1 to 500")]
