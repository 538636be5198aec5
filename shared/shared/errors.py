"""RFC 9457 problem+json: the one error shape every service and the gateway answer with."""

import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Host, Match, Mount

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
DEPENDENCY_RETRY_AFTER_S = 5
FASTAPI_UNREADABLE_BODY = "There was an error parsing the body"


class Problem(BaseModel):
    """An error response (RFC 9457)."""

    type: str = Field("about:blank", description="A URI reference naming the problem type")
    title: str = Field(description="Short summary of the problem type")
    status: int = Field(description="The HTTP status code")
    detail: str | None = Field(None, description="What went wrong in this occurrence")
    instance: str | None = Field(None, description="The request path")


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Where the bad value is, e.g. ['body', 'email']")
    msg: str = Field(description="What is wrong with it")


class ValidationProblem(Problem):
    """A 422 response listing each invalid field."""

    errors: list[ValidationIssue]


class ProblemError(Exception):
    """Raise to answer with a problem+json response."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail or title or str(status))
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.headers = headers or {}
        # A 422 lists what is invalid (ValidationProblem); the detail itself when not told.
        if status == 422 and errors is None:
            errors = [{"loc": ["body"], "msg": detail or self.title}]
        self.errors = errors


class DependencyUnavailable(ProblemError):
    """A database, cache, broker or upstream this request needs is down: 503 with Retry-After."""

    def __init__(self, what: str, retry_after_s: int = DEPENDENCY_RETRY_AFTER_S) -> None:
        super().__init__(
            503,
            f"{what} is unavailable, try again shortly",
            headers={"Retry-After": str(retry_after_s)},
        )


def problem_response(
    status: int,
    *,
    detail: str | None = None,
    title: str | None = None,
    instance: str | None = None,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if extra:
        body.update(extra)
    all_headers = dict(headers or {})
    if status == 401:
        all_headers.setdefault("WWW-Authenticate", "Bearer")
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=all_headers
    )


def problem_bytes(status: int, detail: str | None, instance: str | None = None) -> bytes:
    """The serialized body of a plain problem, for code that writes raw ASGI responses."""
    return orjson.dumps(
        {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "instance": instance,
        }
    )


def _validation_issues(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(p) if not isinstance(p, int) else p for p in err.get("loc", ())],
            "msg": err.get("msg", "invalid value"),
        }
        for err in exc.errors()
    ]


def _is_bad_value(exc: Exception) -> bool:
    import sqlalchemy.exc

    return isinstance(exc, sqlalchemy.exc.DataError)


# The SQLSTATE a database raises for a write for an account that was deleted (the library's
# tombstone trigger): the request was let in before the account's tokens were revoked.
FORGOTTEN_ACCOUNT_SQLSTATE = "P0L01"


def is_forgotten_account(exc: BaseException) -> bool:
    """True if `exc` is a database refusing a write for a deleted account."""
    import sqlalchemy.exc

    return (
        isinstance(exc, sqlalchemy.exc.DBAPIError)
        and getattr(exc.orig, "pgcode", None) == FORGOTTEN_ACCOUNT_SQLSTATE
    )


def _is_dependency_outage(exc: Exception) -> str | None:
    """Name the dependency when `exc` means a database, Redis or broker is unreachable."""
    import redis.exceptions
    import sqlalchemy.exc

    if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
        return "The database"
    if isinstance(exc, sqlalchemy.exc.TimeoutError):
        return "The database"
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return "The cache"
    if isinstance(exc, ConnectionError | TimeoutError):
        return "A dependency"
    return None


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """Every method the path takes, asked of its routes (HEAD wherever GET): a router included
    in the app answers for its own routes (it has no `methods` of its own), and a mount, which
    takes any method, does not count."""
    routes = [route for route in request.app.routes if not isinstance(route, Mount | Host)]
    allowed = {
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    }
    if "GET" in allowed:
        allowed.add("HEAD")  # answered as a GET without the body (shared.middleware)
    return sorted(allowed)


def problem_for(exc: Exception, path: str) -> Response:
    """The problem+json answer to an error a route raised: a `ProblemError` as it says, a
    deleted account's write a 401, a value the database refuses a 422, an unreachable
    dependency a 503, anything else a 500 without its traceback (which is logged)."""
    if isinstance(exc, ProblemError):
        return problem_response(
            exc.status,
            detail=exc.detail,
            title=exc.title,
            type_=exc.type,
            instance=path,
            headers=exc.headers,
            extra={"errors": exc.errors} if exc.errors is not None else None,
        )
    if is_forgotten_account(exc):
        return problem_response(
            401,
            detail="This account was deleted",
            instance=path,
            headers={"WWW-Authenticate": "Bearer"},
        )
    if _is_bad_value(exc):
        # A value validation let through that the database refuses: still the client's input.
        logger.warning("database refused a value: %s", type(exc).__name__)
        return problem_response(
            422,
            detail="The request is not valid",
            instance=path,
            extra={"errors": [{"loc": ["body"], "msg": "A value is outside what can be stored"}]},
        )
    if what := _is_dependency_outage(exc):
        logger.warning("dependency unavailable: %s", exc.__class__.__name__)
        return problem_response(
            503,
            detail=f"{what} is unavailable, try again shortly",
            instance=path,
            headers={"Retry-After": str(DEPENDENCY_RETRY_AFTER_S)},
        )
    logger.exception("unhandled error", exc_info=exc)
    return problem_response(500, detail="Internal error", instance=path)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of `app` a problem+json response, and no 5xx carry a traceback."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        return problem_for(exc, request.url.path)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 405:
            # Starlette names only the first route it matched; name every method of the path.
            allowed = _allowed_methods(request)
            return problem_response(
                405,
                detail=detail,
                instance=request.url.path,
                headers={**dict(exc.headers or {}), "Allow": ", ".join(allowed)},
            )
        if exc.status_code == 400:
            # The framework's answer to a body it cannot decode (FastAPI's for JSON, Starlette's
            # for a form, naming what is wrong); the contract says bad bodies are 422.
            if detail == FASTAPI_UNREADABLE_BODY:
                unread = "The body could not be read as JSON"
            else:
                unread = f"The body could not be read: {detail or 'malformed'}"
            return problem_response(
                422,
                detail="The request is not valid",
                instance=request.url.path,
                extra={"errors": [{"loc": ["body"], "msg": unread}]},
            )
        return problem_response(
            exc.status_code,
            detail=detail,
            instance=request.url.path,
            headers=dict(exc.headers or {}),
        )

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(
            422,
            detail="The request is not valid",
            instance=request.url.path,
            extra={"errors": _validation_issues(exc)},
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        return problem_for(exc, request.url.path)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unexpected)


# OpenAPI `responses=` entries, so every route documents the errors it can return;
# `shared.app` moves them to application/problem+json when it builds the schema.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "model": ValidationProblem if status == 422 else Problem,
            "description": HTTPStatus(status).phrase,
        }
        for status in statuses
    }
