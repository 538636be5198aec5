"""Webhooks: the URLs users register, and each delivery to them, kept in the database from
the moment its notification is written (in the same transaction) until the receiver took it
or it was given up. No HTTP here (delivery.py sends them).

Retries follow RETRY_DELAYS_S, then every RETRY_DELAYS_S[-1], until GIVE_UP_AFTER (more than
a day) after the delivery was made; a 4xx answer other than 429 fails it at once. A
webhook none of whose deliveries has arrived for DISABLE_AFTER is disabled, and its owner is
told with a notification."""

import base64
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, func, select, text, update
from sqlmodel import Session, col

from notifications.models import Webhook, WebhookDelivery
from shared.db import user_lock, utcnow

RETRY_DELAYS_S = (10, 30, 120, 600, 1800, 3600, 7200, 14400)
GIVE_UP_AFTER = timedelta(hours=26)
DISABLE_AFTER = timedelta(days=3)
MAX_WEBHOOKS_PER_USER = 10
# Registrations are serialised per user so the limit holds when two arrive at once
_HOLD_USERS_WEBHOOKS = user_lock(7404)


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def register(
    session: Session,
    *,
    user_id: uuid.UUID,
    url: str,
    events: list[str],
    description: str | None,
) -> Webhook | None:
    """A new webhook (None when the user has as many as allowed)."""
    session.execute(_HOLD_USERS_WEBHOOKS, {"user_id": str(user_id)})
    count = session.scalar(
        select(func.count()).select_from(Webhook).where(col(Webhook.user_id) == user_id)
    )
    if (count or 0) >= MAX_WEBHOOKS_PER_USER:
        session.rollback()
        return None
    webhook = Webhook(
        user_id=user_id,
        url=url,
        events=sorted(set(events)),
        description=description,
        secret=new_secret(),
        created_at=utcnow(),
    )
    session.add(webhook)
    session.commit()
    return webhook


def mine(session: Session, *, user_id: uuid.UUID) -> list[Webhook]:
    try:
        return list(
            session.scalars(
                select(Webhook)
                .where(col(Webhook.user_id) == user_id)
                .order_by(col(Webhook.created_at))
            )
        )
    finally:
        session.rollback()


def owned(session: Session, *, user_id: uuid.UUID, webhook_id: uuid.UUID) -> Webhook | None:
    found = session.get(Webhook, webhook_id)
    return found if found is not None and found.user_id == user_id else None


def remove(session: Session, *, user_id: uuid.UUID, webhook_id: uuid.UUID) -> bool:
    """Delete the webhook and its deliveries; False if it is not the user's."""
    gone = session.execute(
        delete(Webhook)
        .where(col(Webhook.id) == webhook_id, col(Webhook.user_id) == user_id)
        .returning(col(Webhook.id))
    ).first()
    session.commit()
    return gone is not None


def ping(session: Session, *, user_id: uuid.UUID, webhook_id: uuid.UUID) -> bool:
    """A `ping` delivery to the webhook (a test); False if it is not the user's."""
    webhook = owned(session, user_id=user_id, webhook_id=webhook_id)
    if webhook is None:
        session.rollback()
        return False
    now = utcnow()
    source = uuid.uuid4()
    session.add(
        WebhookDelivery(
            webhook_id=webhook.id,
            user_id=user_id,
            event="ping",
            source_id=source,
            payload={"webhook_id": str(webhook.id)},
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    session.commit()
    return True


def deliveries(
    session: Session, *, webhook_id: uuid.UUID, page: int, limit: int
) -> tuple[list[WebhookDelivery], int]:
    """One page of the webhook's deliveries, newest first."""
    try:
        mine_ = col(WebhookDelivery.webhook_id) == webhook_id
        total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(mine_))
        rows = session.scalars(
            select(WebhookDelivery)
            .where(mine_)
            .order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id))
            .offset((page - 1) * limit)
            .limit(limit)
        ).all()
        session.expunge_all()
        return list(rows), int(total or 0)
    finally:
        session.rollback()


_ENQUEUE = text(
    "INSERT INTO webhook_delivery (id, webhook_id, user_id, event, source_id, payload, status,"
    " attempts, next_attempt_at, created_at)"
    " SELECT gen_random_uuid(), w.id, w.user_id, :event, n.id, CAST(n.payload AS jsonb),"
    " 'pending', 0, now(), now()"
    " FROM webhook w JOIN jsonb_to_recordset(CAST(:items AS jsonb))"
    "   AS n(user_id uuid, id uuid, payload text) ON n.user_id = w.user_id"
    " WHERE w.disabled_at IS NULL AND :event = ANY(w.events)"
    " ON CONFLICT (webhook_id, source_id, event) DO NOTHING"
)


