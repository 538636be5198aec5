"""The route table sends each public path to its owner with the right access rule."""

import pytest

from gateway.ratelimit import window_key
from gateway.routes import Access, match


@pytest.mark.parametrize(
    ("path", "service", "access", "template"),
    [
        ("/api/v1/auth/login", "auth", Access.PUBLIC, "/api/v1/auth/login"),
        ("/api/v1/auth/logout", "auth", Access.REQUIRED, "/api/v1/auth/logout"),
        ("/api/v1/me", "auth", Access.REQUIRED, "/api/v1/me"),
        ("/api/v1/me/password", "auth", Access.REQUIRED, "/api/v1/me/password"),
        ("/api/v1/movies/trending", "catalog", Access.OPTIONAL, "/api/v1/movies/trending"),
        ("/api/v1/movies/search", "catalog", Access.OPTIONAL, "/api/v1/movies/search"),
        ("/api/v1/movies/550", "catalog", Access.OPTIONAL, "/api/v1/movies/{movie_id}"),
        (
            "/api/v1/movies/550/similar",
            "catalog",
            Access.OPTIONAL,
            "/api/v1/movies/{movie_id}/similar",
        ),
        ("/api/v1/genres", "catalog", Access.OPTIONAL, "/api/v1/genres"),
        ("/api/v1/favorites", "library", Access.REQUIRED, "/api/v1/favorites"),
        ("/api/v1/favorites/550", "library", Access.REQUIRED, "/api/v1/favorites/{movie_id}"),
        ("/api/v1/recommendations", "recommendations", Access.REQUIRED, "/api/v1/recommendations"),
        ("/api/v1/me/ratings", "library", Access.REQUIRED, "/api/v1/me/ratings"),
        ("/api/v1/me/history/5", "library", Access.REQUIRED, "/api/v1/me/history/{movie_id}"),
        (
            "/api/v1/movies/5/rating",
            "library",
            Access.REQUIRED,
            "/api/v1/movies/{movie_id}/rating",
        ),
        (
            "/api/v1/movies/5/reviews",
            "library",
            Access.OPTIONAL,
            "/api/v1/movies/{movie_id}/reviews",
        ),
        ("/api/v1/reviews/abc", "library", Access.REQUIRED, "/api/v1/reviews/{review_id}"),
    ],
)
def test_match(path: str, service: str, access: Access, template: str) -> None:
    route = match(path)
    assert route is not None
    assert (route.service, route.access, route.template) == (service, access, template)


@pytest.mark.parametrize(
    "path", ["/api/v1/", "/api/v1/admin", "/api/v1/movies/1/2/3", "/api/v1/me/../x"]
)
def test_unknown_paths(path: str) -> None:
    assert match(path) is None


def test_rate_limit_window() -> None:
    key = window_key("ip:1.2.3.4", 10, now=120.5)
    assert key.key == "gw:rl:ip:1.2.3.4:2"
    assert key.retry_after_s == 59
    assert window_key("ip:1.2.3.4", 10, now=179.9).retry_after_s == 1


def test_every_cached_list_is_served_by_the_gateway_for_its_owner() -> None:
    """shared.pagecache.CACHED_PAGES is the one table: each of its routes is in the gateway's
    table, sent to the service that owns the pages, and marked so the gateway answers a
    cached page itself."""
    from shared.pagecache import CACHED_PAGES

    assert {pages.path for pages in CACHED_PAGES} >= {
        "/api/v1/favorites",
        "/api/v1/recommendations",
    }
    for pages in CACHED_PAGES:
        route = match(pages.path)
        assert route is not None and route.template == pages.path
        assert route.service == pages.owner and route.user_pages == pages
        assert route.access is Access.REQUIRED
