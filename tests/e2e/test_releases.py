"""Release alerts through the gateway: a user who watchlists an upcoming title hears once
when the sandbox's clock passes its release date in their region, and once when it arrives on
one of their services, on the live stream and at their webhook, and never for a title already
out; the calendar, `watch_providers.mine` and `provider=mine` know the user's services."""

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from tests.e2e.conftest import Stack
from tests.e2e.helpers import assert_problem, bearer, opening_soon, until
from tests.e2e.test_webhooks import NewUser, Receiver, receiver  # noqa: F401  (the fixture)

REGION = "US"
PROVIDER = 8  # Netflix
CHECKS_S = 2.0  # the e2e stack's CATALOG_RELEASE_CHECK_INTERVAL_S


class Stream(threading.Thread):
    """Collects the user's live notifications while the test runs."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.headers = url, headers
        self.notifications: list[dict[str, object]] = []
        self.connected = threading.Event()
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            self._read()
        except httpx.HTTPError:
            return  # the stack stopped under a stream the test no longer reads

    def _read(self) -> None:
        with httpx.stream(
            "GET", self.url, headers=self.headers, timeout=httpx.Timeout(60, read=60)
        ) as response:
            self.connected.set()
            for line in response.iter_lines():
                if line.startswith("data:"):
                    self.notifications.append(json.loads(line.partition(":")[2]))
                if self.stopped.is_set():
                    return


@pytest.fixture
def sandbox(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url("sandbox")) as client:
        yield client
        client.delete("/__admin/releases")


def _releases(api: httpx.Client, user: dict[str, str]) -> list[dict[str, object]]:
    found = api.get("/notifications", params={"limit": 100}, headers=user).json()["results"]
    return [n for n in found if n["type"] == "release.available"]


def _calendar(api: httpx.Client, user: dict[str, str], movie_id: int) -> list[dict[str, object]]:
    today = datetime.now(UTC).date()
    answer = api.get(
        "/me/calendar",
        params={
            "from": (today - timedelta(days=5)).isoformat(),
            "to": (today + timedelta(days=60)).isoformat(),
        },
        headers=user,
    )
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json()["results"] if e["movie"]["id"] == movie_id]


def _waiting_user(api: httpx.Client, new_user: NewUser) -> dict[str, str]:
    user = bearer(new_user())
    changed = api.patch(
        "/me",
        json={
            "preferences": {
                "region": REGION,
                "providers": [PROVIDER],
                "notify": {"releases": True, "trending": False, "recommendations": False},
            }
        },
        headers=user,
    )
    assert changed.status_code == 200, changed.text
    return user


TAKEN: set[int] = set()  # a title announced in one test is not news in the next


def _upcoming_title(stack: Stack) -> int:
    title = next(
        int(m["id"]) for m in reversed(opening_soon(stack, REGION)) if m["id"] not in TAKEN
    )  # type: ignore[call-overload]
    TAKEN.add(title)
    return title


def _alerts_flow(
    api: httpx.Client, user: dict[str, str], stack: Stack, sandbox: httpx.Client
) -> tuple[Stream, int]:
    """Watch an upcoming title and one already out, let the clock pass the first's release
    date, then put it on the user's service; returns the user's stream and the title."""
    title = _upcoming_title(stack)
    out_now = api.get("/movies/now-playing", params={"region": REGION}, headers=user)
    already_out = out_now.json()["results"][0]["id"]
    stream = Stream(f"{stack.url('gateway')}/api/v1/notifications/stream", user)
    stream.start()
    assert stream.connected.wait(10)
    for movie_id in (title, already_out):
        assert api.post("/watchlist", json={"movie_id": movie_id}, headers=user).status_code == 201

    until(lambda: bool(_calendar(api, user, title)), 15, "the title's release date in the calendar")
    [opening] = _calendar(api, user, title)
    assert opening["kind"] == "theatrical"
    opens_on = date.fromisoformat(str(opening["date"]))
    assert opens_on >= datetime.now(UTC).date()
    time.sleep(2 * CHECKS_S)  # the catalog's first look at both titles
    day = sandbox.get("/__admin/clock").json()["day"]
    sandbox.post(
        "/__admin/clock", json={"day": day + (opens_on - datetime.now(UTC).date()).days + 2}
    )
    until(lambda: len(_releases(api, user)) >= 1, 20, "the release alert")

    assert (
        sandbox.post(
            "/__admin/releases",
            json={
                "movie_id": title,
                "region": REGION,
                "kind": "streaming",
                "provider_id": PROVIDER,
            },
        ).status_code
        == 204
    )
    until(lambda: len(_releases(api, user)) >= 2, 20, "the streaming alert")
    time.sleep(3 * CHECKS_S)  # later checks announce nothing again
    return stream, title


def test_release_alerts_come_once_per_kind_on_the_stream(
    api: httpx.Client, new_user: NewUser, stack: Stack, sandbox: httpx.Client
) -> None:
    user = _waiting_user(api, new_user)
    stream, title = _alerts_flow(api, user, stack, sandbox)
    alerts = _releases(api, user)
    assert sorted(str(a["body"]).rsplit(" is ", 1)[1] for a in alerts) == [
        "now on Netflix",
        "out in cinemas",
    ]
    assert all(a["movie_ids"] == [title] for a in alerts)  # none for the title already out
    until(lambda: len(stream.notifications) >= 2, 10, "both alerts on the live stream")
    stream.stopped.set()
    assert {n["id"] for n in stream.notifications} == {a["id"] for a in alerts}

    streaming = [e for e in _calendar(api, user, title) if e["kind"] == "streaming"]
    assert [(e["provider"]["id"], e["date"]) for e in streaming] == [  # type: ignore[index]
        (PROVIDER, datetime.now(UTC).date().isoformat())
    ]
    details = api.get(f"/movies/{title}", params={"include": "watch_providers"}, headers=user)
    assert [p["id"] for p in details.json()["watch_providers"]["mine"]] == [PROVIDER]
    mine = api.get("/movies/discover", params={"provider": "mine"}, headers=user)
    assert mine.status_code == 200, mine.text
    assert_problem(api.get("/movies/discover", params={"provider": "mine"}), 401)


@pytest.mark.own_processes
def test_release_alerts_reach_the_users_webhook_signed(
    api: httpx.Client,
    new_user: NewUser,
    stack: Stack,
    sandbox: httpx.Client,
    receiver: Receiver,  # noqa: F811
) -> None:
    user = _waiting_user(api, new_user)
    made = api.post(
        "/me/webhooks", json={"url": receiver.url, "events": ["release.available"]}, headers=user
    )
    assert made.status_code == 201, made.text
    verifier = Verifier(made.json()["secret"])
    _, title = _alerts_flow(api, user, stack, sandbox)
    until(lambda: len(receiver.received) >= 2, 20, "both alerts at the webhook")
    time.sleep(1)
    deliveries = [verifier.verify(body, headers) for headers, body in receiver.received]
    assert len(deliveries) == 2  # once per kind
    ids = {
        v
        for headers, _ in receiver.received
        for k, v in headers.items()
        if k.lower() == "webhook-id"
    }
    assert len(ids) == 2
    news = sorted((d["data"]["kind"], d["data"]["provider"]) for d in deliveries)
    assert news == [
        ("streaming", {"id": PROVIDER, "name": "Netflix"}),
        ("theatrical", None),
    ]
    assert {d["event"] for d in deliveries} == {"release.available"}
    assert {d["data"]["movie_id"] for d in deliveries} == {title}


def test_a_calendar_asks_for_at_most_180_days(api: httpx.Client, new_user: NewUser) -> None:
    user = bearer(new_user())
    assert api.get("/me/calendar", headers=user).json() == {"results": []}
    too_long = {"from": "2026-01-01", "to": "2026-07-01"}
    assert_problem(api.get("/me/calendar", params=too_long, headers=user), 422)
    backwards = {"from": "2026-02-01", "to": "2026-01-01"}
    assert_problem(api.get("/me/calendar", params=backwards, headers=user), 422)
    assert_problem(api.get("/me/calendar", params={"from": "9999-12-30"}, headers=user), 422)
    assert_problem(api.get("/me/calendar", params={"to": "0"}, headers=user), 422)
    assert_problem(api.get("/me/calendar", params={"from": "2026-02-30"}, headers=user), 422)
    nothing = api.get("/movies/discover", params={"provider": "mine"}, headers=user)
    assert nothing.status_code == 200 and nothing.json()["results"] == []  # no services set
    assert_problem(api.get("/me/calendar"), 401)
