"""The public route table: which service answers a path, and whether it needs a token."""

import re
from dataclasses import dataclass
from enum import Enum

from shared.pagecache import CACHED_PAGES, CachedPages

ID = r"[^/]+"


class Access(Enum):
    PUBLIC = "public"  # no token looked at
    OPTIONAL = "optional"  # a token is checked if present
    REQUIRED = "required"


@dataclass(frozen=True, slots=True)
class Route:
    template: str
    service: str
    access: Access
    pattern: re.Pattern[str]
    streaming: bool = False  # a long-lived response (server-sent events): no total timeout
    # A GET whose pages the owning service keeps in Redis (shared.pagecache.CACHED_PAGES):
    # the gateway answers a cached page itself.
    user_pages: CachedPages | None = None


def _route(
    template: str,
    service: str,
    access: Access,
    *,
    streaming: bool = False,
) -> Route:
    regex = re.sub(r"\{[a-z_]+\}", ID, template)
    pages = next((cached for cached in CACHED_PAGES if cached.path == template), None)
    if pages is not None and pages.owner != service:
        raise ValueError(f"{template}: its pages are {pages.owner}'s, not {service}'s")
    return Route(template, service, access, re.compile(f"^{regex}$"), streaming, pages)


# First match wins: specific paths before the {movie_id} catch-alls.
ROUTES: tuple[Route, ...] = (
    _route("/api/v1/auth/register", "auth", Access.PUBLIC),
    _route("/api/v1/auth/login", "auth", Access.PUBLIC),
    _route("/api/v1/auth/token", "auth", Access.PUBLIC),
    _route("/api/v1/auth/refresh", "auth", Access.PUBLIC),
    _route("/api/v1/auth/logout", "auth", Access.REQUIRED),
    _route("/api/v1/me", "auth", Access.REQUIRED),
    _route("/api/v1/me/password", "auth", Access.REQUIRED),
    _route("/api/v1/me/export", "auth", Access.REQUIRED),
    _route("/api/v1/me/delete", "auth", Access.REQUIRED),
    _route("/api/v1/me/ratings", "library", Access.REQUIRED),
    _route("/api/v1/me/imports", "library", Access.REQUIRED),
    _route("/api/v1/me/calendar", "library", Access.REQUIRED),
    _route("/api/v1/me/webhooks", "notifications", Access.REQUIRED),
    _route("/api/v1/me/webhooks/{webhook_id}", "notifications", Access.REQUIRED),
    _route("/api/v1/me/webhooks/{webhook_id}/test", "notifications", Access.REQUIRED),
    _route("/api/v1/me/webhooks/{webhook_id}/deliveries", "notifications", Access.REQUIRED),
    _route("/api/v1/me/imports/{import_id}", "library", Access.REQUIRED),
    _route("/api/v1/me/history", "library", Access.REQUIRED),
    _route("/api/v1/me/history/{movie_id}", "library", Access.REQUIRED),
    _route("/api/v1/movies/trending", "catalog", Access.OPTIONAL),
    _route("/api/v1/movies/popular", "catalog", Access.OPTIONAL),
    _route("/api/v1/movies/top-rated", "catalog", Access.OPTIONAL),
    _route("/api/v1/movies/upcoming", "catalog", Access.OPTIONAL),
    _route("/api/v1/movies/now-playing", "catalog", Access.OPTIONAL),
    _route("/api/v1/movies/discover", "catalog", Access.OPTIONAL),
    _route("/api/v1/movies/search", "catalog", Access.OPTIONAL),
    _route("/api/v1/movies/{movie_id}", "catalog", Access.OPTIONAL),
    _route("/api/v1/movies/{movie_id}/similar", "catalog", Access.OPTIONAL),
    _route("/api/v1/movies/{movie_id}/recommendations", "catalog", Access.OPTIONAL),
    _route("/api/v1/people/{person_id}", "catalog", Access.OPTIONAL),
    _route("/api/v1/people/{person_id}/movies", "catalog", Access.OPTIONAL),
    _route("/api/v1/search", "catalog", Access.OPTIONAL),
    _route("/api/v1/movies/{movie_id}/rating", "library", Access.REQUIRED),
    _route("/api/v1/movies/{movie_id}/me", "library", Access.REQUIRED),
    _route("/api/v1/movies/{movie_id}/not-interested", "library", Access.REQUIRED),
    # Reading reviews is public; writing them needs a token, which the service enforces.
    _route("/api/v1/movies/{movie_id}/reviews", "library", Access.OPTIONAL),
    _route("/api/v1/reviews/{review_id}", "library", Access.REQUIRED),
    _route("/api/v1/genres", "catalog", Access.OPTIONAL),
    _route("/api/v1/favorites", "library", Access.REQUIRED),
    _route("/api/v1/favorites/{movie_id}", "library", Access.REQUIRED),
    _route("/api/v1/watchlist", "library", Access.REQUIRED),
    _route("/api/v1/watchlist/{movie_id}", "library", Access.REQUIRED),
    _route("/api/v1/lists", "library", Access.REQUIRED),
    # A public list is read without a token; a change needs one, which the service enforces.
    _route("/api/v1/lists/{list_id}", "library", Access.OPTIONAL),
    _route("/api/v1/lists/{list_id}/items", "library", Access.OPTIONAL),
    _route("/api/v1/lists/{list_id}/items/{movie_id}", "library", Access.REQUIRED),
    _route("/api/v1/lists/{list_id}/order", "library", Access.REQUIRED),
    _route("/api/v1/lists/{list_id}/export.csv", "library", Access.OPTIONAL),
    _route("/api/v1/users/{user_id}/lists", "library", Access.PUBLIC),
    _route("/api/v1/recommendations", "recommendations", Access.REQUIRED),
    _route("/api/v1/notifications", "notifications", Access.REQUIRED),
    _route("/api/v1/notifications/read-all", "notifications", Access.REQUIRED),
    _route("/api/v1/notifications/stream", "notifications", Access.REQUIRED, streaming=True),
    _route("/api/v1/notifications/{notification_id}/read", "notifications", Access.REQUIRED),
)

_EXACT = {route.template: route for route in ROUTES if "{" not in route.template}


def match(path: str) -> Route | None:
    if route := _EXACT.get(path):
        return route
    for route in ROUTES:
        if route.pattern.match(path):
            return route
    return None
