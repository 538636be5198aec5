"""Favorites test fixtures: a fresh migrated database."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from library.config import LibrarySettings
from shared.db import make_engine


@pytest.fixture(scope="session")
def favorites_settings(make_database, platform_settings) -> LibrarySettings:  # type: ignore[no-untyped-def]
    return LibrarySettings(database_url=make_database("library"), **platform_settings)


@pytest.fixture(scope="session")
def favorites_engine(favorites_settings: LibrarySettings) -> Iterator[Engine]:
    engine = make_engine(favorites_settings.database_url, pool_size=25)
    yield engine
    engine.dispose()


@pytest.fixture
def clean_favorites_db(favorites_engine: Engine) -> None:
    with favorites_engine.begin() as connection:
        connection.execute(
            text(
                "TRUNCATE favorite, rating, review, watch_entry, user_directory,"
                " outbox_event, inbox_event"
            )
        )