def enqueue(session: Session, *, event: str, items: list[tuple[uuid.UUID, uuid.UUID, str]]) -> None:
    """Deliveries of `event` for each (user, source id, JSON payload) to the users' webhooks
    that want it, in the caller's transaction (one statement for all users)."""
    if not items:
        return
    session.execute(
        _ENQUEUE,
        {
            "event": event,
            "items": orjson.dumps(
                [{"user_id": str(u), "id": str(i), "payload": p} for u, i, p in items]
            ).decode(),
        },
    )


# --- the sending side (delivery.py) ----------------------------------------------------------
LEASE_S = 60  # a claimed delivery is not tried elsewhere before this (the attempt takes <= 10 s)

_CLAIM = text(
    "WITH due AS ("
    "  SELECT dd.id, dd.webhook_id, dd.next_attempt_at FROM webhook_delivery dd"
    "  JOIN webhook w ON w.id = dd.webhook_id AND w.disabled_at IS NULL"
    "  WHERE dd.status = 'pending' AND dd.next_attempt_at <= now()"
    "  ORDER BY dd.next_attempt_at LIMIT 500 FOR UPDATE OF dd SKIP LOCKED"
    "), first_of_each AS ("
    "  SELECT DISTINCT ON (webhook_id) id FROM due ORDER BY webhook_id, next_attempt_at"
    "  LIMIT :limit"
    ") UPDATE webhook_delivery d SET next_attempt_at = now() + make_interval(secs => :lease_s)"
    " FROM first_of_each WHERE d.id = first_of_each.id RETURNING d.id"
)


def claim(session: Session, *, limit: int) -> list[tuple[WebhookDelivery, Webhook]]:
    """Deliveries due now, at most one per webhook (its rate: one at a time), held for
    LEASE_S: a replica that dies with them leaves them due again afterwards."""
    ids = list(session.scalars(_CLAIM, {"lease_s": LEASE_S, "limit": limit}))
    session.commit()
    if not ids:
        return []
    rows = session.execute(
        select(WebhookDelivery, Webhook)
        .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
        .where(col(WebhookDelivery.id).in_(ids))
    ).all()
    session.expunge_all()
    session.rollback()
    return [(delivery, webhook) for delivery, webhook in rows]


def release(session: Session, *, delivery_ids: list[uuid.UUID]) -> None:
    """Deliveries a stopping replica held: due again now (the receiver may see one twice, with
    its one Webhook-Id, if it was sent just before the stop)."""
    session.execute(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id).in_(delivery_ids), col(WebhookDelivery.status) == "pending")
        .values(next_attempt_at=func.now())
    )
    session.commit()


def delivered(session: Session, *, delivery_id: uuid.UUID, status: int) -> None:
    now = utcnow()
    found = session.execute(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id) == delivery_id, col(WebhookDelivery.status) == "pending")
        .values(
            status="delivered",
            attempts=col(WebhookDelivery.attempts) + 1,
            last_status=status,
            last_error=None,
            delivered_at=now,
        )
        .returning(col(WebhookDelivery.webhook_id))
    ).first()
    if found is not None:
        session.execute(
            update(Webhook).where(col(Webhook.id) == found[0]).values(failing_since=None)
        )
    session.commit()


def attempt_failed(
    session: Session,
    *,
    delivery_id: uuid.UUID,
    status: int | None,
    error: str,
    retry: bool,
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """Record a failed attempt: due again after the next delay, or failed for good (a 4xx, or
    past GIVE_UP_AFTER). Returns (webhook, owner) when the webhook is now disabled."""
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != "pending":
        session.rollback()
        return None
    now = utcnow()
    delivery.attempts += 1
    delivery.last_status = status
    delivery.last_error = error[:300]
    delay = RETRY_DELAYS_S[min(delivery.attempts - 1, len(RETRY_DELAYS_S) - 1)]
    if not retry or now + timedelta(seconds=delay) > delivery.created_at + GIVE_UP_AFTER:
        delivery.status = "failed"
    else:
        delivery.next_attempt_at = now + timedelta(seconds=delay)
    session.add(delivery)
    disabled = _note_failure(session, webhook_id=delivery.webhook_id, now=now)
    session.commit()
    return disabled


def _note_failure(
    session: Session, *, webhook_id: uuid.UUID, now: datetime
) -> tuple[uuid.UUID, uuid.UUID] | None:
    webhook = session.get(Webhook, webhook_id, with_for_update=True)
    if webhook is None or webhook.disabled_at is not None:
        return None
    if webhook.failing_since is None:
        webhook.failing_since = now
    elif now - webhook.failing_since >= DISABLE_AFTER:
        webhook.disabled_at = now
        session.add(webhook)
        return webhook.id, webhook.user_id
    session.add(webhook)
    return None


def forget(session: Session, *, user_id: uuid.UUID) -> None:
    """A deleted account's webhooks go (their deliveries with them), in the caller's
    transaction."""
    session.execute(delete(Webhook).where(col(Webhook.user_id) == user_id))


def public_payload(delivery: WebhookDelivery) -> dict[str, Any]:
    """The JSON body a receiver gets: {id, event, created_at, data}."""
    return {
        "id": str(delivery.id),
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
