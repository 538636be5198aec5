"""The browser client (the repository's `web/`), served on the gateway's own origin: its page
at `/` and its files under `/web/`, so it calls `/api/v1` with no CORS. Every answer carries a
strict Content-Security-Policy (scripts, styles and API calls from this origin only; images
from anywhere, as posters come from TMDb's or the sandbox's image server)."""

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from shared.middleware import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: http: "
        b"https:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-cache"),  # revalidated (ETag) each time: a new release shows at once
]


class _Secured:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_secured)


def web_client(directory: Path) -> ASGIApp:
    index = directory / "index.html"

    async def page(_: Request) -> Response:
        return FileResponse(index, media_type="text/html")

    return _Secured(
        Starlette(
            routes=[
                Route("/", page),
                Mount("/web", StaticFiles(directory=directory), name="web"),
            ]
        )
    )
