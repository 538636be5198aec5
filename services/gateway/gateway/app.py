"""The gateway application: the proxy in front; docs, health and the browser client behind
it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from gateway.config import GatewaySettings, settings
from gateway.openapi import OpenApiMerger
from gateway.proxy import GatewayProxy
from gateway.web import web_client
from shared.app import settle_heap
from shared.errors import install_problem_handlers
from shared.lifecycle import Deadline, log_abandoned, within
from shared.logging import configure_logging
from shared.metrics import metrics_endpoint
from shared.middleware import ASGIApp, RequestContextMiddleware
from shared.redis import make_redis, warn_if_evicting
from shared.security import COPY_COMPLETE_KEY


async def _check_service(session: aiohttp.ClientSession, url: str, timeout_s: float) -> str:
    try:
        async with session.get(
            f"{url}/readyz", timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as r:
            if r.status == 200:
                return "ok"
            body = await r.json(content_type=None)
            down = [k for k, v in (body.get("checks") or {}).items() if v != "ok"]
            return f"not ready: {', '.join(down) or r.status}"
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return f"unavailable: {type(exc).__name__}"


def create_app(app_settings: GatewaySettings = settings) -> ASGIApp:
    configure_logging(app_settings.service_name, app_settings.log_level)
    redis = make_redis(app_settings.cache_redis)
    security_redis = make_redis(app_settings.security_redis)
    merger = OpenApiMerger(
        upstreams=app_settings.service_urls(), cache_s=app_settings.openapi_cache_s
    )
    proxy: GatewayProxy

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await warn_if_evicting(security_redis)
        await proxy.start()
        settle_heap()
        try:
            yield
        finally:
            deadline = Deadline(app_settings.lifespan_shutdown_s)
            abandoned = await proxy.stop(deadline.left() / 2)
            for name, client in (("redis", redis), ("security redis", security_redis)):
                if not await within(client.aclose(), deadline.step(), what=f"{name} close"):
                    abandoned.append(name)
            log_abandoned(abandoned)

    ops = FastAPI(
        title="Gateway", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
    )
    install_problem_handlers(ops)

    async def healthz(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    async def readyz(_: Request) -> Response:
        assert proxy.session is not None
        names = list(app_settings.service_urls())
        results = await asyncio.gather(
            _redis_state(redis),
            _security_state(security_redis),
            *(
                _check_service(
                    proxy.session, app_settings.service_urls()[n], app_settings.readiness_timeout_s
                )
                for n in names
            ),
        )
        checks: dict[str, Any] = {
            "redis": results[0],
            "security_redis": results[1],
            **dict(zip(names, results[2:], strict=True)),
        }
        ready = all(state == "ok" for state in checks.values())
        body = {"status": "ready" if ready else "unavailable", "checks": checks}
        return Response(
            orjson.dumps(body),
            status_code=200 if ready else 503,
            media_type="application/json",
            headers={} if ready else {"Retry-After": "5"},
        )

    async def openapi_json(_: Request) -> Response:
        assert proxy.session is not None
        return Response(
            orjson.dumps(await merger.document(proxy.session)), media_type="application/json"
        )

    async def docs(_: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Movie discovery API",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    async def oauth2_redirect(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    ops.add_route("/healthz", healthz, include_in_schema=False)
    ops.add_route("/readyz", readyz, include_in_schema=False)
    ops.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    ops.add_route("/openapi.json", openapi_json, include_in_schema=False)
    ops.add_route("/docs", docs, include_in_schema=False)
    ops.add_route("/docs/oauth2-redirect", oauth2_redirect, include_in_schema=False)
    if (app_settings.web_dir / "index.html").is_file():
        ops.mount("/", web_client(app_settings.web_dir))

    proxy = GatewayProxy(
        fallback=ops, settings=app_settings, redis=redis, security_redis=security_redis
    )
    return RequestContextMiddleware(
        proxy,
        max_body_bytes=app_settings.max_body_bytes,
        shortcut=proxy.answer_at_once,
        soon_shortcut=proxy.answer_soon,
    )


async def _redis_state(redis: Any) -> str:
    try:
        async with asyncio.timeout(2.0):
            await redis.ping()
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


async def _security_state(redis: Any) -> str:
    """ "ok" when the revocation copy can be trusted; "rebuilding" while auth restores it."""
    try:
        async with asyncio.timeout(2.0):
            complete = await redis.exists(COPY_COMPLETE_KEY)
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok" if complete else "rebuilding"
