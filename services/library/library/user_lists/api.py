"""Routes of a user's own lists: the lists, their items in order, the public reads and the
CSV export in Letterboxd's list format."""

import re
import uuid
from typing import Annotated

from fastapi import Response, status

from library.deps import CatalogDep, LimitQuery, MovieId, PageQuery
from library.lists import page_of
from library.user_lists import service as lists
from library.user_lists.export import letterboxd_csv
from library.user_lists.models import (
    ListIn,
    ListItemIn,
    ListItemPublic,
    ListItemsPage,
    ListOrder,
    ListPublic,
    ListsPage,
    ListUpdate,
)
from shared.app import API_PREFIX, service_router
from shared.catalog_models import MovieSummary, paginate
from shared.db import in_session
from shared.deps import CurrentPrincipal, EngineDep, OptionalPrincipal, SessionDep, path_id
from shared.errors import ProblemError, problem_responses
from shared.security import Principal
from shared.threads import run_sync

router = service_router(prefix=API_PREFIX, tags=["lists"])


ListId = Annotated[uuid.UUID, path_id("list")]
UserId = Annotated[uuid.UUID, path_id("user")]
CATALOG_BATCH = 100  # ids per call to the catalog


@router.post(
    "/lists",
    operation_id="lists_create",
    response_model=ListPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {"description": "Created", "headers": {"Location": {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 409, 413, 422),
    },
    summary="Make a list of your own (private unless you say public)",
)
async def create_list(
    body: ListIn, principal: CurrentPrincipal, engine: EngineDep, response: Response
) -> ListPublic:
    made = await run_sync(
        in_session,
        engine,
        lists.create,
        user_id=principal.user_id,
        name=body.name,
        description=body.description,
        public=body.public,
    )
    response.headers["Location"] = f"{API_PREFIX}/lists/{made.id}"
    return made


@router.get(
    "/lists",
    operation_id="lists_mine",
    response_model=ListsPage,
    responses=problem_responses(401, 422),
    summary="Your lists, newest first",
)
async def my_lists(
    principal: CurrentPrincipal, session: SessionDep, page: PageQuery = 1, limit: LimitQuery = 20
) -> ListsPage:
    rows, total = await run_sync(
        lists.mine, session, user_id=principal.user_id, public_only=False, page=page, limit=limit
    )
    return paginate(ListsPage, total=total, page=page, limit=limit, results=rows)


@router.get(
    "/users/{user_id}/lists",
    operation_id="lists_of_user",
    response_model=ListsPage,
    responses=problem_responses(404, 422),
    summary="A user's public lists, newest first (no token needed)",
)
async def public_lists(
    user_id: UserId, session: SessionDep, page: PageQuery = 1, limit: LimitQuery = 20
) -> ListsPage:
    if not await run_sync(lists.known_user, session, user_id=user_id):
        raise ProblemError(404, "No such user")
    rows, total = await run_sync(
        lists.mine, session, user_id=user_id, public_only=True, page=page, limit=limit
    )
    return paginate(ListsPage, total=total, page=page, limit=limit, results=rows)


@router.get(
    "/lists/{list_id}",
    operation_id="lists_get",
    response_model=ListPublic,
    responses=problem_responses(404, 422),
    summary="A list (no token needed for a public one)",
)
async def get_list(
    list_id: ListId, principal: OptionalPrincipal, session: SessionDep
) -> ListPublic:
    return await run_sync(lists.visible, session, list_id=list_id, viewer=_who(principal))


@router.patch(
    "/lists/{list_id}",
    operation_id="lists_update",
    response_model=ListPublic,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    summary="Rename, describe, or make public or private",
)
async def update_list(
    list_id: ListId, body: ListUpdate, principal: CurrentPrincipal, engine: EngineDep
) -> ListPublic:
    changes = body.model_dump(exclude_unset=True)
    return await run_sync(
        in_session,
        engine,
        lists.change,
        list_id=list_id,
        user_id=principal.user_id,
        changes=changes,
    )


@router.delete(
    "/lists/{list_id}",
    operation_id="lists_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422),
    summary="Delete a list and its items",
)
async def delete_list(list_id: ListId, principal: CurrentPrincipal, engine: EngineDep) -> Response:
    await run_sync(in_session, engine, lists.remove, list_id=list_id, user_id=principal.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/lists/{list_id}/items",
    operation_id="lists_items",
    response_model=ListItemsPage,
    responses=problem_responses(404, 422, 503),
    summary="A list's titles in its order (no token needed for a public list)",
)
async def list_items(
    list_id: ListId,
    principal: OptionalPrincipal,
    session: SessionDep,
    catalog: CatalogDep,
    page: PageQuery = 1,
    limit: LimitQuery = 20,
) -> ListItemsPage:
    await run_sync(lists.visible, session, list_id=list_id, viewer=_who(principal))
    rows, total = await run_sync(lists.items, session, list_id=list_id, page=page, limit=limit)
    movies = await catalog.summaries([row.movie_id for row in rows], viewer=_who(principal))
    return page_of(
        ListItemsPage,
        rows,
        movies,
        lambda movie, row: ListItemPublic(
            movie=movie, position=row.position, note=row.note, added_at=row.added_at
        ),
        total=total,
        page=page,
        limit=limit,
    )


@router.post(
    "/lists/{list_id}/items",
    operation_id="lists_add_item",
    response_model=ListItemPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ListItemPublic, "description": "Already on the list"},
        201: {"description": "Added", "headers": {"Location": {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 404, 413, 422, 503),
    },
    summary="Put a title on your list (at a position, or at the end)",
)
async def add_item(
    list_id: ListId,
    body: ListItemIn,
    principal: CurrentPrincipal,
    engine: EngineDep,
    catalog: CatalogDep,
    response: Response,
) -> ListItemPublic:
    movie = await catalog.require(body.movie_id, viewer=principal.user_id)
    item, created = await run_sync(
        in_session,
        engine,
        lists.add_item,
        list_id=list_id,
        user_id=principal.user_id,
        movie_id=body.movie_id,
        note=body.note,
        position=body.position,
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    response.headers["Location"] = f"{API_PREFIX}/lists/{list_id}/items"
    return ListItemPublic(
        movie=movie, position=item.position, note=item.note, added_at=item.added_at
    )


@router.delete(
    "/lists/{list_id}/items/{movie_id}",
    operation_id="lists_remove_item",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422),
    summary="Take a title off your list",
)
async def remove_item(
    list_id: ListId, movie_id: MovieId, principal: CurrentPrincipal, engine: EngineDep
) -> Response:
    if not await run_sync(
        in_session,
        engine,
        lists.remove_item,
        list_id=list_id,
        user_id=principal.user_id,
        movie_id=movie_id,
    ):
        raise ProblemError(404, "This title is not on the list")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/lists/{list_id}/order",
    operation_id="lists_reorder",
    response_model=ListPublic,
    responses=problem_responses(401, 403, 404, 413, 422),
    summary="Put your list in a new order, every title named once",
)
async def reorder(
    list_id: ListId, body: ListOrder, principal: CurrentPrincipal, engine: EngineDep
) -> ListPublic:
    return await run_sync(
        in_session,
        engine,
        lists.reorder,
        list_id=list_id,
        user_id=principal.user_id,
        movie_ids=list(body.movie_ids),
    )


@router.get(
    "/lists/{list_id}/export.csv",
    operation_id="lists_export_csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "Letterboxd's list import format"},
        **problem_responses(404, 422, 503),
    },
    summary="The list as a CSV that Letterboxd's list importer takes",
)
async def export_csv(
    list_id: ListId, principal: OptionalPrincipal, session: SessionDep, catalog: CatalogDep
) -> Response:
    shown = await run_sync(lists.visible, session, list_id=list_id, viewer=_who(principal))
    rows = await run_sync(lists.all_items, session, list_id=list_id)
    movies: dict[int, MovieSummary] = {}
    for start in range(0, len(rows), CATALOG_BATCH):
        batch = [row.movie_id for row in rows[start : start + CATALOG_BATCH]]
        movies |= await catalog.summaries(batch, viewer=_who(principal))
    body = letterboxd_csv(rows, movies)
    filename = re.sub(r"[^A-Za-z0-9._-]+", "-", shown.name).strip("-") or "list"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def _who(principal: Principal | None) -> uuid.UUID | None:
    return principal.user_id if principal is not None else None
