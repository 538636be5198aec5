"""Auth test fixtures: a fresh migrated database and settings pointing at it."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from auth.config import AuthSettings
from shared.db import make_engine


@pytest.fixture(scope="session")
def auth_settings(make_database, platform_settings) -> AuthSettings:  # type: ignore[no-untyped-def]
    return AuthSettings(
        database_url=make_database("auth"),
        login_failures_per_account=3,
        login_failures_per_ip=1000,
        **platform_settings,
    )


@pytest.fixture(scope="session")
def auth_engine(auth_settings: AuthSettings) -> Iterator[Engine]:
    engine = make_engine(auth_settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clean_auth_db(auth_engine: Engine) -> None:
    with auth_engine.begin() as connection:
        connection.execute(
            text(
                "TRUNCATE user_account, auth_session, refresh_token, outbox_event, inbox_event"
                " CASCADE"
            )
        )
