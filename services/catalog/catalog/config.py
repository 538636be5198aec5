"""Catalog service settings (env prefix CATALOG_; the TMDb connection uses TMDB_*)."""

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.config import DatabaseSettings


class CatalogSettings(DatabaseSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", populate_by_name=True)

    service_name: str = "catalog"
    port: int = 8002
    database_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/movies_catalog"

    tmdb_base_url: str = Field(
        "https://api.themoviedb.org/3",
        validation_alias=AliasChoices("TMDB_BASE_URL", "tmdb_base_url"),
    )
    tmdb_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TMDB_API_KEY", "tmdb_api_key")
    )
    tmdb_access_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TMDB_ACCESS_TOKEN", "tmdb_access_token")
    )
    tmdb_image_base_url: str = Field(
        "https://image.tmdb.org/t/p/w500",
        validation_alias=AliasChoices("TMDB_IMAGE_BASE_URL", "tmdb_image_base_url"),
    )
    tmdb_connect_timeout_s: float = Field(3.0, le=3.0)
    tmdb_read_timeout_s: float = Field(5.0, le=5.0)
    tmdb_retry_budget_s: float = 10.0
    tmdb_max_attempts: int = 4
    tmdb_rate_limit_per_s: float = 35.0
    tmdb_breaker_failures: int = 5
    tmdb_breaker_cooldown_s: float = Field(15.0, le=30.0)

    trending_ttl_s: int = 600
    movie_ttl_s: int = 86_400
    search_ttl_s: int = 3_600
    lists_ttl_s: int = 1_800  # popular, top-rated, upcoming, now playing
    genres_ttl_s: int = 7 * 86_400
    stale_ttl_s: int = 7 * 86_400
    not_found_ttl_s: int = 600
    # How long a request waits for TMDb when a stale copy could be served instead.
    stale_wait_s: float = 2.0
    refresh_interval_s: int = 600
    refresh_enabled: bool = True
    # How often each watched title's releases and streaming services are looked at, and how
    # many titles one replica takes at a time.
    release_check_interval_s: int = Field(600, ge=1)
    release_check_batch: int = Field(20, ge=1, le=200)
    local_cache_entries: int = 2_000
    # In-process copy of recently served answers (0 turns it off).
    recent_ttl_s: float = 1.0


settings = CatalogSettings()
