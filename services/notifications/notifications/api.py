"""Notification routes, the live stream included."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Header, Path, Query, Request, Response, status
from prometheus_client import Gauge
from sqlmodel import Session
from starlette.responses import StreamingResponse

from notifications import live, service
from notifications.models import NotificationPublic, NotificationsPage
from shared.account_export import NotificationExport
from shared.app import API_PREFIX, service_router
from shared.catalog_models import paginate
from shared.deps import CurrentPrincipal, InternalOnly, RuntimeDep, SessionDep
from shared.errors import ProblemError, problem_responses
from shared.parsing import ascii_int
from shared.threads import run_sync

OPEN_STREAMS = Gauge("notifications_open_streams", "Event streams open in this process")

router = service_router(prefix=API_PREFIX, tags=["notifications"])


def _public(notification: service.Notification) -> NotificationPublic:
    return NotificationPublic.model_validate(notification, from_attributes=True)


@router.get(
    "/notifications",
    operation_id="notifications_list",
    response_model=NotificationsPage,
    responses=problem_responses(401, 422),
    summary="Your notifications, newest first",
)
async def list_notifications(
    principal: CurrentPrincipal,
    session: SessionDep,
    unread: Annotated[bool, Query(description="Only unread ones")] = False,
    page: Annotated[int, Query(ge=1, le=500)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> NotificationsPage:
    rows, total = await run_sync(
        service.page, session, user_id=principal.user_id, unread_only=unread, page=page, limit=limit
    )
    return paginate(
        NotificationsPage,
        total=total,
        page=page,
        limit=limit,
        results=[_public(r) for r in rows],
    )


@router.post(
    "/notifications/read-all",
    operation_id="notifications_read_all",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401),
    summary="Mark all your notifications read",
)
async def read_all(principal: CurrentPrincipal, session: SessionDep) -> Response:
    await run_sync(service.mark_all_read, session, user_id=principal.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/notifications/{notification_id}/read",
    operation_id="notifications_read",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 422),
    summary="Mark one of your notifications read",
)
async def read_one(
    notification_id: Annotated[uuid.UUID, Path()], principal: CurrentPrincipal, session: SessionDep
) -> Response:
    if not await run_sync(
        service.mark_read, session, user_id=principal.user_id, notification_id=notification_id
    ):
        raise ProblemError(404, "No such notification")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# One event of the stream, as OpenAPI 3.0/3.1 describe an event-stream item.
SSE_EVENT_SCHEMA = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "event": {"type": "string", "enum": ["notification"]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "A notification, as GET /notifications lists them",
        },
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "retry": {"type": "integer", "minimum": 0},
    },
}


@router.get(
    "/notifications/stream",
    operation_id="notifications_stream",
    responses={
        200: {
            "description": (
                "Server-sent events: one `notification` event per new notification, its `data`"
                " the notification as JSON and its `id` the notification's sequence number"
                " (send it back as Last-Event-ID to resume); comment lines keep the stream open"
            ),
            "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
        },
        **problem_responses(401),
    },
    summary="New notifications as they arrive (text/event-stream); resume with Last-Event-ID",
)
async def stream(
    request: Request,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    assert runtime.engine is not None
    engine = runtime.engine
    user_id = principal.user_id
    keepalive_s: float = request.app.state.stream_keepalive_s
    resume_after = ascii_int(last_event_id)  # anything else starts afresh

    def missed(after_seq: int) -> list[tuple[int, bytes]]:
        with Session(engine) as session:
            found = service.since(session, user_id=user_id, after_seq=after_seq)
        return [(n.seq or 0, _public(n).model_dump_json().encode()) for n in found]

    def newest() -> int:
        with Session(engine) as session:
            return service.newest_seq(session, user_id=user_id)

    async def events() -> AsyncIterator[bytes]:
        OPEN_STREAMS.inc()
        pubsub = runtime.redis.pubsub()
        try:
            # Subscribed before the database is read: nothing falls between.
            await pubsub.subscribe(live.channel(user_id))
            async for chunk in live.stream(
                pubsub,
                missed=lambda after_seq: run_sync(missed, after_seq),
                newest=lambda: run_sync(newest),
                resume_after=resume_after,
                look_every_s=keepalive_s,
            ):
                yield chunk
        finally:
            OPEN_STREAMS.dec()
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe()
                await pubsub.aclose()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


internal_router = service_router(
    prefix="/internal", include_in_schema=False, dependencies=[InternalOnly]
)


@internal_router.get("/users/{user_id}/export", response_model=list[NotificationExport])
async def export(user_id: uuid.UUID, session: SessionDep) -> list[NotificationExport]:
    """The notifications' part of an account export (auth assembles the whole)."""
    rows = await run_sync(service.everything, session, user_id=user_id)
    return [NotificationExport.model_validate(row, from_attributes=True) for row in rows]
