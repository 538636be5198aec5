"""Favorites test fixtures: a fresh migrated database."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from favorites.config import FavoritesSettings
from shared.db import make_engine


@pytest.fixture(scope="session")
def favorites_settings(make_database, platform_settings) -> FavoritesSettings:  # type: ignore[no-untyped-def]
    return FavoritesSettings(database_url=make_database("favorites"), **platform_settings)


@pytest.fixture(scope="session")
def favorites_engine(favorites_settings: FavoritesSettings) -> Iterator[Engine]:
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
