"""Sending webhook deliveries, in every replica: take the deliveries that are due (one per
webhook at a time, held by a lease in their row), POST each, signed with the Standard
Webhooks scheme, and record what happened (webhooks.py decides what comes next).

Each request: at most 10 s, to an address the rule allows (addresses.py, checked where the
connection is made), redirects followed only when they keep the POST (307, 308) and only to
allowed addresses, at most MAX_REDIRECTS of them; the answer's body is read up to 64 KiB and
never kept. Nothing of the user's (their token, their other data) goes with it."""

import asyncio
import base64
import hashlib
import hmac
import logging
import random
import time
import uuid
from urllib.parse import urljoin

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver
from sqlalchemy import Engine

from notifications import service, webhooks
from notifications.addresses import PublicResolver, RefusedAddress, check_url, describe
from notifications.models import Webhook, WebhookDelivery
from shared.db import in_session

logger = logging.getLogger(__name__)
TIMEOUT_S = 10.0
MAX_REDIRECTS = 3
READ_AT_MOST_BYTES = 64 * 1024
BATCH = 16
IDLE_POLL_S = 0.5
USER_AGENT = "movie-discovery-webhooks/1"


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, the key being the secret's
    base64 part (Standard Webhooks)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class Outcome:
    def __init__(self, *, ok: bool, status: int | None, error: str = "", retry: bool = True):
        self.ok, self.status, self.error, self.retry = ok, status, error, retry


class Deliverer:
    def __init__(
        self,
        *,
        engine: Engine,
        allow_private: bool,
        keep: int,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.engine = engine
        self.allow_private = allow_private
        self.keep = keep
        # The rule applied where connections are made; tests name their own receivers' hosts
        self.resolver = resolver or PublicResolver(allow_private=allow_private)
        self._session: aiohttp.ClientSession | None = None
        self._held: set[uuid.UUID] = set()  # claimed here, outcome not yet recorded

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=self.resolver, limit=64),
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def close(self) -> None:
        """At shutdown (the run task already cancelled): the deliveries this replica held and
        did not finish are due again at once, for another replica; then the client closes."""
        if self._held:
            held, self._held = list(self._held), set()
            await asyncio.to_thread(in_session, self.engine, webhooks.release, delivery_ids=held)
        if self._session is not None:
            await self._session.close()
        await self.resolver.close()

    async def run(self) -> None:
        """Until cancelled: deliver what is due, look again shortly."""
        while True:
            try:
                due = await asyncio.to_thread(in_session, self.engine, webhooks.claim, limit=BATCH)
                self._held.update(delivery.id for delivery, _ in due)
                results = await asyncio.gather(
                    *(self.deliver(d, w) for d, w in due), return_exceptions=True
                )
                for result in results:
                    if isinstance(result, Exception):  # its claim expires by itself
                        logger.error("webhooks: a delivery's outcome was not recorded: %r", result)
                if due:
                    continue
            except Exception:  # the database away: the claims expire by themselves
                logger.exception("webhooks: could not take or record deliveries; trying again")
            await asyncio.sleep(IDLE_POLL_S * random.uniform(0.8, 1.2))

    async def deliver(self, delivery: WebhookDelivery, webhook: Webhook) -> None:
        try:
            await self._deliver(delivery, webhook)
        finally:
            self._held.discard(delivery.id)

    async def _deliver(self, delivery: WebhookDelivery, webhook: Webhook) -> None:
        outcome = await self.attempt(delivery, webhook)
        if outcome.ok:
            await asyncio.to_thread(
                in_session,
                self.engine,
                webhooks.delivered,
                delivery_id=delivery.id,
                status=outcome.status,
            )
            return
        disabled = await asyncio.to_thread(
            in_session,
            self.engine,
            webhooks.attempt_failed,
            delivery_id=delivery.id,
            status=outcome.status,
            error=outcome.error,
            retry=outcome.retry,
        )
        if disabled is not None:
            webhook_id, owner = disabled
            logger.warning("webhook %s disabled after three days of failures", webhook_id)
            await asyncio.to_thread(
                in_session,
                self.engine,
                service.webhook_disabled,
                user_id=owner,
                webhook_id=webhook_id,
                url=webhook.url,
                keep=self.keep,
            )

    async def attempt(self, delivery: WebhookDelivery, webhook: Webhook) -> Outcome:
        body = orjson.dumps(webhooks.public_payload(delivery))
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Webhook-Id": str(delivery.id),
            "Webhook-Timestamp": str(timestamp),
            "Webhook-Signature": sign(webhook.secret, str(delivery.id), timestamp, body),
        }
        url = webhook.url
        try:
            for _ in range(MAX_REDIRECTS + 1):
                check_url(url, allow_private=self.allow_private)
                async with self._client().post(
                    url, data=body, headers=headers, allow_redirects=False
                ) as response:
                    await response.content.read(READ_AT_MOST_BYTES)
                    status = response.status
                    location = response.headers.get("Location")
                if status in (307, 308) and location:
                    url = urljoin(url, location)
                    continue
                return _judged(status)
            return Outcome(ok=False, status=None, error="Too many redirects", retry=False)
        except RefusedAddress as refused:
            return Outcome(ok=False, status=None, error=str(refused), retry=False)
        except TimeoutError:
            return Outcome(ok=False, status=None, error=f"No answer within {TIMEOUT_S:g} s")
        except aiohttp.ClientError as exc:
            return Outcome(ok=False, status=None, error=describe(exc))


def _judged(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome(ok=True, status=status)
    if status == 429 or status >= 500:
        return Outcome(ok=False, status=status, error=f"The receiver answered {status}")
    return Outcome(
        ok=False, status=status, error=f"The receiver answered {status}; not retried", retry=False
    )
