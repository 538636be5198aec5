"""Notifications service settings (env prefix NOTIFICATIONS_)."""

from typing import Literal

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


settings = NotificationsSettings()
