"""Recommendations test fixtures: a fresh migrated database."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from recommendations.config import RecommendationsSettings
from shared.db import make_engine


@pytest.fixture(scope="session")
def recommendations_settings(make_database, platform_settings) -> RecommendationsSettings:  # type: ignore[no-untyped-def]
    return RecommendationsSettings(
        database_url=make_database("recommendations"), **platform_settings
    )


@pytest.fixture(scope="session")
def recommendations_engine(recommendations_settings: RecommendationsSettings) -> Iterator[Engine]:
    engine = make_engine(recommendations_settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clean_recommendations_db(recommendations_engine: Engine) -> None:
    with recommendations_engine.begin() as connection:
        connection.execute(
            text(
                "TRUNCATE taste_signal, taste_preference, top_pick, inbox_event, outbox_event,"
                " forgotten_user"
            )
        )


@pytest.fixture
def favorites_engine_factory(make_database):  # type: ignore[no-untyped-def]
    """The library's database, for tests where its writes produce the events."""
    engines: list[Engine] = []

    def make() -> Engine:
        engine = make_engine(make_database("library"))
        with engine.begin() as connection:
            connection.execute(text("TRUNCATE favorite, outbox_event"))
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()
