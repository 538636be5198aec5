"""Input that once gave 500s, and validation that once depended on what was cached."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.helpers import assert_problem

NewUser = Callable[..., dict[str, str]]
HUGE = "9" * 4400  # int() refuses more than 4,300 digits


@pytest.mark.parametrize(
    "path",
    [
        "/movies/²",
        f"/movies/{HUGE}",
        "/movies/trending?page=²",
        f"/movies/trending?page={HUGE}",
        "/movies/trending?page=",
        f"/movies/{HUGE}/similar",
        "/movies/²/reviews",
    ],
)
def test_strange_numbers_are_422_or_404(api: httpx.Client, path: str) -> None:
    api.get("/movies/trending")  # the trending page is cached: the fast path is in play
    response = api.get(path)
    assert response.status_code in (404, 422), response.text
    assert_problem(response, response.status_code)


def test_a_watched_at_beyond_the_calendar_is_422(api: httpx.Client, new_user: NewUser) -> None:
    headers = {"Authorization": new_user()["authorization"]}
    for moment in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        assert_problem(
            api.post("/me/history", headers=headers, json={"movie_id": 550, "watched_at": moment}),
            422,
        )


def test_a_viewing_in_the_future_is_422(api: httpx.Client, new_user: NewUser) -> None:
    headers = {"Authorization": new_user()["authorization"]}
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    response = api.post("/me/history", headers=headers, json={"movie_id": 550, "watched_at": later})
    assert_problem(response, 422)
    assert "future" in response.text
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()  # a clock a little ahead
    response = api.post("/me/history", headers=headers, json={"movie_id": 550, "watched_at": soon})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/lists", {"name": "Strings", "public": "true"}),
        ("POST", "/lists", {"name": "Numbers", "public": 1}),
        ("PATCH", "/me", {"preferences": {"genres": ["28"]}}),
        ("PATCH", "/me", {"preferences": {"genres": [True]}}),
        ("PATCH", "/me", {"preferences": {"providers": ["8"]}}),
        ("POST", "/favorites", {"movie_id": "550"}),
        ("PUT", "/movies/550/rating", {"score": "7.5"}),
    ],
)
def test_a_value_of_the_wrong_json_type_is_422_not_coerced(
    api: httpx.Client, new_user: NewUser, method: str, path: str, body: dict[str, object]
) -> None:
    """A string or a boolean where the contract has a number or a boolean is refused,
    as a client developer reading the schema expects, rather than guessed at."""
    headers = {"Authorization": new_user()["authorization"]}
    assert_problem(api.request(method, path, headers=headers, json=body), 422)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/movies/550/rating", b'{"score": NaN}'),
        ("PUT", "/movies/550/rating", b'{"score": Infinity}'),
        ("POST", "/movies/550/reviews", b'{"body": "Fine", "score": -Infinity}'),
        ("POST", "/favorites", b'{"movie_id": NaN}'),
    ],
)
def test_nan_and_infinity_are_not_json(
    api: httpx.Client, new_user: NewUser, method: str, path: str, body: bytes
) -> None:
    """Python's json module takes them; the contract is JSON, so they are a body that cannot
    be read, not a number out of bounds."""
    headers = {
        "Authorization": new_user()["authorization"],
        "Content-Type": "application/json",
    }
    refused = api.request(method, path, headers=headers, content=body)
    assert_problem(refused, 422)
    assert [issue["loc"][0] for issue in refused.json()["errors"]] == ["body"]
    assert "equal to" not in refused.text


def test_an_item_position_is_a_json_integer(api: httpx.Client, new_user: NewUser) -> None:
    headers = {"Authorization": new_user()["authorization"]}
    created = api.post("/lists", headers=headers, json={"name": "Ordered"})
    assert created.status_code == 201, created.text
    items = f"/lists/{created.json()['id']}/items"
    refused = api.post(items, headers=headers, json={"movie_id": 550, "position": "1"})
    assert_problem(refused, 422)
    added = api.post(items, headers=headers, json={"movie_id": 550, "position": 1.0})
    assert added.status_code == 201, added.text
    assert added.json()["position"] == 1


@pytest.mark.parametrize("last_event_id", ["²", HUGE, "99999999999999999999999", "-1", "abc"])
def test_a_strange_last_event_id_starts_the_stream_afresh(
    api: httpx.Client, new_user: NewUser, last_event_id: str
) -> None:
    headers = {
        "Authorization": new_user()["authorization"].encode(),
        "Last-Event-ID": last_event_id.encode(),  # as raw UTF-8 bytes on the wire
    }
    with api.stream("GET", "/notifications/stream", headers=headers, timeout=10) as stream:
        assert stream.status_code == 200
        first = next(stream.iter_bytes())
        assert first.startswith(b"retry:")


def test_a_blank_page_is_422_whether_or_not_the_page_is_cached(
    api: httpx.Client, new_user: NewUser
) -> None:
    headers = {"Authorization": new_user()["authorization"]}
    assert_problem(api.get("/favorites?page=", headers=headers), 422)
    assert api.get("/favorites", headers=headers).status_code == 200  # now cached
    assert api.get("/favorites", headers=headers).status_code == 200
    assert_problem(api.get("/favorites?page=", headers=headers), 422)
    assert_problem(api.get("/favorites?limit=", headers=headers), 422)
    assert_problem(api.get("/favorites?page=²", headers=headers), 422)


def test_a_method_a_path_does_not_take_is_405_naming_the_ones_it_does(
    api: httpx.Client, new_user: NewUser
) -> None:
    headers = {"Authorization": new_user()["authorization"]}
    for method, path, allowed in (
        ("PUT", "/favorites", "GET, HEAD, POST"),
        ("DELETE", "/movies/trending", "GET, HEAD"),
    ):
        response = api.request(method, path, headers=headers)
        assert_problem(response, 405)
        assert response.headers["allow"] == allowed, (method, path)


def test_head_is_a_get_without_the_body(api: httpx.Client) -> None:
    for path in ("/movies/trending", "/movies/550", "/genres"):
        got, head = api.get(path), api.head(path)
        assert (head.status_code, head.content) == (200, b""), path
        assert head.headers["content-length"] == got.headers["content-length"], path
        assert head.headers["etag"] == got.headers["etag"], path
