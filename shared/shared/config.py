"""Settings base: what every service reads from the environment.

Platform-wide settings (secrets, broker, Redis, environment) have fixed names without a
prefix so one value serves every service; service settings carry the service's env prefix.
"""

from dataclasses import dataclass
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"
DEVELOPMENT_INTERNAL_SECRET = "dev-only-internal-secret-change-me"


def _platform(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class ShutdownSettings(BaseSettings):
    """How long a service process may take to stop, from SIGTERM to its exit: a few seconds
    less than the container's grace period (compose waits 10 s, our Kubernetes manifests 20 s),
    so nothing is ever killed half-way by the orchestrator."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    shutdown_deadline_s: float = Field(8.0, gt=0, validation_alias=_platform("SHUTDOWN_DEADLINE_S"))

    @property
    def graceful_shutdown_s(self) -> float:
        """The part given to requests in flight (uvicorn's graceful shutdown)."""
        return round(self.shutdown_deadline_s * 0.5, 2)

    @property
    def lifespan_shutdown_s(self) -> float:
        """The part given to the lifespan's shutdown: background tasks, relay, bus, clients."""
        return round(self.shutdown_deadline_s * 0.3, 2)


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """Where a Redis is: its URL, or Sentinels that know which server is its primary now."""

    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = ""

    @classmethod
    def of(cls, url: str, sentinels: str | None, master: str) -> "RedisTarget":
        found = []
        for address in (sentinels or "").split(","):
            host, _, port = address.strip().rpartition(":")
            if address.strip():
                if not host or not port.isdigit():
                    raise ValueError(f"a Sentinel is host:port, not {address.strip()!r}")
                found.append((host.strip("[]"), int(port)))
        return cls(url=url, sentinels=tuple(found), master=master)


class PlatformSettings(ShutdownSettings):
    """Settings shared by every service; subclasses set `env_prefix` for their own fields."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias=_platform("ENVIRONMENT")
    )
    log_level: str = Field("INFO", validation_alias=_platform("LOG_LEVEL"))
    jwt_secret: str = Field(DEVELOPMENT_JWT_SECRET, validation_alias=_platform("JWT_SECRET"))
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = Field(
        "HS256", validation_alias=_platform("JWT_ALGORITHM")
    )
    internal_secret: str = Field(
        DEVELOPMENT_INTERNAL_SECRET, validation_alias=_platform("INTERNAL_SECRET")
    )
    # Caches: may be evicted or lost at any time.
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias=_platform("REDIS_URL"))
    # Security state (the revocation copy, login throttling): a Redis that never evicts
    # (`maxmemory-policy noeviction`); what it holds is rebuilt from PostgreSQL when lost.
    security_redis_url: str = Field(
        "redis://127.0.0.1:6380/0", validation_alias=_platform("SECURITY_REDIS_URL")
    )
    # With Sentinels ("host:26379,host:26379,..."), each Redis is found through them by its
    # master name (the URL then gives only the database, user and password).
    redis_sentinels: str | None = Field(None, validation_alias=_platform("REDIS_SENTINELS"))
    redis_sentinel_master: str = Field(
        "movies-cache", validation_alias=_platform("REDIS_SENTINEL_MASTER")
    )
    security_redis_sentinels: str | None = Field(
        None, validation_alias=_platform("SECURITY_REDIS_SENTINELS")
    )
    security_redis_sentinel_master: str = Field(
        "movies-security", validation_alias=_platform("SECURITY_REDIS_SENTINEL_MASTER")
    )
    amqp_url: str = Field(
        "amqp://guest:guest@127.0.0.1:5672/", validation_alias=_platform("AMQP_URL")
    )
    bus_namespace: str = Field("movies", validation_alias=_platform("BUS_NAMESPACE"))
    # Queues unused for this long are deleted by the broker (test runs set it); None keeps them.
    bus_queue_expires_ms: int | None = Field(
        None, validation_alias=_platform("BUS_QUEUE_EXPIRES_MS")
    )
    bus_max_retries: int = Field(3, validation_alias=_platform("BUS_MAX_RETRIES"))
    bus_retry_delay_ms: int = Field(2000, validation_alias=_platform("BUS_RETRY_DELAY_MS"))
    max_body_bytes: int = Field(1024 * 1024, validation_alias=_platform("MAX_BODY_BYTES"))
    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def cache_redis(self) -> RedisTarget:
        return RedisTarget.of(self.redis_url, self.redis_sentinels, self.redis_sentinel_master)

    @property
    def security_redis(self) -> RedisTarget:
        return RedisTarget.of(
            self.security_redis_url,
            self.security_redis_sentinels,
            self.security_redis_sentinel_master,
        )

    @model_validator(mode="after")
    def _refuse_development_secrets(self) -> "PlatformSettings":
        if self.environment == "development":
            return self
        if self.jwt_secret == DEVELOPMENT_JWT_SECRET or len(self.jwt_secret) < 32:
            raise ValueError(
                "JWT_SECRET must be set to a random value of at least 32 characters "
                f"outside development (ENVIRONMENT={self.environment})"
            )
        if self.internal_secret == DEVELOPMENT_INTERNAL_SECRET or len(self.internal_secret) < 16:
            raise ValueError(
                "INTERNAL_SECRET must be set to a random value of at least 16 characters "
                f"outside development (ENVIRONMENT={self.environment})"
            )
        return self


class DatabaseSettings(PlatformSettings):
    """A service that owns a PostgreSQL database."""

    database_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/movies"
    database_pool_size: int = 10
    database_max_overflow: int = 10
    outbox_poll_interval_s: float = 1.0
    outbox_batch_size: int = 500
    # The relay on a thread and event loop of its own, with its own broker connection.
    outbox_relay_thread: bool = Field(True, validation_alias=_platform("OUTBOX_RELAY_THREAD"))
