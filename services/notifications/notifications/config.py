"""Notifications service settings (env prefix NOTIFICATIONS_)."""

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from shared.config import DatabaseSettings


class NotificationsSettings(DatabaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFICATIONS_", extra="ignore", populate_by_name=True
    )

    service_name: str = "notifications"
    port: int = 8005
    database_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/movies_notifications"
    catalog_url: str = "http://127.0.0.1:8002"
    catalog_timeout_s: float = 8.0
    history_per_user: int = 200
    trending_window: Literal["day", "week"] = "week"
    stream_keepalive_s: float = 15.0
    # Webhooks may go to loopback and private addresses (tests, a home server); never in a
    # deployment reachable from the internet. The contract names it WEBHOOK_ALLOW_PRIVATE.
    webhook_allow_private: bool = Field(
        False,
        validation_alias=AliasChoices(
            "WEBHOOK_ALLOW_PRIVATE", "NOTIFICATIONS_WEBHOOK_ALLOW_PRIVATE"
        ),
    )


settings = NotificationsSettings()
