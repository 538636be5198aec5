"""The library's fast doors (library/fastwrites.py) answer exactly as the FastAPI routes do:
the same writes asked of the library with the doors and without them, on the real
PostgreSQL, Redis and RabbitMQ, the catalog a small HTTP server of known titles."""

import json
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from library.app import create_app
from library.config import LibrarySettings

pytestmark = pytest.mark.usefixtures("clean_favorites_db")
KNOWN = {550, 603}
TIMESTAMP = re.compile(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)"')


class _Catalog(BaseHTTPRequestHandler):
    """GET /internal/movies for the titles in KNOWN; any other is one TMDb does not know."""

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        ids = [int(i) for i in query["ids"][0].split(",")]
        body = json.dumps(
            {
                "results": [_summary(i) for i in ids if i in KNOWN],
                "missing": [i for i in ids if i not in KNOWN],
                "unavailable": [],
                "adult_ids": [],
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _summary(movie_id: int) -> dict[str, Any]:
    return {
        "id": movie_id,
        "title": f"Movie {movie_id}",
        "overview": "",
        "release_date": None,
        "genre_ids": [],
        "vote_average": 7.0,
        "vote_count": 10,
        "popularity": 1.0,
        "poster_url": None,
    }


@pytest.fixture(scope="module")
def catalog_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Catalog)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def clients(
    favorites_settings: LibrarySettings, catalog_url: str
) -> Iterator[tuple[TestClient, TestClient, list[str]]]:
    """The library with its doors, the library without, and the paths that reached the
    framework in the first."""
    settings = favorites_settings.model_copy(update={"catalog_url": catalog_url})
    with_doors = create_app(settings)
    without = create_app(settings.model_copy(update={"fast_writes": False}))
    reached: list[str] = []
    door = with_doors.front.app  # type: ignore[attr-defined]
    framework = door.app

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            reached.append(f"{scope['method']} {scope['path']}")
        await framework(scope, receive, send)

    door.app = counted
    with TestClient(with_doors) as fast, TestClient(without) as slow:
        yield fast, slow, reached


def _vouched(settings: LibrarySettings, user: uuid.UUID) -> dict[str, str]:
    return {
        "x-internal-token": settings.internal_secret,
        "x-user-id": str(user),
        "x-session-id": "session",
        "x-token-id": str(uuid.uuid4()),
        "x-token-expires-at": "1900000000",
    }


# (method, path, JSON body or None, whether the door takes it)
SCENARIO: list[tuple[str, str, Any, bool]] = [
    ("POST", "/api/v1/favorites", {"movie_id": 550}, True),
    ("POST", "/api/v1/favorites", {"movie_id": 550}, True),
    ("POST", "/api/v1/favorites", {"movie_id": 999}, True),
    ("POST", "/api/v1/favorites", {"movie_id": "550"}, False),
    ("POST", "/api/v1/favorites", {"movie_id": 550.0}, True),
    ("POST", "/api/v1/favorites", {"movie_id": 550, "note": "x"}, False),
    ("GET", "/api/v1/favorites/550", None, False),
    ("DELETE", "/api/v1/favorites/550", None, True),
    ("DELETE", "/api/v1/favorites/550", None, True),
    ("DELETE", "/api/v1/favorites/0", None, False),
    ("POST", "/api/v1/watchlist", {"movie_id": 603}, True),
    ("POST", "/api/v1/watchlist", {"movie_id": 603}, True),
    ("POST", "/api/v1/watchlist", {"movie_id": 999}, True),
    ("DELETE", "/api/v1/watchlist/603", None, True),
    ("DELETE", "/api/v1/watchlist/603", None, True),
    ("PUT", "/api/v1/movies/550/rating", {"score": 8.5}, True),
    ("PUT", "/api/v1/movies/550/rating", {"score": 9}, True),
    ("PUT", "/api/v1/movies/550/rating", {"score": 8.3}, False),
    ("PUT", "/api/v1/movies/999/rating", {"score": 8.5}, True),
    ("DELETE", "/api/v1/movies/550/rating", None, True),
    ("DELETE", "/api/v1/movies/550/rating", None, True),
    ("DELETE", "/api/v1/movies/2147483648/rating", None, False),
    ("POST", "/api/v1/me/history", {"movie_id": 550}, True),
    (
        "POST",
        "/api/v1/me/history",
        {"movie_id": 603, "watched_at": "2026-01-01T10:00:00+02:00"},
        True,
    ),
    ("POST", "/api/v1/me/history", {"movie_id": 603, "watched_at": 1767254400}, False),
    ("DELETE", "/api/v1/me/history/603", None, True),
    ("DELETE", "/api/v1/me/history/603", None, True),
]


def _comparable(response: httpx.Response) -> tuple[int, dict[str, str], str]:
    headers = {
        name: value
        for name, value in response.headers.items()
        if name not in ("x-request-id", "date", "content-length")
    }
    body = TIMESTAMP.sub('"<time>"', response.text)
    return response.status_code, headers, body


def test_the_doors_answer_as_the_routes_do(
    clients: tuple[TestClient, TestClient, list[str]], favorites_settings: LibrarySettings
) -> None:
    fast, slow, reached = clients
    fast_user, slow_user = uuid.uuid4(), uuid.uuid4()
    for method, path, body, taken in SCENARIO:
        reached.clear()
        through_door = fast.request(
            method, path, json=body, headers=_vouched(favorites_settings, fast_user)
        )
        through_routes = slow.request(
            method, path, json=body, headers=_vouched(favorites_settings, slow_user)
        )
        assert _comparable(through_door) == _comparable(through_routes), (method, path, body)
        assert through_door.status_code < 500, through_door.text
        assert reached == ([] if taken else [f"{method} {path}"]), (method, path, body)
        if through_door.headers.get("content-type") == "application/json":
            assert TIMESTAMP.search(through_door.text) or body is None, through_door.text


def test_a_caller_with_its_own_token_takes_the_route(
    clients: tuple[TestClient, TestClient, list[str]],
) -> None:
    fast, _, reached = clients
    reached.clear()
    answer = fast.post(
        "/api/v1/favorites", json={"movie_id": 550}, headers={"authorization": "Bearer nonsense"}
    )
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert reached == ["POST /api/v1/favorites"]


def test_a_door_write_commits_its_event_with_the_row(
    clients: tuple[TestClient, TestClient, list[str]],
    favorites_settings: LibrarySettings,
    favorites_engine: Engine,
) -> None:
    fast, _, _ = clients
    user = uuid.uuid4()
    added = fast.post(
        "/api/v1/favorites", json={"movie_id": 603}, headers=_vouched(favorites_settings, user)
    )
    assert added.status_code == 201
    assert added.headers["location"] == "/api/v1/favorites/603"
    with favorites_engine.connect() as connection:
        row = connection.execute(
            text("SELECT movie_id FROM favorite WHERE user_id = :u"), {"u": user}
        ).scalar_one()
        event = connection.execute(
            text("SELECT type FROM outbox_event WHERE convert_from(content, 'UTF8') LIKE :u"),
            {"u": f"%{user}%"},
        ).scalar_one()
    assert (row, event) == (603, "favorite.added")


def test_a_body_over_the_limit_is_refused_at_the_door_as_by_the_routes(
    clients: tuple[TestClient, TestClient, list[str]], favorites_settings: LibrarySettings
) -> None:
    fast, slow, reached = clients
    padding = " " * favorites_settings.max_body_bytes
    content = f'{{"movie_id": 550{padding}}}'.encode()
    headers = _vouched(favorites_settings, uuid.uuid4()) | {"content-type": "application/json"}
    reached.clear()
    answers = [
        client.post("/api/v1/favorites", content=content, headers=headers)
        for client in (fast, slow)
    ]
    assert [answer.status_code for answer in answers] == [413, 413]
    assert _comparable(answers[0]) == _comparable(answers[1])
    chunked = [  # no Content-Length: the limit is met while the door reads the body
        client.post(
            "/api/v1/favorites",
            content=iter([content[:100], content[100:]]),
            headers=headers,
        )
        for client in (fast, slow)
    ]
    assert [answer.status_code for answer in chunked] == [413, 413]
    assert chunked[0].text == chunked[1].text
    # The door leaves the rest of the body unread, so it closes the connection, as the
    # request-context middleware does for any body it refuses.
    assert chunked[0].headers["connection"] == "close"
    assert reached == []
