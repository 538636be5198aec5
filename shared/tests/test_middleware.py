"""Request ids, the body limit and problem+json for every kind of error."""

import io
import logging
from typing import Annotated

import httpx
import orjson
import pytest
import sqlalchemy.exc
from fastapi import APIRouter, FastAPI, Form
from pydantic import BaseModel

import shared.logging as logging_module
from shared.context import request_id_var
from shared.errors import install_problem_handlers
from shared.logging import AccessLog
from shared.metrics import HTTP_REQUEST_DURATION
from shared.middleware import Message, Receive, RequestContextMiddleware, Response, Scope, Send


class Item(BaseModel):
    name: str
    count: int


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/items")
    async def create(item: Item) -> Item:
        return item

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    @app.get("/db-refuses")
    async def db_refuses() -> None:
        raise sqlalchemy.exc.DataError(
            "INSERT", {}, Exception("time zone displacement out of range")
        )

    @app.get("/db-down")
    async def db_down() -> None:
        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    @app.post("/uploads")
    async def upload(name: Annotated[str, Form()]) -> dict[str, str]:
        return {"name": name}

    @app.get("/items")
    async def list_items() -> list[Item]:
        return []

    @app.get("/items/{item_id}")
    async def read(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app.add_middleware(RequestContextMiddleware, max_body_bytes=1024)
    return app


@pytest.fixture
def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_request_id_is_generated(client: httpx.AsyncClient) -> None:
    response = await client.get("/items/1")
    assert len(response.headers["x-request-id"]) == 32


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/items/1", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


async def test_unprintable_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/items/1", headers={"X-Request-ID": "a" * 500})
    assert response.headers["x-request-id"] != "a" * 500


async def test_a_non_ascii_request_id_is_replaced_not_mangled(client: httpx.AsyncClient) -> None:
    for raw in ("café-1".encode(), "İd".encode(), b"tab\there"):
        response = await client.get("/items/1", headers=[(b"X-Request-ID", raw)])
        echoed = response.headers.raw[
            [k.lower() for k, _ in response.headers.raw].index(b"x-request-id")
        ][1]
        assert len(echoed) == 32 and echoed.isascii(), echoed  # a fresh id, not mojibake


async def test_validation_error_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", json={"name": "x", "count": "many"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422
    assert body["instance"] == "/items"
    assert body["errors"][0]["loc"] == ["body", "count"]


async def test_undecodable_body_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/items", content=b"\xff\x11%{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"loc": ["body"], "msg": "The body could not be read as JSON"}
    ]


async def test_broken_multipart_is_422_naming_what_is_wrong(client: httpx.AsyncClient) -> None:
    boundary = "7c5156fb04a2177cf9e322ad31ebde44"
    response = await client.post(
        "/uploads",
        content=f"--{boundary}\r\nNone--{boundary}--\r\n".encode(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"loc": ["body"], "msg": "The body could not be read: Invalid multipart data."}
    ]
    fine = await client.post("/uploads", files={"name": (None, "x")})
    assert fine.status_code == 200 and fine.json() == {"name": "x"}


