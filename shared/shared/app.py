"""The FastAPI application every service starts from: errors, middleware, health, metrics."""

import gc
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from shared.errors import (
    PROBLEM_CONTENT_TYPE,
    Problem,
    ValidationIssue,
    ValidationProblem,
    install_problem_handlers,
)
from shared.logging import configure_logging
from shared.metrics import metrics_endpoint
from shared.middleware import (
    ASGIApp,
    Receive,
    RequestContextMiddleware,
    Scope,
    Send,
    Shortcut,
    SoonShortcut,
)
from shared.runtime import Runtime

API_PREFIX = "/api/v1"  # every service router is created with this prefix


class JsonBodyRequest(Request):
    """A request whose JSON body is read as RFC 8259 JSON (orjson): NaN, Infinity and
    -Infinity, which Python's json module takes, are not JSON, and are refused as a body that
    cannot be read (a 422), as the fast doors' own parser refuses them."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())  # a JSONDecodeError when not JSON
        return self._json


class JsonBodyRoute(APIRoute):
    """The route class of every service router (`service_router`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_json_body(request: Request) -> Response:
            return await handler(JsonBodyRequest(request.scope, request.receive))

        return with_json_body


def service_router(**options: Any) -> APIRouter:
    """An APIRouter whose routes read JSON bodies as JSON (JsonBodyRoute); a service's app
    takes no other kind (create_service_app checks)."""
    return APIRouter(route_class=JsonBodyRoute, **options)


def require_json_body_routes(router: APIRouter) -> None:
    """TypeError for a router with routes made otherwise than by `service_router`."""
    if loose := [route.path for route in router.routes if type(route) is APIRoute]:
        raise TypeError(f"routes not made by shared.app.service_router: {loose}")


def settle_heap() -> None:
    """Move everything built at start-up out of the garbage collector's sight. Full
    collections then walk only what requests allocate: measured, they otherwise stalled a
    request now and then for tens of milliseconds (the p99 under load)."""
    gc.collect()
    gc.freeze()


class ServiceApp(FastAPI):
    """A FastAPI app with a raw ASGI front: the request-id, log and metrics middleware and any
    fast paths run before Starlette's own middleware stack, which a request they answer never
    enters (measured: the stack was a sixth of a cached read's cost)."""

    front: ASGIApp | None = None
    # The front's answers from memory or after one round trip, for a server that writes them
    # itself (shared.protocol).
    answer_at_once: Shortcut | None = None
    answer_soon: SoonShortcut | None = None

    def set_front(self, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
        self.front = wrap(self._framework)
        if isinstance(self.front, RequestContextMiddleware):
            if self.front.shortcut is not None:
                self.answer_at_once = self.front.answer_at_once
            if self.front.soon_shortcut is not None:
                self.answer_soon = self.front.answer_soon

    async def _framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (self.front or self._framework)(scope, receive, send)


def create_service_app(
    runtime: Runtime,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    version: str = "1.0.0",
    inner_middleware: Sequence[tuple[type, dict[str, Any]]] = (),
) -> ServiceApp:
    """`inner_middleware` runs inside the request-id, logging and metrics middleware."""
    settings = runtime.settings
    configure_logging(settings.service_name, settings.log_level)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        settle_heap()
        try:
            yield
        finally:
            await runtime.stop()

    app = ServiceApp(title=title, description=description, version=version, lifespan=lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app)
    for router in routers:
        require_json_body_routes(router)
        app.include_router(router)
    add_operations_routes(app, runtime)

    def front(framework: ASGIApp) -> ASGIApp:
        inner = framework
        for middleware, options in reversed(inner_middleware):
            inner = middleware(inner, **options)
        # An innermost-first chain's outer layer may answer from memory (`shortcut`): the
        # request-context middleware then asks it before anything else.
        return RequestContextMiddleware(
            inner,
            max_body_bytes=settings.max_body_bytes,
            shortcut=getattr(inner, "shortcut", None),
        )

    app.set_front(front)
    install_problem_openapi(app)
    return app


def add_operations_routes(app: FastAPI, runtime: Runtime) -> None:
    async def healthz(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    async def readyz(_: Request) -> Response:
        checks = await runtime.readiness()
        ready = all(state == "ok" for state in checks.values())
        body = {"status": "ready" if ready else "unavailable", "checks": checks}
        headers = {} if ready else {"Retry-After": "5"}
        return Response(
            orjson.dumps(body),
            status_code=200 if ready else 503,
            media_type="application/json",
            headers=headers,
        )

    app.add_route("/healthz", healthz, include_in_schema=False)
    app.add_route("/readyz", readyz, include_in_schema=False)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)


def install_problem_openapi(app: FastAPI) -> None:
    """Document every error response as application/problem+json with the Problem schemas."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        rewrite_error_responses(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def rewrite_error_responses(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, ValidationIssue, ValidationProblem):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        model_schema.pop("$defs", None)
        components[model.__name__] = model_schema
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                if not str(status).isdigit() or int(status) < 400:
                    continue
                name = "ValidationProblem" if str(status) == "422" else "Problem"
                response["content"] = {
                    PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"#/components/schemas/{name}"}}
                }
