"""Assertions shared by the end-to-end tests."""

import time
from collections.abc import Callable

import httpx

from catalog.config import CatalogSettings
from catalog.keys import CacheKeys
from tests.e2e.settings import TMDB_KEY
from tools.stack import Stack

PASSWORD = "a fine passphrase"


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert "Traceback" not in response.text
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    return body


def refresh_after_time_passes(stack: Stack, days: float) -> dict[str, list[int]]:
    """Let the sandbox's clock walk on, then run the catalog's scheduled refresh now: new
    titles reach trending, and subscribers are notified of them. Returns the new titles by
    window."""
    with httpx.Client(base_url=stack.url("sandbox")) as sandbox:
        day = sandbox.get("/__admin/clock").json()["day"]
        sandbox.post("/__admin/clock", json={"day": day + days})
    refreshed = httpx.post(
        f"{stack.url('catalog')}/internal/refresh",
        headers={"x-internal-token": stack.env["INTERNAL_SECRET"]},
        timeout=30,
    )
    assert refreshed.status_code == 200, refreshed.text
    new: dict[str, list[int]] = refreshed.json()["new_movie_ids"]
    return new


BUSY_DAY = 100.0  # the sandbox's clock at a time when several titles open every month


def opening_soon(stack: Stack, region: str = "US", at_least: int = 4) -> list[dict[str, object]]:
    """Titles opening in the region in the next 30 days, as TMDb (the sandbox) says now: the
    catalog's cached upcoming list may be from before other tests moved the shared clock. At
    times of the data few titles open; the clock is then set to a busier one."""
    with httpx.Client(base_url=stack.url("sandbox")) as sandbox:
        for _ in range(2):
            found: list[dict[str, object]] = sandbox.get(
                "/3/movie/upcoming", params={"region": region, "api_key": TMDB_KEY}
            ).json()["results"]
            if len(found) >= at_least:
                return found
            sandbox.post("/__admin/clock", json={"day": BUSY_DAY})
    raise AssertionError(f"the sandbox has fewer than {at_least} titles opening in {region}")


def catalog_keys(stack: Stack) -> CacheKeys:
    """The cache keys the stack's catalog uses (they name its TMDb and image server)."""
    image_base = stack.env.get(
        "TMDB_IMAGE_BASE_URL", CatalogSettings.model_fields["tmdb_image_base_url"].default
    )
    return CacheKeys(stack.env["TMDB_BASE_URL"], image_base)


def bearer(user: dict[str, str]) -> dict[str, str]:
    """The Authorization header of a user made by the `new_user` fixture."""
    return {"Authorization": user["authorization"]}


def until(condition: Callable[[], bool], within_s: float, what: str) -> None:
    """Wait for something the system does after answering (an event applied, a cache
    dropped); fails naming it if it is not seen in time."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within_s, f"{what} not seen within {within_s} s"
        time.sleep(0.05)