async def test_declared_body_over_limit_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/items", content=b"x" * 2048, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_streamed_body_over_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks():  # no content-length: the limit must count the bytes
        for _ in range(10):
            yield b"x" * 512

    response = await client.post(
        "/items", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_unhandled_error_is_500_without_traceback(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert response.json()["title"] == "Internal Server Error"


async def test_a_value_the_database_refuses_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/db-refuses")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_database_outage_is_503_with_retry_after(client: httpx.AsyncClient) -> None:
    response = await client.get("/db-down")
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_route_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_method_not_allowed_names_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    response = await client.delete("/items")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == "GET, HEAD, POST"


async def test_head_is_answered_as_a_get_without_the_body(client: httpx.AsyncClient) -> None:
    got, head = await client.get("/items/7"), await client.head("/items/7")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers["x-request-id"]
    assert (await client.head("/nothing-here")).status_code == 404


async def test_method_not_allowed_names_the_methods_of_an_included_router() -> None:
    """As every service's routes are: a router included in the app, with a prefix."""
    router = APIRouter(prefix="/api/v1")

    @router.get("/things")
    async def things() -> list[int]:
        return []

    @router.post("/things")
    async def add_thing() -> int:
        return 1

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.put("/api/v1/things")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"


def test_an_answer_at_once_carries_the_request_id_and_is_logged_and_timed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="access")
    stream = io.BytesIO()
    previous, logging_module._access_log = logging_module._access_log, AccessLog("svc", stream)
    memory: Response = (200, [(b"content-length", b"2")], b"{}")
    middleware = RequestContextMiddleware(
        _app(),
        max_body_bytes=1024,
        shortcut=lambda scope: memory if scope["path"] == "/m" else None,
    )

    def scope(path: str, *headers: tuple[bytes, bytes]) -> dict[str, object]:
        return {"type": "http", "method": "GET", "path": path, "headers": list(headers)}

    before = HTTP_REQUEST_DURATION.labels("unmatched", "GET", "200")._sum.get()
    try:
        answer = middleware.answer_at_once(scope("/m", (b"x-request-id", b"abc-1")))
        assert answer == (200, [(b"content-length", b"2"), (b"x-request-id", b"abc-1")], b"{}")
        generated = middleware.answer_at_once(scope("/m"))
        assert generated is not None and len(dict(generated[1])[b"x-request-id"]) == 32
        # a body to read, or a path the shortcut does not know: the app's
        assert middleware.answer_at_once(scope("/m", (b"content-length", b"2"))) is None
        assert middleware.answer_at_once(scope("/other")) is None
        logging_module._access_log.flush()  # type: ignore[union-attr]
    finally:
        logging_module._access_log = previous
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["msg"], line.get("request_id")) for line in lines[:1]] == [
        ("GET /m 200", "abc-1")
    ]
    assert len(lines) == 2
    assert HTTP_REQUEST_DURATION.labels("unmatched", "GET", "200")._sum.get() > before


async def test_an_answer_soon_carries_the_request_id_and_one_left_to_the_app_keeps_it() -> None:
    """The request id is set while the shortcut reads (its logs carry it); a request it leaves
    to the app after its read goes through with the same id."""
    seen_ids: list[str | None] = []

    async def read(path: str) -> Response | None:
        seen_ids.append(request_id_var.get())
        return (200, [(b"content-length", b"2")], b"{}") if path == "/page" else None

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen_ids.append(request_id_var.get())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = RequestContextMiddleware(
        app,
        max_body_bytes=1024,
        soon_shortcut=lambda scope: read(scope["path"]) if scope["path"] != "/other" else None,
    )

    def scope(path: str, *headers: tuple[bytes, bytes]) -> Scope:
        return {"type": "http", "method": "GET", "path": path, "headers": list(headers)}

    pending = middleware.answer_soon(scope("/page", (b"x-request-id", b"abc-2")))
    assert pending is not None
    assert await pending == (200, [(b"content-length", b"2"), (b"x-request-id", b"abc-2")], b"{}")
    assert seen_ids == ["abc-2"]

    left = scope("/miss")
    pending = middleware.answer_soon(left)
    assert pending is not None and await pending is None
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(left, receive, send)
    given = dict(sent[0]["headers"])[b"x-request-id"].decode()
    assert seen_ids[1:] == [given, given] and len(given) == 32
    # a body to read, or a request the shortcut does not take: the app's at once
    assert middleware.answer_soon(scope("/page", (b"content-length", b"2"))) is None
    assert middleware.answer_soon(scope("/other")) is None


def _json_body_app() -> FastAPI:
    from shared.app import service_router

    router = service_router(prefix="/api/v1")

    @router.post("/scores")
    async def score(item: Item) -> Item:
        return item

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    return app


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "x", "count": NaN}',
        b'{"name": "x", "count": Infinity}',
        b'{"name": "x", "count": -Infinity}',
        b'{"name": "\xff", "count": 1}',
        b"{",
    ],
)
async def test_a_service_route_reads_only_json_as_json(body: bytes) -> None:
    """NaN and Infinity are not JSON (Python's json module takes them): a 422 at the body,
    as for any body that is not JSON."""
    transport = httpx.ASGITransport(app=_json_body_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.post(
            "/api/v1/scores", content=body, headers={"content-type": "application/json"}
        )
        taken = await client.post("/api/v1/scores", json={"name": "é", "count": 3})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"][0]["loc"][0] == "body"
    assert len(refused.json()["errors"]) == 1  # the body, not a field's bound
    assert (taken.status_code, taken.json()) == (200, {"name": "é", "count": 3})


def test_a_service_takes_only_routes_that_read_json_as_json() -> None:
    from shared.app import require_json_body_routes, service_router

    plain, served = APIRouter(), service_router()

    for router in (plain, served):

        @router.post("/scores")
        async def score(item: Item) -> Item:
            return item

    with pytest.raises(TypeError, match="/scores"):
        require_json_body_routes(plain)
    require_json_body_routes(served)
