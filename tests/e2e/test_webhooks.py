"""Webhooks through the gateway: a receiver on this machine gets the user's notifications,
signed as Standard Webhooks verifiers expect, and a receiver that was down gets them once it
is back. (The stack allows loopback receivers: WEBHOOK_ALLOW_PRIVATE in tests/e2e/settings.py;
the refused address classes are tested in the notifications service's own tests.)"""

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from tests.e2e.conftest import Stack
from tests.e2e.helpers import assert_problem, bearer, refresh_after_time_passes, until

NewUser = Callable[..., dict[str, str]]


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.down = False
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.server.down:
            self.send_response(503)
        else:
            self.server.received.append((dict(self.headers), body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.own_processes
def test_notifications_reach_a_webhook_signed_and_late_receivers_get_them(
    api: httpx.Client, new_user: NewUser, receiver: Receiver, stack: Stack
) -> None:
    mine = bearer(new_user())
    made = api.post(
        "/me/webhooks",
        json={"url": receiver.url, "events": ["notification.created"], "description": "test"},
        headers=mine,
    )
    assert made.status_code == 201, made.text
    hook = made.json()
    assert hook["secret"].startswith("whsec_") and made.headers["location"].endswith(hook["id"])
    listed = api.get("/me/webhooks", headers=mine).json()["results"]
    assert [w["id"] for w in listed] == [hook["id"]] and "secret" not in listed[0]
    verifier = Verifier(hook["secret"])

    assert api.post(f"/me/webhooks/{hook['id']}/test", headers=mine).status_code == 202
    until(lambda: len(receiver.received) == 1, 10, "the ping")
    ping = verifier.verify(receiver.received[0][1], receiver.received[0][0])
    assert ping["event"] == "ping"

    receiver.down = True  # the receiver goes away; a notification is written meanwhile
    time.sleep(1)  # the registration reaches the notifications service
    refresh_after_time_passes(stack, days=9)

    def deliveries() -> list[dict]:  # type: ignore[type-arg]
        page = api.get(f"/me/webhooks/{hook['id']}/deliveries", headers=mine).json()
        return page["results"]  # type: ignore[no-any-return]

    until(
        lambda: any(d["event"] == "notification.created" and d["attempts"] for d in deliveries()),
        20,
        "a failed attempt in the delivery log",
    )
    waiting = next(d for d in deliveries() if d["event"] == "notification.created")
    assert waiting["status"] == "pending" and waiting["last_status"] == 503
    assert waiting["next_attempt_at"] is not None
    receiver.down = False
    until(
        lambda: any(
            verifier.verify(body, headers)["event"] == "notification.created"
            for headers, body in receiver.received
        ),
        30,
        "the notification once the receiver is back",
    )
    got = next(
        verifier.verify(body, headers)
        for headers, body in receiver.received
        if b"notification.created" in body
    )
    assert got["id"] == waiting["id"] and got["data"]["type"] == "trending.new"
    mine_notes = api.get("/notifications", headers=mine).json()["results"]
    assert got["data"]["id"] in {n["id"] for n in mine_notes}

    assert api.delete(f"/me/webhooks/{hook['id']}", headers=mine).status_code == 204
    assert_problem(api.delete(f"/me/webhooks/{hook['id']}", headers=mine), 404)


def test_webhook_urls_this_server_must_not_call_are_refused(
    api: httpx.Client, new_user: NewUser
) -> None:
    mine = bearer(new_user())
    for url in ("ftp://example.com/x", "http://user:pw@example.com/", "not a url"):
        assert_problem(
            api.post(
                "/me/webhooks", json={"url": url, "events": ["notification.created"]}, headers=mine
            ),
            422,
        )
    assert_problem(
        api.post(
            "/me/webhooks", json={"url": "https://example.com/", "events": ["nope"]}, headers=mine
        ),
        422,
    )
    assert_problem(
        api.post("/me/webhooks", json={"url": "https://example.com/", "events": []}), 401
    )
    assert_problem(
        api.get("/me/webhooks/00000000-0000-0000-0000-000000000000/deliveries", headers=mine), 404
    )
