"""Webhooks on the real PostgreSQL, delivered to a receiver on this machine: signed as
Standard Webhooks verifiers expect, kept and retried until the receiver takes them (the same
Webhook-Id each time), failed at once on a 4xx, disabled after three days of failures with
the owner told, enqueued with their notification; and the addresses refused."""

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from sqlalchemy import Engine, text
from sqlmodel import Session
from standardwebhooks.webhooks import Webhook as Verifier

from notifications import service, webhooks
from notifications.addresses import (
    PublicResolver,
    RefusedAddress,
    allowed,
    check_host,
    check_url,
)
from notifications.delivery import Deliverer

RECEIVER_HOST = "receiver.test"  # resolved to 127.0.0.1 by the tests' own resolver


class Receiver:
    """An HTTP server that answers each POST with the next of `answers` (then 200)."""

    def __init__(self) -> None:
        self.answers: list[int | tuple[int, str]] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, tuple):
            return web.Response(status=answer[0], headers={"Location": answer[1]})
        return web.Response(status=answer, text="thanks")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield found
    await runner.cleanup()


class TestResolver(AbstractResolver):
    """The receiver's name as a public host would resolve; nothing else resolves."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != RECEIVER_HOST:
            raise OSError(f"{host} is not known here")
        return [
            {"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET,
             "proto": 0, "flags": 0}
        ]  # fmt: skip

    async def close(self) -> None:
        return None


@pytest.fixture(autouse=True)
def clean(notifications_engine: Engine) -> None:
    with notifications_engine.begin() as connection:
        connection.execute(text("TRUNCATE webhook, webhook_delivery, notification"))


def _webhook(engine: Engine, receiver: Receiver, path: str = "/hook") -> webhooks.Webhook:
    with Session(engine, expire_on_commit=False) as session:
        made = webhooks.register(
            session,
            user_id=uuid.uuid4(),
            url=f"http://{RECEIVER_HOST}:{receiver.port}{path}",
            events=["notification.created", "import.finished"],
            description=None,
        )
    assert made is not None
    return made


def _deliverer(engine: Engine, *, allow_private: bool = False) -> Deliverer:
    return Deliverer(engine=engine, allow_private=allow_private, keep=200, resolver=TestResolver())


async def _deliver_due(deliverer: Deliverer) -> int:
    with Session(deliverer.engine) as session:
        due = webhooks.claim(session, limit=16)
    await asyncio.gather(*(deliverer.deliver(d, w) for d, w in due))
    return len(due)


def _delivery(engine: Engine) -> dict:  # type: ignore[type-arg]
    with engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM webhook_delivery")).mappings().one()
        return dict(row)


def _make_due(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE webhook_delivery SET next_attempt_at = now()"))


async def test_a_ping_arrives_signed_as_standard_webhooks_verify_it(
    notifications_engine: Engine, receiver: Receiver
) -> None:
    hook = _webhook(notifications_engine, receiver)
    with Session(notifications_engine) as session:
        assert webhooks.ping(session, user_id=hook.user_id, webhook_id=hook.id)
    deliverer = _deliverer(notifications_engine)
    try:
        assert await _deliver_due(deliverer) == 1
    finally:
        await deliverer.close()
    headers, body = receiver.received[0]
    verified = Verifier(hook.secret).verify(body, headers)  # raises when the signature is wrong
    assert verified["event"] == "ping" and verified["data"] == {"webhook_id": str(hook.id)}
    assert headers["Webhook-Id"] == verified["id"]
    assert "Authorization" not in headers
    delivery = _delivery(notifications_engine)
    assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == (
        "delivered",
        1,
        200,
    )


async def test_a_receiver_that_is_down_gets_it_later_with_the_same_id(
    notifications_engine: Engine, receiver: Receiver
) -> None:
    hook = _webhook(notifications_engine, receiver)
    with Session(notifications_engine) as session:
        webhooks.ping(session, user_id=hook.user_id, webhook_id=hook.id)
    receiver.answers = [503, 429]
    deliverer = _deliverer(notifications_engine)
    try:
        await _deliver_due(deliverer)
        first = _delivery(notifications_engine)
        assert (first["status"], first["attempts"], first["last_status"]) == ("pending", 1, 503)
        assert first["next_attempt_at"] > datetime.now(UTC) + timedelta(seconds=5)
        assert await _deliver_due(deliverer) == 0  # not due before its time
        _make_due(notifications_engine)
        await _deliver_due(deliverer)
        _make_due(notifications_engine)
        await _deliver_due(deliverer)
    finally:
        await deliverer.close()
    assert _delivery(notifications_engine)["status"] == "delivered"
    ids = {headers["Webhook-Id"] for headers, _ in receiver.received}
    assert len(receiver.received) == 3 and len(ids) == 1


async def test_a_4xx_fails_at_once_and_three_days_of_failures_disable_the_webhook(
    notifications_engine: Engine, receiver: Receiver
) -> None:
    hook = _webhook(notifications_engine, receiver)
    with Session(notifications_engine) as session:
        webhooks.ping(session, user_id=hook.user_id, webhook_id=hook.id)
    receiver.answers = [404]
    deliverer = _deliverer(notifications_engine)
    try:
        await _deliver_due(deliverer)
        assert _delivery(notifications_engine)["status"] == "failed"
        with notifications_engine.begin() as connection:
            connection.execute(
                text("UPDATE webhook SET failing_since = now() - interval '3 days 1 second'")
            )
        with Session(notifications_engine) as session:
            webhooks.ping(session, user_id=hook.user_id, webhook_id=hook.id)
        receiver.answers = [500]
        await _deliver_due(deliverer)
    finally:
        await deliverer.close()
    with Session(notifications_engine) as session:
        assert webhooks.mine(session, user_id=hook.user_id)[0].disabled_at is not None
        told, _ = service.page(session, user_id=hook.user_id, unread_only=False, page=1, limit=5)
    assert [n.type for n in told] == ["webhook.disabled"]


async def test_redirects_to_private_addresses_are_refused(
    notifications_engine: Engine, receiver: Receiver
) -> None:
    hook = _webhook(notifications_engine, receiver)
    deliverer = _deliverer(notifications_engine)
    try:
        for target in (
            "http://10.0.0.5/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:8080/",
            f"http://localhost:{receiver.port}/hook",
        ):
            with Session(notifications_engine) as session:
                webhooks.ping(session, user_id=hook.user_id, webhook_id=hook.id)
            receiver.answers = [(307, target)]
            await _deliver_due(deliverer)
            with notifications_engine.connect() as connection:
                status, error = connection.execute(
                    text(
                        "SELECT status, last_error FROM webhook_delivery"
                        " ORDER BY created_at DESC LIMIT 1"
                    )
                ).one()
            assert status == "failed" and "does not call" in error, (target, error)
        # A redirect that keeps to the receiver is followed
        with Session(notifications_engine) as session:
            webhooks.ping(session, user_id=hook.user_id, webhook_id=hook.id)
        receiver.answers = [(308, "/moved"), 200]
        await _deliver_due(deliverer)
    finally:
        await deliverer.close()
    with notifications_engine.connect() as connection:
        assert (
            connection.execute(
                text("SELECT status FROM webhook_delivery ORDER BY created_at DESC LIMIT 1")
            ).scalar_one()
            == "delivered"
        )


async def test_at_creation_a_name_resolving_to_loopback_is_refused_an_unknown_one_is_not() -> None:
    with pytest.raises(RefusedAddress, match="resolves to an address"):
        await check_host("localhost", allow_private=False)
    await check_host("localhost", allow_private=True)
    await check_host("no-such-host.invalid", allow_private=False)  # its deliveries will retry
    with pytest.raises(RefusedAddress):
        await check_host("169.254.169.254", allow_private=False)


async def test_a_name_that_resolves_to_loopback_is_refused() -> None:
    resolver = PublicResolver(allow_private=False)
    try:
        with pytest.raises(RefusedAddress, match="resolves to an address"):
            await resolver.resolve("localhost", 80, socket.AF_UNSPEC)
    finally:
        await resolver.close()
    allowing = PublicResolver(allow_private=True)
    try:
        assert await allowing.resolve("localhost", 80, socket.AF_INET)
    finally:
        await allowing.close()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1",
        "::ffff:10.0.0.1", "240.0.0.1", "2002:7f00:1::", "2002:a9fe:a9fe::1",
        "64:ff9b::7f00:1", "64:ff9b::a00:1",
    ],
)  # fmt: skip
def test_every_refused_address_class(address: str) -> None:
    assert not allowed(address, allow_private=False)
    with pytest.raises(RefusedAddress):
        check_url(
            f"http://{'[' + address + ']' if ':' in address else address}/", allow_private=False
        )


def test_public_addresses_and_url_rules() -> None:
    assert allowed("93.184.216.34", allow_private=False)
    assert allowed("2606:2800:220:1::1", allow_private=False)
    assert allowed("64:ff9b::5db8:d822", allow_private=False)  # 93.184.216.34 through NAT64
    assert allowed("127.0.0.1", allow_private=True)
    for url, says in (
        ("ftp://example.com/", "http and https"),
        ("http://user:pw@example.com/", "credentials"),
        ("http://localhost/", "own host"),
        ("http:///path", "no host"),
        ("https://" + "0" * 300 + "/", "not a valid name"),
    ):
        with pytest.raises(RefusedAddress, match=says):
            check_url(url, allow_private=False)
    assert check_url("https://hooks.example.com/x", allow_private=False)


async def test_a_notification_is_enqueued_for_the_users_webhooks_with_it(
    notifications_engine: Engine, receiver: Receiver
) -> None:
    hook = _webhook(notifications_engine, receiver)
    other = _webhook(notifications_engine, receiver)
    with Session(notifications_engine) as session:
        service.subscribe(
            session, user_id=hook.user_id, at=datetime.now(UTC) - timedelta(seconds=5)
        )
        written = service.notify_recommendations(
            session,
            event_id=uuid.uuid4(),
            user_id=hook.user_id,
            movies=[{"id": 50, "title": "Star Wars"}],
            keep=200,
        )
        webhooks.enqueue(
            session,
            event="notification.created",
            items=[(d.user_id, d.notification_id, d.payload.decode()) for d in written],
        )
        session.commit()
    delivery = _delivery(notifications_engine)
    assert delivery["webhook_id"] == hook.id and delivery["webhook_id"] != other.id
    assert delivery["payload"]["body"] == "Star Wars joined your recommendations"
    assert orjson.loads(written[0].payload)["id"] == str(delivery["source_id"])


async def test_a_deleted_account_takes_its_webhooks_and_deliveries_with_it(
    notifications_engine: Engine, receiver: Receiver
) -> None:
    hook = _webhook(notifications_engine, receiver)
    with Session(notifications_engine) as session:
        webhooks.ping(session, user_id=hook.user_id, webhook_id=hook.id)
        service.forget(session, user_id=hook.user_id)
        session.commit()
    with notifications_engine.connect() as connection:
        left = connection.execute(
            text("SELECT (SELECT count(*) FROM webhook), (SELECT count(*) FROM webhook_delivery)")
        ).one()
    assert tuple(left) == (0, 0)


async def test_deliveries_held_by_a_stopping_replica_are_due_again_at_once(
    notifications_engine: Engine, receiver: Receiver
) -> None:
    hook = _webhook(notifications_engine, receiver)
    with Session(notifications_engine) as session:
        webhooks.ping(session, user_id=hook.user_id, webhook_id=hook.id)
    deliverer = _deliverer(notifications_engine)
    with Session(notifications_engine) as session:
        held = webhooks.claim(session, limit=16)
    deliverer._held.update(delivery.id for delivery, _ in held)  # claimed, not yet sent
    assert _delivery(notifications_engine)["next_attempt_at"] > datetime.now(UTC)
    await deliverer.close()
    assert _delivery(notifications_engine)["next_attempt_at"] <= datetime.now(UTC)
