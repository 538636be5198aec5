"""Secrets never reach the logs: passwords, tokens, the TMDb key, the platform's secrets."""

import time
from collections.abc import Callable

import httpx

from tests.e2e.conftest import Stack
from tests.e2e.helpers import PASSWORD
from tests.e2e.settings import TMDB_KEY


def test_no_secret_appears_in_any_log(
    api: httpx.Client, new_user: Callable[..., dict[str, str]], stack: Stack
) -> None:
    user = new_user()
    headers = {"Authorization": user["authorization"]}
    refreshed = api.post("/auth/refresh", json={"refresh_token": user["refresh_token"]}).json()
    api.post("/auth/login", json={"email": user["email"], "password": "wrong " + PASSWORD})
    api.post("/auth/token", data={"username": user["email"], "password": PASSWORD})
    api.get("/me", headers=headers)
    api.get("/movies/777")  # the catalog calls the keyed TMDb
    api.post(
        "/me/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "another " + PASSWORD},
    )
    api.post("/auth/logout", headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    time.sleep(1)  # access lines are written within 50 ms; give consumers a moment too
    secrets = {
        "password": PASSWORD,
        "access token": user["access_token"],
        "refreshed access token": refreshed["access_token"],
        "refresh token": user["refresh_token"],
        "new refresh token": refreshed["refresh_token"],
        "TMDb key": TMDB_KEY,
        "JWT secret": stack.env["JWT_SECRET"],
        "internal secret": stack.env["INTERNAL_SECRET"],
    }
    logs = stack.log_texts()
    assert set(logs) >= {"auth", "gateway", "catalog", "library"}
    for name, secret in secrets.items():
        for log_name, text in logs.items():
            assert secret not in text, f"the {name} appears in {log_name}"
