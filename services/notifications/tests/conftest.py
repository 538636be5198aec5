"""Notifications test fixtures: a fresh migrated database."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from notifications.config import NotificationsSettings
from shared.db import make_engine


@pytest.fixture(scope="session")
def notifications_settings(make_database, platform_settings) -> NotificationsSettings:  # type: ignore[no-untyped-def]
    return NotificationsSettings(database_url=make_database("notifications"), **platform_settings)


@pytest.fixture(scope="session")
def notifications_engine(notifications_settings: NotificationsSettings) -> Iterator[Engine]:
    engine = make_engine(notifications_settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def clean(notifications_engine: Engine) -> None:
    with notifications_engine.begin() as connection:
        connection.execute(
            text(
                "TRUNCATE subscriber, notification, trending_refresh, inbox_event,"
                " watchlisted, release_alert, notification_turn"
            )
        )
