"""How the shared problem handlers answer errors the routes do not catch themselves."""

import sqlalchemy.exc
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.errors import FORGOTTEN_ACCOUNT_SQLSTATE, install_problem_handlers


class _DriverError(Exception):
    def __init__(self, pgcode: str) -> None:
        super().__init__("account was deleted")
        self.pgcode = pgcode


def _app(pgcode: str) -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/write")
    async def write() -> None:
        raise sqlalchemy.exc.InternalError("INSERT ...", {}, _DriverError(pgcode))

    return TestClient(app, raise_server_exceptions=False)


def test_a_write_for_a_deleted_account_is_a_401_problem() -> None:
    response = _app(FORGOTTEN_ACCOUNT_SQLSTATE).post("/write")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "This account was deleted"
    assert response.headers["www-authenticate"] == "Bearer"


def test_another_database_error_stays_an_internal_error() -> None:
    response = _app("XX000").post("/write")
    assert response.status_code == 500
    assert "account" not in response.text
