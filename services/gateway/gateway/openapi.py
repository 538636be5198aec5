"""The merged OpenAPI of the whole public API, built from each service's own schema."""

import asyncio
import logging
import time
from copy import deepcopy
from typing import Any

import aiohttp

from gateway.routes import Access, match
from shared.app import rewrite_error_responses

logger = logging.getLogger(__name__)

SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "oauth2Password": {
        "type": "oauth2",
        "flows": {"password": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}},
    },
}
GATEWAY_ERRORS = {
    "401": "Missing, invalid, expired or revoked access token",
    "413": "Request body too large",
    "429": "Rate limit exceeded",
    "502": "The owning service answered badly",
    "503": "A service or dependency is unavailable",
    "504": "The owning service did not answer in time",
}
BODY_METHODS = {"post", "put", "patch"}


class OpenApiMerger:
    def __init__(
        self, *, upstreams: dict[str, str], cache_s: float, timeout_s: float = 3.0
    ) -> None:
        self.upstreams = upstreams
        self.cache_s = cache_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._cached: dict[str, Any] | None = None
        self._cached_until = 0.0
        self._lock = asyncio.Lock()

    async def document(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        async with self._lock:
            if self._cached is not None and time.monotonic() < self._cached_until:
                return self._cached
            parts = await asyncio.gather(
                *(self._fetch(session, name, url) for name, url in self.upstreams.items())
            )
            complete = all(part is not None for part in parts)
            merged = merge([part for part in parts if part is not None])
            self._cached = merged
            self._cached_until = time.monotonic() + (self.cache_s if complete else 5.0)
            return merged

    async def _fetch(
        self, session: aiohttp.ClientSession, name: str, url: str
    ) -> dict[str, Any] | None:
        try:
            async with session.get(f"{url}/openapi.json", timeout=self.timeout) as response:
                response.raise_for_status()
                document: dict[str, Any] = await response.json()
                return document
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("OpenAPI of %s unavailable: %s", name, type(exc).__name__)
            return None


def merge(documents: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Movie discovery API",
            "version": "1.0.0",
            "description": "The public API of the movie-discovery backend. Errors are "
            "application/problem+json (RFC 9457); every response carries X-Request-ID.",
        },
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": SECURITY_SCHEMES},
    }
    for document in documents:
        for path, item in document.get("paths", {}).items():
            if path.startswith("/api/v1/"):
                merged["paths"][path] = deepcopy(item)
        merged["components"]["schemas"].update(document.get("components", {}).get("schemas", {}))
    for path, item in merged["paths"].items():
        route = match(path.replace("{", "x").replace("}", "x"))
        for method, operation in item.items():
            _add_gateway_behaviour(operation, method, route.access if route else Access.PUBLIC)
    rewrite_error_responses(merged)
    return merged


def _add_gateway_behaviour(operation: dict[str, Any], method: str, access: Access) -> None:
    responses = operation.setdefault("responses", {})
    statuses = ["429", "502", "503", "504"]
    if access is not Access.PUBLIC:
        statuses.append("401")
    if method in BODY_METHODS:
        statuses.append("413")
    for status in statuses:
        responses.setdefault(status, {"description": GATEWAY_ERRORS[status]})
    if access is Access.REQUIRED:
        operation["security"] = [{"bearerAuth": []}, {"oauth2Password": []}]
    elif access is Access.OPTIONAL:
        operation["security"] = [{"bearerAuth": []}, {}]
    parameters = operation.setdefault("parameters", [])
    if not any(p.get("name", "").lower() == "x-request-id" for p in parameters):
        parameters.append(
            {
                "name": "X-Request-ID",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "Echoed back when it is up to 128 printable characters without"
                " spaces; otherwise, or when absent, a new one is generated",
            }
        )
