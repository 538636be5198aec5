"""Webhook routes: register a URL for your notifications, list and delete them, send a test,
read each one's delivery log."""

import uuid
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Query, Request, Response, status

from notifications import webhooks
from notifications.addresses import RefusedAddress, check_host, check_url
from notifications.models import (
    DeliveriesPage,
    DeliveryPublic,
    Webhook,
    WebhookCreated,
    WebhookIn,
    WebhookPublic,
    WebhooksPage,
)
from shared.app import API_PREFIX, service_router
from shared.catalog_models import paginate
from shared.db import in_session
from shared.deps import CurrentPrincipal, EngineDep, SessionDep, path_id
from shared.errors import ProblemError, problem_responses
from shared.threads import run_sync

router = service_router(prefix=API_PREFIX, tags=["webhooks"])
WebhookId = Annotated[uuid.UUID, path_id("webhook")]


def _public(webhook: Webhook) -> WebhookPublic:
    return WebhookPublic.model_validate(webhook, from_attributes=True)


@router.post(
    "/me/webhooks",
    operation_id="webhooks_create",
    response_model=WebhookCreated,
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {"description": "Created", "headers": {"Location": {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 413, 422),
    },
    summary="Have your notifications delivered to a URL of yours, signed (Standard Webhooks)",
)
async def create_webhook(
    body: WebhookIn,
    principal: CurrentPrincipal,
    engine: EngineDep,
    request: Request,
    response: Response,
) -> WebhookCreated:
    allow_private: bool = request.app.state.webhook_allow_private
    try:
        url = check_url(body.url, allow_private=allow_private)
        await check_host(urlsplit(url).hostname or "", allow_private=allow_private)
    except RefusedAddress as refused:
        raise ProblemError(
            422, str(refused), errors=[{"loc": ["body", "url"], "msg": str(refused)}]
        ) from refused
    made = await run_sync(
        in_session,
        engine,
        webhooks.register,
        user_id=principal.user_id,
        url=url,
        events=list(body.events),
        description=body.description,
    )
    if made is None:
        raise ProblemError(403, f"You have {webhooks.MAX_WEBHOOKS_PER_USER} webhooks already")
    response.headers["Location"] = f"{API_PREFIX}/me/webhooks/{made.id}"
    return WebhookCreated(**_public(made).model_dump(), secret=made.secret)


@router.get(
    "/me/webhooks",
    operation_id="webhooks_list",
    response_model=WebhooksPage,
    responses=problem_responses(401),
    summary="Your webhooks (their secrets are not shown again)",
)
async def list_webhooks(principal: CurrentPrincipal, session: SessionDep) -> WebhooksPage:
    found = await run_sync(webhooks.mine, session, user_id=principal.user_id)
    return paginate(
        WebhooksPage, total=len(found), page=1, limit=100, results=[_public(w) for w in found]
    )


@router.delete(
    "/me/webhooks/{webhook_id}",
    operation_id="webhooks_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 422),
    summary="Stop delivering to a webhook (its pending deliveries are dropped)",
)
async def delete_webhook(
    webhook_id: WebhookId, principal: CurrentPrincipal, engine: EngineDep
) -> Response:
    if not await run_sync(
        in_session, engine, webhooks.remove, user_id=principal.user_id, webhook_id=webhook_id
    ):
        raise ProblemError(404, "No such webhook of yours")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/me/webhooks/{webhook_id}/test",
    operation_id="webhooks_test",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    responses={
        202: {"description": "Accepted: the ping is on its way"},
        **problem_responses(401, 404, 422),
    },
    summary="Send a ping delivery now (see it in the delivery log)",
)
async def test_webhook(
    webhook_id: WebhookId, principal: CurrentPrincipal, engine: EngineDep
) -> Response:
    if not await run_sync(
        in_session, engine, webhooks.ping, user_id=principal.user_id, webhook_id=webhook_id
    ):
        raise ProblemError(404, "No such webhook of yours")
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.get(
    "/me/webhooks/{webhook_id}/deliveries",
    operation_id="webhooks_deliveries",
    response_model=DeliveriesPage,
    responses=problem_responses(401, 404, 422),
    summary="A webhook's deliveries, newest first: each attempt's outcome and the next one",
)
async def list_deliveries(
    webhook_id: WebhookId,
    principal: CurrentPrincipal,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=500)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DeliveriesPage:
    def read() -> tuple[list[DeliveryPublic], int]:
        try:
            if webhooks.owned(session, user_id=principal.user_id, webhook_id=webhook_id) is None:
                raise ProblemError(404, "No such webhook of yours")
        finally:
            session.rollback()
        rows, total = webhooks.deliveries(session, webhook_id=webhook_id, page=page, limit=limit)
        return [
            DeliveryPublic(
                id=d.id,
                event=d.event,
                status=d.status,
                attempts=d.attempts,
                last_status=d.last_status,
                last_error=d.last_error,
                next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
                created_at=d.created_at,
            )
            for d in rows
        ], total

    found, total = await run_sync(read)
    return paginate(DeliveriesPage, total=total, page=page, limit=limit, results=found)
