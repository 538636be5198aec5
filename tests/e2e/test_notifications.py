"""Notifications through the gateway, produced by a real trending refresh."""

import json
import threading
import time
from collections.abc import Callable

import httpx

from tests.e2e.conftest import Stack
from tests.e2e.helpers import assert_problem, refresh_after_time_passes

NewUser = Callable[..., dict[str, str]]


def _auth(user: dict[str, str]) -> dict[str, str]:
    return {"Authorization": user["authorization"]}


def _wait_for_notifications(
    api: httpx.Client, headers: dict[str, str], timeout_s: float = 15
) -> list[dict]:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout_s
    while True:
        results = api.get("/notifications", headers=headers).json()["results"]
        if results:
            return results  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, "no notification arrived"
        time.sleep(0.2)


class StreamReader(threading.Thread):
    """Reads a text/event-stream through the gateway until the first event (or a timeout)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.headers = url, headers
        self.events: list[dict[str, str]] = []
        self.connected = threading.Event()
        self.status = 0

    def run(self) -> None:
        with httpx.stream(
            "GET", self.url, headers=self.headers, timeout=httpx.Timeout(30, read=30)
        ) as response:
            self.status = response.status_code
            self.content_type = response.headers.get("content-type", "")
            self.connected.set()
            event: dict[str, str] = {}
            for line in response.iter_lines():
                if line.startswith(("id:", "event:", "data:")):
                    key, _, value = line.partition(":")
                    event[key] = value.strip()
                elif line == "" and "data" in event:
                    self.events.append(event)
                    return


def test_a_real_refresh_notifies_and_streams(
    api: httpx.Client, new_user: NewUser, stack: Stack
) -> None:
    user = new_user()
    headers = _auth(user)
    time.sleep(1)  # the user.registered event makes them a subscriber
    assert api.get("/notifications", headers=headers).json()["total_results"] == 0
    reader = StreamReader(f"{stack.url('gateway')}/api/v1/notifications/stream", headers)
    reader.start()
    assert reader.connected.wait(10) and reader.status == 200
    assert reader.content_type.startswith("text/event-stream")

    refresh_after_time_passes(stack, days=9)
    notifications = _wait_for_notifications(api, headers)
    trending = next(n for n in notifications if n["type"] == "trending.new")
    assert set(trending) == {"id", "type", "title", "body", "movie_ids", "created_at", "read_at"}
    assert trending["movie_ids"] and trending["read_at"] is None and "trending" in trending["body"]

    reader.join(15)
    assert reader.events, "the stream delivered nothing"
    streamed = json.loads(reader.events[0]["data"])
    assert reader.events[0]["event"] == "notification"
    assert streamed["id"] in {n["id"] for n in notifications}

    # A client reconnecting with Last-Event-ID gets what it missed.
    resumed = StreamReader(
        f"{stack.url('gateway')}/api/v1/notifications/stream", {**headers, "Last-Event-ID": "0"}
    )
    resumed.start()
    resumed.join(15)
    assert resumed.events and json.loads(resumed.events[0]["data"])["id"] in {
        n["id"] for n in notifications
    }

    # Read marking, and nobody else's notifications.
    other = _auth(new_user())
    assert_problem(api.post(f"/notifications/{trending['id']}/read", headers=other), 404)
    assert api.post(f"/notifications/{trending['id']}/read", headers=headers).status_code == 204
    unread = api.get("/notifications", params={"unread": "true"}, headers=headers).json()["results"]
    assert trending["id"] not in {n["id"] for n in unread}
    assert api.post("/notifications/read-all", headers=headers).status_code == 204
    assert (
        api.get("/notifications", params={"unread": "true"}, headers=headers).json()[
            "total_results"
        ]
        == 0
    )
    assert_problem(
        api.post("/notifications/00000000-0000-0000-0000-000000000000/read", headers=headers), 404
    )
    assert_problem(api.post("/notifications/nope/read", headers=headers), 422)


def test_users_who_opt_out_get_no_trending_notifications(
    api: httpx.Client, new_user: NewUser, stack: Stack
) -> None:
    quiet = _auth(new_user())
    assert (
        api.patch(
            "/me", json={"preferences": {"notify": {"trending": False}}}, headers=quiet
        ).status_code
        == 200
    )
    watcher = _auth(new_user())
    time.sleep(1)
    refresh_after_time_passes(stack, days=9)
    _wait_for_notifications(api, watcher)
    assert not [
        n
        for n in api.get("/notifications", headers=quiet).json()["results"]
        if n["type"] == "trending.new"
    ]


def test_notifications_need_a_token(api: httpx.Client) -> None:
    assert_problem(api.get("/notifications"), 401)
    assert_problem(api.get("/notifications/stream"), 401)
    assert_problem(api.post("/notifications/read-all"), 401)


def _open_streams(stack: Stack) -> float:
    lines = stack.metrics("notifications").splitlines()  # every replica's
    return sum(float(x.split()[1]) for x in lines if x.startswith("notifications_open_streams "))


def test_a_closed_stream_lets_go_of_its_upstream(
    api: httpx.Client, new_user: NewUser, stack: Stack
) -> None:
    """After clients close their streams, the gateway closes the upstream ones too (it used to
    keep reading them, holding a connection and a Redis subscription each for good)."""
    headers = _auth(new_user())
    for _ in range(4):
        with api.stream("GET", "/notifications/stream", headers=headers, timeout=10) as stream:
            assert stream.status_code == 200
            assert next(stream.iter_bytes()).startswith(b"retry:")
    deadline = time.monotonic() + 5
    while (still_open := _open_streams(stack)) > 0:
        assert time.monotonic() < deadline, f"{still_open} upstream streams still open"
        time.sleep(0.1)


def test_a_stream_ends_when_its_login_ends(api: httpx.Client, new_user: NewUser) -> None:
    user = new_user()
    headers = _auth(user)
    with api.stream("GET", "/notifications/stream", headers=headers, timeout=10) as stream:
        chunks = stream.iter_bytes()
        assert next(chunks).startswith(b"retry:")
        assert api.post("/auth/logout", headers=headers).status_code == 204
        started = time.monotonic()
        for _ in chunks:  # keep-alives at most, until the gateway ends it
            assert time.monotonic() - started < 5, "the stream outlived the logout"
        assert time.monotonic() - started < 5
    assert_problem(api.get("/notifications/stream", headers=headers), 401)


def test_a_new_subscriber_is_notified_of_the_first_refresh_that_gains_titles(
    api: httpx.Client, new_user: NewUser, stack: Stack
) -> None:
    """Ten times over: a user who has just registered (their registration may reach the
    notifications service after the refresh does) gets the first refresh whose week window
    gains titles."""
    for attempt in range(10):
        headers = _auth(new_user())
        gained: list[int] = []
        for _ in range(5):  # until the week window gains titles
            gained = refresh_after_time_passes(stack, days=3)["week"]
            if gained:
                break
        assert gained, "the sandbox's week window gained nothing in 15 data days"
        notifications = _wait_for_notifications(api, headers, timeout_s=10)
        trending = [n for n in notifications if n["type"] == "trending.new"]
        assert trending, f"attempt {attempt}: no trending notification"
        assert any(n["movie_ids"] and set(n["movie_ids"]) <= set(gained) for n in trending)


def test_trending_notifications_name_titles_in_the_users_language(
    api: httpx.Client, new_user: NewUser, stack: Stack
) -> None:
    french = _auth(new_user())
    assert (
        api.patch("/me", json={"preferences": {"language": "fr"}}, headers=french).status_code
        == 200
    )
    english = _auth(new_user())
    time.sleep(1)  # the preferences event reaches the notifications service
    refresh_after_time_passes(stack, days=9)
    mine = next(n for n in _wait_for_notifications(api, french) if n["type"] == "trending.new")
    first = api.get(f"/movies/{mine['movie_ids'][0]}", params={"language": "fr"}).json()
    assert mine["body"].startswith(first["title"]), (mine["body"], first["title"])
    theirs = next(n for n in _wait_for_notifications(api, english) if n["type"] == "trending.new")
    first = api.get(f"/movies/{theirs['movie_ids'][0]}", params={"language": "en"}).json()
    assert theirs["body"].startswith(first["title"]), (theirs["body"], first["title"])

    # The catalog names titles per language for services writing to many users at once
    named = httpx.get(
        f"{stack.url('catalog')}/internal/movies",
        params={"ids": "50,127,100", "language": "fr"},
        headers={"x-internal-token": stack.env["INTERNAL_SECRET"]},
    ).json()
    assert [m["title"] for m in named["results"]] == [
        "La Guerre des étoiles",
        "Le Parrain",
        "Fargo",
    ]
