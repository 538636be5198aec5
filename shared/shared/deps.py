"""FastAPI dependencies every service uses: runtime, DB session, Redis and the caller."""

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlmodel import Session

from shared.errors import DependencyUnavailable, ProblemError
from shared.runtime import Runtime
from shared.security import (
    CLIENT_IP_HEADER,
    INTERNAL_TOKEN_HEADER,
    USER_ID_HEADER,
    InvalidToken,
    Principal,
    bearer_token,
    internal_token_valid,
    principal_named_by_gateway,
    verify_access_token,
)
from shared.threads import run_sync


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[Session]:
    """A session for one request, used by the route in its worker-thread calls (`run_sync`).
    Made here, where it costs nothing (it connects on first use), and closed in a worker
    thread only when it holds a connection: a sync dependency crossed threads twice."""
    assert runtime.engine is not None, "this service has no database"
    session = Session(runtime.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_sync(session.close)
        else:
            session.close()


async def get_engine(runtime: RuntimeDep) -> Engine:
    """The engine, for routes that open their session in the worker thread (`in_session`)."""
    assert runtime.engine is not None, "this service has no database"
    return runtime.engine


async def get_redis(runtime: RuntimeDep) -> Redis:
    return runtime.redis


SessionDep = Annotated[Session, Depends(get_session)]
EngineDep = Annotated[Engine, Depends(get_engine)]
RedisDep = Annotated[Redis, Depends(get_redis)]


def from_gateway(request: Request, runtime: Runtime) -> bool:
    """True when the gateway vouches for this request with the internal shared secret."""
    return internal_token_valid(
        request.headers.get(INTERNAL_TOKEN_HEADER), runtime.settings.internal_secret
    )


async def require_internal(request: Request, runtime: RuntimeDep) -> None:
    """For /internal routes: only callers holding the internal secret (gateway, services)."""
    if not from_gateway(request, runtime):
        raise ProblemError(403, "Internal endpoint")


InternalOnly = Depends(require_internal)


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, detail, headers={"WWW-Authenticate": "Bearer"})


def _principal_from_gateway(request: Request) -> Principal:
    principal = principal_named_by_gateway(request.headers)
    if principal is None:
        raise _unauthorized("Authentication required")
    return principal


async def _verified_principal(request: Request, runtime: Runtime) -> Principal | None:
    if from_gateway(request, runtime) and USER_ID_HEADER in request.headers:
        return _principal_from_gateway(request)
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return None
    settings = runtime.settings
    try:
        return await verify_access_token(
            token,
            secret=settings.jwt_secret,
            algorithm=settings.jwt_algorithm,
            redis=runtime.security_redis,
        )
    except InvalidToken as exc:
        raise _unauthorized("The access token is invalid, expired or revoked") from exc
    except RedisError as exc:
        raise DependencyUnavailable("Token verification") from exc


async def current_principal(request: Request, runtime: RuntimeDep) -> Principal:
    principal = await _verified_principal(request, runtime)
    if principal is None:
        raise _unauthorized("Authentication required")
    return principal


async def optional_principal(request: Request, runtime: RuntimeDep) -> Principal | None:
    return await _verified_principal(request, runtime)


async def client_ip(request: Request, runtime: RuntimeDep) -> str:
    if from_gateway(request, runtime) and (forwarded := request.headers.get(CLIENT_IP_HEADER)):
        return forwarded
    return request.client.host if request.client else "unknown"


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
ClientIp = Annotated[str, Depends(client_ip)]


def path_id(what: str) -> Any:
    """A `{what}_id` in the path, a UUID: one that is not names nothing here, so it is a 404
    as an unknown one is (not a 422: clients following links get the same answer)."""

    async def parse(
        raw: Annotated[
            str, Path(alias=f"{what}_id", max_length=100, description=f"The {what}'s id")
        ],
    ) -> uuid.UUID:
        try:
            return uuid.UUID(raw)
        except ValueError as exc:
            raise ProblemError(404, f"No such {what}") from exc

    return Depends(parse)
