"""shared.fastroutes: which requests the door answers, and that everything else reaches the
framework as it came (its body included)."""

import logging
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError

from shared.errors import ProblemError
from shared.fastroutes import NO_CONTENT, Answer, Call, FastRoute, FastRoutes, json_answer
from shared.middleware import Message, Scope

SECRET = "internal-secret-for-tests"
USER = uuid.uuid4()
VOUCHED = [
    (b"x-internal-token", SECRET.encode()),
    (b"x-user-id", str(USER).encode()),
    (b"x-session-id", b"session"),
    (b"x-token-id", b"token"),
    (b"x-token-expires-at", b"1900000000"),
]
JSON = [(b"content-type", b"application/json")]


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    movie_id: int = Field(gt=0)


class Framework:
    """The app behind the door: records what reached it, with the body it read."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.seen.append((scope["path"], body))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"framework"})


def routes(raises: Exception | None = None) -> tuple[list[Call], list[FastRoute]]:
    calls: list[Call] = []

    async def add(call: Call) -> Answer:
        calls.append(call)
        if raises is not None:
            raise raises
        return json_answer(201, call.body, [(b"location", b"/items/1")])

    async def remove(call: Call) -> Answer:
        calls.append(call)
        return NO_CONTENT

    return calls, [
        FastRoute("POST", "/api/v1/items", add, Item),
        FastRoute("DELETE", "/api/v1/items/{item_id}/mark", remove),
    ]


async def request(
    door: FastRoutes,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    chunks: Sequence[bytes] = (b"",),
    *,
    disconnect: bool = False,
) -> tuple[list[Message], Scope]:
    messages: list[Message] = (
        [{"type": "http.disconnect"}]
        if disconnect
        else [
            {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
            for index, chunk in enumerate(chunks)
        ]
    )
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    await door(scope, receive, send)
    return sent, scope


async def test_a_vouched_write_with_a_valid_body_is_answered_at_the_door() -> None:
    framework = Framework()
    calls, fast = routes()
    door = FastRoutes(framework, routes=fast, internal_secret=SECRET)
    sent, scope = await request(
        door, "POST", "/api/v1/items", VOUCHED + JSON, [b'{"movie_', b'id": 7}']
    )
    assert framework.seen == []
    assert calls[0].principal.user_id == USER and calls[0].body == Item(movie_id=7)
    assert sent[0]["status"] == 201
    assert dict(sent[0]["headers"]) == {
        b"content-type": b"application/json",
        b"location": b"/items/1",
        b"content-length": b"14",
    }
    assert sent[1]["body"] == b'{"movie_id":7}'
    assert scope["route_template"] == "/api/v1/items"

    sent, scope = await request(door, "DELETE", "/api/v1/items/2147483647/mark", VOUCHED)
    assert calls[1].path_id == 2**31 - 1 and calls[1].body is None
    assert sent[0]["status"] == 204 and sent[1]["body"] == b""
    assert scope["route_template"] == "/api/v1/items/{item_id}/mark"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ([h for h in VOUCHED if h[0] != b"x-internal-token"] + JSON, b'{"movie_id": 7}'),
        ([(b"x-internal-token", b"guess"), *VOUCHED[1:], *JSON], b'{"movie_id": 7}'),
        ([h for h in VOUCHED if h[0] != b"x-user-id"] + JSON, b'{"movie_id": 7}'),
        ([*VOUCHED[:1], (b"x-user-id", b"not-a-uuid"), *VOUCHED[2:], *JSON], b"{}"),
        ([*VOUCHED[:4], (b"x-token-expires-at", b"soon"), *JSON], b'{"movie_id": 7}'),
        (VOUCHED, b'{"movie_id": 7}'),  # no content type
        ([*VOUCHED, (b"content-type", b"text/plain")], b'{"movie_id": 7}'),
        (VOUCHED + JSON, b'{"movie_id": "seven"}'),
        (VOUCHED + JSON, b'{"movie_id": 7, "extra": 1}'),
        (VOUCHED + JSON, b'{"movie_id": 0}'),
        (VOUCHED + JSON, b"[7]"),
        (VOUCHED + JSON, b"{not json"),
        (VOUCHED + JSON, b"NaN"),
        (VOUCHED + JSON, b""),
    ],
)
async def test_anything_the_door_does_not_take_reaches_the_framework_with_its_body(
    headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    framework = Framework()
    calls, fast = routes()
    door = FastRoutes(framework, routes=fast, internal_secret=SECRET)
    sent, scope = await request(door, "POST", "/api/v1/items", headers, [body[:3], body[3:]])
    assert calls == []
    assert framework.seen == [("/api/v1/items", body)]
    assert sent[0]["status"] == 299
    assert "route_template" not in scope


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/v1/items/007/mark"),
        ("DELETE", "/api/v1/items/0/mark"),
        ("DELETE", "/api/v1/items/2147483648/mark"),
        ("DELETE", "/api/v1/items/-1/mark"),
        ("DELETE", "/api/v1/items/١٢/mark"),
        ("DELETE", "/api/v1/items//mark"),
        ("DELETE", "/api/v1/items/7/mark/more"),
        ("DELETE", "/api/v1/items/7"),
        ("GET", "/api/v1/items/7/mark"),
        ("PUT", "/api/v1/items"),
        ("POST", "/api/v1/items/"),
    ],
)
async def test_other_paths_and_methods_reach_the_framework(method: str, path: str) -> None:
    framework = Framework()
    calls, fast = routes()
    door = FastRoutes(framework, routes=fast, internal_secret=SECRET)
    sent, _ = await request(door, method, path, VOUCHED + JSON, [b'{"movie_id": 7}'])
    assert calls == [] and sent[0]["status"] == 299


@pytest.mark.parametrize(
    ("error", "status", "header"),
    [
        (ProblemError(404, "No movie with this id"), 404, None),
        (OperationalError("SELECT 1", {}, Exception("gone")), 503, (b"retry-after", b"5")),
        (RuntimeError("a bug"), 500, None),
    ],
)
async def test_an_answer_that_fails_is_the_apps_problem_answer(
    error: Exception,
    status: int,
    header: tuple[bytes, bytes] | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    framework = Framework()
    _, fast = routes(raises=error)
    door = FastRoutes(framework, routes=fast, internal_secret=SECRET)
    with caplog.at_level(logging.WARNING):
        sent, _ = await request(door, "POST", "/api/v1/items", VOUCHED + JSON, [b'{"movie_id":7}'])
    assert framework.seen == [], "a request the door took is never run twice"
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == status
    assert headers[b"content-type"] == b"application/problem+json"
    assert headers[b"content-length"] == str(len(sent[1]["body"])).encode()
    assert list(sent[0]["headers"]).count((b"content-length", headers[b"content-length"])) == 1
    assert header is None or header in sent[0]["headers"]
    assert b'"instance":"/api/v1/items"' in sent[1]["body"]
    if status == 500:
        assert b"a bug" not in sent[1]["body"]
        assert "unhandled error" in caplog.text


async def test_a_client_gone_before_its_body_gets_no_answer() -> None:
    framework = Framework()
    calls, fast = routes()
    door = FastRoutes(framework, routes=fast, internal_secret=SECRET)
    sent, _ = await request(door, "POST", "/api/v1/items", VOUCHED + JSON, disconnect=True)
    assert sent == [] and calls == [] and framework.seen == []
