"""Access tokens: every way a forged, stale or misused token must be refused."""

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from shared import security
from shared.security import (
    InvalidToken,
    VerifiedTokens,
    bearer_token,
    decode_access_token,
    internal_token_valid,
    issue_access_token,
)

SECRET = "unit-test-secret-" + "k" * 32


def _claims(**overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": str(uuid.uuid4()),
        "sid": "s1",
        "jti": "j1",
        "type": "access",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(overrides)
    return claims


def test_issued_token_round_trips() -> None:
    user_id = uuid.uuid4()
    token, token_id = issue_access_token(
        user_id=user_id, session_id="sess", secret=SECRET, algorithm="HS256", ttl_s=900
    )
    principal = decode_access_token(token, secret=SECRET, algorithm="HS256")
    assert principal.user_id == user_id
    assert principal.session_id == "sess"
    assert principal.token_id == token_id
    assert 890 <= (principal.expires_at - datetime.now(UTC)).total_seconds() <= 900


def test_alg_none_is_refused() -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=")
    body = _claims(iat=int(time.time()), exp=int(time.time()) + 300)
    payload = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=")
    with pytest.raises(InvalidToken):
        decode_access_token(
            f"{header.decode()}.{payload.decode()}.", secret=SECRET, algorithm="HS256"
        )


def test_other_algorithm_is_refused_when_pinned() -> None:
    token = jwt.encode(_claims(), SECRET * 2, algorithm="HS512")
    with pytest.raises(InvalidToken):
        decode_access_token(token, secret=SECRET, algorithm="HS256")


def test_tampered_payload_is_refused() -> None:
    token = jwt.encode(_claims(), SECRET, algorithm="HS256")
    header, payload, signature = token.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["sub"] = str(uuid.uuid4())
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        decode_access_token(
            f"{header}.{forged_payload}.{signature}", secret=SECRET, algorithm="HS256"
        )


def test_wrong_secret_is_refused() -> None:
    token = jwt.encode(_claims(), "another-secret-" + "z" * 32, algorithm="HS256")
    with pytest.raises(InvalidToken):
        decode_access_token(token, secret=SECRET, algorithm="HS256")


def test_expired_token_is_refused() -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    token = jwt.encode(
        _claims(iat=past, exp=past + timedelta(minutes=5)), SECRET, algorithm="HS256"
    )
    with pytest.raises(InvalidToken):
        decode_access_token(token, secret=SECRET, algorithm="HS256")


def test_refresh_type_is_refused_as_access() -> None:
    token = jwt.encode(_claims(type="refresh"), SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken, match="not an access token"):
        decode_access_token(token, secret=SECRET, algorithm="HS256")


@pytest.mark.parametrize("claim", ["sub", "jti", "type", "iat", "exp", "sid"])
def test_missing_claim_is_refused(claim: str) -> None:
    claims = _claims()
    del claims[claim]
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        decode_access_token(token, secret=SECRET, algorithm="HS256")


def test_token_issued_in_the_future_is_refused() -> None:
    future = datetime.now(UTC) + timedelta(hours=1)
    token = jwt.encode(
        _claims(iat=future, exp=future + timedelta(minutes=5)), SECRET, algorithm="HS256"
    )
    with pytest.raises(InvalidToken):
        decode_access_token(token, secret=SECRET, algorithm="HS256")


def test_malformed_subject_is_refused() -> None:
    token = jwt.encode(_claims(sub="admin"), SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        decode_access_token(token, secret=SECRET, algorithm="HS256")


def test_garbage_is_refused() -> None:
    with pytest.raises(InvalidToken):
        decode_access_token("not.a.jwt", secret=SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("Basic abc", None),
        ("Bearer ", None),
        (None, None),
    ],
)
def test_bearer_token_parsing(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected


def test_internal_token_comparison() -> None:
    assert internal_token_valid("s3cret", "s3cret")
    assert not internal_token_valid("s3cre", "s3cret")
    assert not internal_token_valid(None, "s3cret")


def test_verified_tokens_check_each_token_once_until_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [time.time()]
    tokens = VerifiedTokens(secret=SECRET, algorithm="HS256", clock=lambda: now[0])
    user_id = uuid.uuid4()
    token, _ = issue_access_token(
        user_id=user_id, session_id="s1", secret=SECRET, algorithm="HS256", ttl_s=60
    )
    checks = []
    real_decode = security.decode_access_token
    monkeypatch.setattr(
        security, "decode_access_token", lambda *a, **k: checks.append(1) or real_decode(*a, **k)
    )
    assert tokens.decode(token).user_id == user_id
    assert tokens.decode(token).user_id == user_id
    assert len(checks) == 1  # the second came from the table
    now[0] += 61  # past `exp`: checked again
    tokens.decode(token)
    assert len(checks) == 2
    with pytest.raises(InvalidToken):
        tokens.decode(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))  # forged signature
