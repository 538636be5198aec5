"""Library service settings (env prefix LIBRARY_)."""

from pydantic_settings import SettingsConfigDict

from shared.config import DatabaseSettings


class LibrarySettings(DatabaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIBRARY_", extra="ignore", populate_by_name=True)

    service_name: str = "library"
    port: int = 8003
    database_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/movies_library"
    catalog_url: str = "http://127.0.0.1:8002"
    catalog_timeout_s: float = 8.0
    # The service every write goes through: a pool as large as the concurrency it sees, so
    # requests do not queue for connections or churn through short-lived overflow ones
    # (measured with 32 concurrent writers: 10 + 10 gave 81 writes/s, 30 gave 171).
    database_pool_size: int = 20
    # Pages of each user's favorites kept as response bytes in Redis; dropped on the user's
    # own changes and on any movie update, so this only bounds memory (and staleness if
    # Redis loses a drop).
    page_cache_ttl_s: int = 300
    # Answer the hot writes (favorites, watchlist, ratings, history) in front of FastAPI for
    # callers the gateway vouches for (library/fastwrites.py); off, every request takes the
    # routes, as a caller with its own token always does.
    fast_writes: bool = True


settings = LibrarySettings()
