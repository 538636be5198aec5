"""Recommendations service settings (env prefix RECOMMENDATIONS_)."""

from pydantic_settings import SettingsConfigDict

from shared.config import DatabaseSettings


class RecommendationsSettings(DatabaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RECOMMENDATIONS_", extra="ignore", populate_by_name=True
    )

    service_name: str = "recommendations"
    port: int = 8004
    database_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/movies_recommendations"
    catalog_url: str = "http://127.0.0.1:8002"
    catalog_timeout_s: float = 8.0
    cache_ttl_s: int = 600
    related_pages: int = 1  # one TMDb page per list measured as good as two (make eval)
    trending_pages: int = 2


settings = RecommendationsSettings()
