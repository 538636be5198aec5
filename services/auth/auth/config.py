"""Auth service settings (env prefix AUTH_)."""

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.config import DatabaseSettings
from shared.security import MAX_ACCESS_TOKEN_TTL_S

OWASP_MIN_MEMORY_KIB = 19 * 1024
OWASP_MIN_TIME_COST = 2


class AuthSettings(DatabaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", populate_by_name=True)

    service_name: str = "auth"
    port: int = 8001
    database_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/movies_auth"
    access_token_ttl_s: int = Field(900, ge=60, le=MAX_ACCESS_TOKEN_TTL_S)
    refresh_token_ttl_s: int = Field(30 * 24 * 3600, ge=3600)
    argon2_time_cost: int = 2
    argon2_memory_kib: int = OWASP_MIN_MEMORY_KIB
    argon2_parallelism: int = 1
    login_failures_per_account: int = 5
    login_failures_per_ip: int = 50
    login_failure_window_s: int = 300
    # The services holding the rest of a user's data, asked for their part of an export
    library_url: str = "http://127.0.0.1:8003"
    recommendations_url: str = "http://127.0.0.1:8004"
    notifications_url: str = "http://127.0.0.1:8005"
    export_timeout_s: float = 10.0
    # Replicas of the security Redis that must hold a revocation before a logout is answered
    # (1 with Sentinel and a replica; 0: the primary alone, as on a single server)
    revocation_replicas: int = Field(0, ge=0, le=5)

    def user_data_urls(self) -> dict[str, str]:
        return {
            "library": self.library_url,
            "recommendations": self.recommendations_url,
            "notifications": self.notifications_url,
        }

    @field_validator("argon2_time_cost")
    @classmethod
    def _owasp_time(cls, value: int) -> int:
        if value < OWASP_MIN_TIME_COST:
            raise ValueError(f"argon2 time cost must be at least {OWASP_MIN_TIME_COST}")
        return value

    @field_validator("argon2_memory_kib")
    @classmethod
    def _owasp_memory(cls, value: int) -> int:
        if value < OWASP_MIN_MEMORY_KIB:
            raise ValueError(f"argon2 memory must be at least {OWASP_MIN_MEMORY_KIB} KiB")
        return value


settings = AuthSettings()
