"""Accounts and sessions through the gateway."""

import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import PASSWORD, assert_problem

NewUser = Callable[..., dict[str, str]]


def _email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def test_register_returns_the_account(api: httpx.Client) -> None:
    email = _email()
    response = api.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Ann"}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "display_name", "created_at"}
    assert body["email"] == email and body["display_name"] == "Ann"
    uuid.UUID(body["id"])


def test_duplicate_email_in_any_case_is_409(api: httpx.Client) -> None:
    email = _email()
    assert (
        api.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    )
    assert_problem(
        api.post("/auth/register", json={"email": email.upper(), "password": PASSWORD}), 409
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": 123, "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "password": 12345678}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": "a@example.com"}, "password"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": "x" * 129}, "password"),
        ({"email": "a@example.com", "password": "password123"}, "password"),
        ({"email": "a@example.com", "password": "qwertyuiop"}, "password"),
        ({"email": "a@example.com", "password": PASSWORD, "display_name": ""}, "display_name"),
        ({"email": "a@example.com", "password": PASSWORD, "display_name": "  "}, "display_name"),
        (
            {"email": "a@example.com", "password": PASSWORD, "display_name": "a\u0007"},
            "display_name",
        ),
        (
            {"email": "a@example.com", "password": PASSWORD, "display_name": "ann\u202etxt.exe"},
            "display_name",
        ),
        ({"email": "a@test", "password": PASSWORD}, "email"),
    ],
)
def test_bad_registration_is_422(api: httpx.Client, body: dict[str, object], field: str) -> None:
    problem = assert_problem(api.post("/auth/register", json=body), 422)
    assert any(error["loc"][-1] == field for error in problem["errors"])  # type: ignore[index, union-attr]


