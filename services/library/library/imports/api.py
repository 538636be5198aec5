"""Import routes: upload another site's export (accepted at once, worked on in the
background), read an import's progress and report."""

import uuid
from typing import Annotated, Literal

from fastapi import File, Form, Response, UploadFile, status

from library.deps import LimitQuery, PageQuery
from library.imports import formats
from library.imports import service as imports
from library.imports.models import ImportPublic, ImportsPage
from shared.app import API_PREFIX, service_router
from shared.catalog_models import paginate
from shared.db import in_session
from shared.deps import CurrentPrincipal, EngineDep, SessionDep, path_id
from shared.errors import ProblemError, problem_responses
from shared.middleware import MAX_UPLOAD_FILE_BYTES
from shared.threads import run_sync

router = service_router(prefix=API_PREFIX, tags=["imports"])
ImportId = Annotated[uuid.UUID, path_id("import")]


@router.post(
    "/me/imports",
    operation_id="imports_start",
    response_model=ImportPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        202: {
            "description": "Accepted: it runs in the background; follow it at Location",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 413, 415, 422, 429),
    },
    summary="Bring your ratings, diary, watchlist and lists from Letterboxd, IMDb or Trakt",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "example": {
                        "source": "letterboxd",
                        "file": "Date,Name,Year,Letterboxd URI,Rating\n"
                        "2021-01-05,Star Wars,1977,https://boxd.it/2a1i,5\n",
                    }
                }
            }
        }
    },
)
async def start_import(
    principal: CurrentPrincipal,
    engine: EngineDep,
    response: Response,
    source: Annotated[Literal["letterboxd", "imdb", "trakt"], Form()],
    file: Annotated[
        UploadFile,
        File(
            description="Letterboxd's export .zip or one of its CSVs; IMDb's ratings, "
            "watchlist or list CSV; Trakt's export .zip or one of its JSON files"
        ),
    ],
) -> ImportPublic:
    data = await file.read(MAX_UPLOAD_FILE_BYTES + 1)
    file_name = file.filename or "upload"
    try:
        rows = await run_sync(formats.read, source, file_name, data)
    except formats.FileRefused as refused:
        raise ProblemError(refused.status, refused.reason) from refused
    started = await run_sync(
        in_session,
        engine,
        imports.start,
        user_id=principal.user_id,
        source=source,
        file_name=file_name,
        rows=rows,
    )
    response.headers["Location"] = f"{API_PREFIX}/me/imports/{started.id}"
    return started


@router.get(
    "/me/imports",
    operation_id="imports_list",
    response_model=ImportsPage,
    responses=problem_responses(401, 422),
    summary="Your imports, newest first",
)
async def list_imports(
    principal: CurrentPrincipal, session: SessionDep, page: PageQuery = 1, limit: LimitQuery = 20
) -> ImportsPage:
    found, total = await run_sync(
        imports.page, session, user_id=principal.user_id, page=page, limit=limit
    )
    return paginate(ImportsPage, total=total, page=page, limit=limit, results=found)


@router.get(
    "/me/imports/{import_id}",
    operation_id="imports_get",
    response_model=ImportPublic,
    responses=problem_responses(401, 404, 422),
    summary="An import's progress and its report: what was brought over, what was not and why",
)
async def get_import(
    import_id: ImportId, principal: CurrentPrincipal, session: SessionDep
) -> ImportPublic:
    return await run_sync(imports.get, session, user_id=principal.user_id, import_id=import_id)