def test_non_json_body_is_422(api: httpx.Client) -> None:
    response = api.post(
        "/auth/register", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert_problem(response, 422)


def test_two_megabyte_body_is_413(api: httpx.Client) -> None:
    body = b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    assert_problem(
        api.post("/auth/register", content=body, headers={"content-type": "application/json"}), 413
    )


def test_login_returns_a_token_pair(api: httpx.Client, new_user: NewUser) -> None:
    user = new_user()
    response = api.post("/auth/login", json={"email": user["email"].upper(), "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert 60 <= body["expires_in"] <= 3600
    assert body["access_token"] and body["refresh_token"]


def test_no_account_enumeration(api: httpx.Client, new_user: NewUser) -> None:
    user = new_user()

    def attempt(email: str) -> tuple[httpx.Response, float]:
        started = time.perf_counter()
        response = api.post("/auth/login", json={"email": email, "password": "wrong but long"})
        return response, time.perf_counter() - started

    unknown = [attempt(_email()) for _ in range(2)]
    wrong = [attempt(user["email"]) for _ in range(2)]
    for response, _ in unknown + wrong:
        assert_problem(response, 401)
    bodies = {(r.json()["title"], r.json()["detail"]) for r, _ in unknown + wrong}
    assert len(bodies) == 1
    # Both verify an argon2 hash, so neither answers much faster than the other.
    ratio = statistics.median(t for _, t in unknown) / statistics.median(t for _, t in wrong)
    assert 0.25 < ratio < 4


def test_oauth2_password_form(api: httpx.Client, new_user: NewUser) -> None:
    user = new_user()
    response = api.post("/auth/token", data={"username": user["email"], "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    assert_problem(
        api.post("/auth/token", data={"username": user["email"], "password": "nope nope"}), 401
    )


def test_me_and_patch_me(api: httpx.Client, new_user: NewUser) -> None:
    user = new_user()
    headers = {"Authorization": user["authorization"]}
    me = api.get("/me", headers=headers)
    assert me.status_code == 200
    assert set(me.json()) == {"id", "email", "display_name", "created_at", "preferences"}
    assert me.json()["preferences"] == {
        "genres": [],
        "language": "en",
        "region": "US",
        "include_adult": False,
        "remove_watched_from_watchlist": False,
        "providers": [],
        "notify": {"trending": True, "recommendations": True, "releases": False},
    }
    patched = api.patch(
        "/me",
        headers=headers,
        json={
            "display_name": "Neo",
            "preferences": {"genres": [28, 878], "include_adult": True},
        },
    )
    assert patched.status_code == 200
    assert patched.json()["display_name"] == "Neo"
    assert patched.json()["preferences"]["genres"] == [28, 878]
    assert patched.json()["preferences"]["include_adult"] is True
    assert api.get("/me", headers=headers).json()["preferences"]["genres"] == [28, 878]
    services = api.patch(
        "/me",
        headers=headers,
        json={"preferences": {"providers": [8, 337, 8], "notify": {"releases": True}}},
    )
    assert services.status_code == 200, services.text
    kept = services.json()["preferences"]
    assert kept["providers"] == [8, 337] and kept["notify"]["releases"] is True
    assert kept["notify"]["trending"] is True and kept["genres"] == [28, 878]
    unknown = api.patch("/me", headers=headers, json={"preferences": {"providers": [8, 424242]}})
    assert_problem(unknown, 422)
    assert "424242" in str(unknown.json()["errors"])


@pytest.mark.parametrize(
    "body",
    [
        {"email": "evil@example.com"},
        {"id": "00000000-0000-0000-0000-000000000000"},
        {"password_hash": "x"},
        {"is_admin": True},
        {"preferences": {"genres": ["action"]}},
        {"preferences": {"language": "english"}},
        {"preferences": {"unknown": 1}},
        {"preferences": {"providers": [999999]}},
        {"preferences": {"providers": ["netflix"]}},
        {"preferences": {"notify": {"releases": "yes"}}},
        {"display_name": "x" * 51},
    ],
)
def test_patch_me_refuses_privileged_and_bad_fields(
    api: httpx.Client, new_user: NewUser, body: dict[str, object]
) -> None:
    user = new_user()
    headers = {"Authorization": user["authorization"]}
    assert_problem(api.patch("/me", headers=headers, json=body), 422)
    me = api.get("/me", headers=headers).json()
    assert me["email"] == user["email"] and me["id"] == user["id"]


def test_refresh_rotates_and_reuse_revokes_the_login(api: httpx.Client, new_user: NewUser) -> None:
    user = new_user()
    first = api.post("/auth/refresh", json={"refresh_token": user["refresh_token"]})
    assert first.status_code == 200
    pair = first.json()
    assert pair["refresh_token"] != user["refresh_token"]
    assert (
        api.get("/me", headers={"Authorization": f"Bearer {pair['access_token']}"}).status_code
        == 200
    )
    # The spent token comes back: the whole login is revoked, its newest tokens included.
    assert_problem(api.post("/auth/refresh", json={"refresh_token": user["refresh_token"]}), 401)
    assert_problem(api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}), 401)
    assert_problem(api.get("/me", headers={"Authorization": f"Bearer {pair['access_token']}"}), 401)
    assert_problem(api.get("/me", headers={"Authorization": user["authorization"]}), 401)


def test_refresh_with_garbage_is_401(api: httpx.Client) -> None:
    assert_problem(api.post("/auth/refresh", json={"refresh_token": "garbage"}), 401)
    assert_problem(api.post("/auth/refresh", json={}), 422)


def test_logout_ends_the_token_on_the_next_request(
    api: httpx.Client, new_user: NewUser, stack: Stack
) -> None:
    user = new_user()
    other_login = api.post(
        "/auth/login", json={"email": user["email"], "password": PASSWORD}
    ).json()
    headers = {"Authorization": user["authorization"]}
    assert api.post("/auth/logout", headers=headers).status_code == 204
    assert_problem(api.get("/me", headers=headers), 401)
    # Every other gateway replica refuses it too (the revocation copy is shared).
    for url in stack.gateway_replicas():
        with httpx.Client(base_url=f"{url}/api/v1") as replica:
            assert_problem(replica.get("/me", headers=headers), 401)
    assert_problem(api.post("/auth/refresh", json={"refresh_token": user["refresh_token"]}), 401)
    # Only that login ended.
    assert (
        api.get(
            "/me", headers={"Authorization": f"Bearer {other_login['access_token']}"}
        ).status_code
        == 200
    )
    assert_problem(api.post("/auth/logout"), 401)


def test_password_change_ends_other_sessions(api: httpx.Client, new_user: NewUser) -> None:
    user = new_user()
    other = api.post("/auth/login", json={"email": user["email"], "password": PASSWORD}).json()
    headers = {"Authorization": user["authorization"]}
    assert_problem(
        api.post(
            "/me/password",
            headers=headers,
            json={"current_password": "wrong one!", "new_password": "brand new passphrase"},
        ),
        401,
    )
    assert_problem(
        api.post(
            "/me/password",
            headers=headers,
            json={"current_password": PASSWORD, "new_password": "password"},
        ),
        422,
    )
    assert_problem(
        api.post("/me/password", headers=headers, json={"current_password": PASSWORD}), 422
    )
    changed = api.post(
        "/me/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "brand new passphrase"},
    )
    assert changed.status_code == 204
    assert api.get("/me", headers=headers).status_code == 200
    assert_problem(
        api.get("/me", headers={"Authorization": f"Bearer {other['access_token']}"}), 401
    )
    assert_problem(api.post("/auth/refresh", json={"refresh_token": other["refresh_token"]}), 401)
    assert_problem(
        api.post("/auth/login", json={"email": user["email"], "password": PASSWORD}), 401
    )
    assert (
        api.post(
            "/auth/login", json={"email": user["email"], "password": "brand new passphrase"}
        ).status_code
        == 200
    )


def test_brute_force_is_throttled(api: httpx.Client, new_user: NewUser) -> None:
    user = new_user()
    for _ in range(5):
        assert_problem(
            api.post("/auth/login", json={"email": user["email"], "password": "guess guess"}), 401
        )
    throttled = api.post("/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert_problem(throttled, 429)
    assert 1 <= int(throttled.headers["retry-after"]) <= 300


def test_simultaneous_guesses_cannot_pass_the_limit(api: httpx.Client, new_user: NewUser) -> None:
    """Attempts are counted before the password check: 16 guesses at once, 5 checked."""
    import concurrent.futures

    user = new_user()
    guess = {"email": user["email"], "password": "guess guess"}
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(
            pool.map(lambda _: api.post("/auth/login", json=guess).status_code, range(16))
        )
    assert sorted(set(statuses)) == [401, 429]
    assert statuses.count(401) == 5, statuses


def test_simultaneous_password_guesses_in_a_password_change_are_throttled_too(
    api: httpx.Client, new_user: NewUser
) -> None:
    import concurrent.futures

    user = new_user()
    headers = {"Authorization": user["authorization"]}
    body = {"current_password": "guess guess", "new_password": "brand new passphrase"}
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(
            pool.map(
                lambda _: api.post("/me/password", headers=headers, json=body).status_code,
                range(16),
            )
        )
    assert statuses.count(401) == 5, statuses
    assert statuses.count(429) == 11, statuses


def _forge(stack: Stack, **overrides: object) -> str:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": str(uuid.uuid4()),
        "sid": "s",
        "jti": uuid.uuid4().hex,
        "type": "access",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(overrides)
    return jwt.encode(claims, stack.env["JWT_SECRET"], algorithm="HS256")


def test_token_attacks_are_401(api: httpx.Client, new_user: NewUser, stack: Stack) -> None:
    user = new_user()
    header, payload, signature = user["access_token"].split(".")
    tampered = (
        f"{header}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    )
    none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"
    past = datetime.now(UTC) - timedelta(hours=2)
    attacks = {
        "none": None,
        "garbage": "Bearer not-a-token",
        "alg_none": f"Bearer {none_header}.{payload}.",
        "tampered": f"Bearer {tampered}",
        "wrong_key": "Bearer "
        + jwt.encode({"sub": user["id"], "type": "access"}, "k" * 40, algorithm="HS256"),
        "expired": "Bearer "
        + _forge(stack, sub=user["id"], iat=past, exp=past + timedelta(minutes=5)),
        "refresh_as_access": f"Bearer {user['refresh_token']}",
        "refresh_type_claim": "Bearer " + _forge(stack, sub=user["id"], type="refresh"),
        "basic_scheme": "Basic dXNlcjpwYXNz",
    }
    for name, value in attacks.items():
        headers = {"Authorization": value} if value else {}
        response = api.get("/me", headers=headers)
        assert response.status_code == 401, name
        assert_problem(response, 401)


def test_client_cannot_spoof_the_gateway_headers(api: httpx.Client, new_user: NewUser) -> None:
    victim = new_user()
    spoofed = {
        "X-User-ID": victim["id"],
        "X-Session-ID": "s",
        "X-Token-ID": "t",
        "X-Token-Expires-At": "9999999999",
        "X-Internal-Token": "dev-only-internal-secret-change-me",
    }
    assert_problem(api.get("/me", headers=spoofed), 401)


def test_an_email_with_dotted_capital_i_can_log_in(api: httpx.Client) -> None:
    """Python's lower() and PostgreSQL's disagree on "İ"; lookups use PostgreSQL's alone."""
    email = f"İlke-{uuid.uuid4().hex[:8]}@example.com"
    assert (
        api.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    )
    assert api.post("/auth/login", json={"email": email, "password": PASSWORD}).status_code == 200
    assert_problem(api.post("/auth/register", json={"email": email, "password": PASSWORD}), 409)


def test_the_password_may_not_be_the_email(api: httpx.Client, new_user: NewUser) -> None:
    email = f"Same-{uuid.uuid4().hex[:8]}@Example.com"
    body = assert_problem(
        api.post("/auth/register", json={"email": email, "password": email.lower()}), 422
    )
    assert "email" in str(body["detail"]) + str(body.get("errors"))
    user = new_user()
    assert_problem(
        api.post(
            "/me/password",
            headers={"Authorization": user["authorization"]},
            json={"current_password": PASSWORD, "new_password": user["email"].upper()},
        ),
        422,
    )
