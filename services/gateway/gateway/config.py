"""Gateway settings (env prefix GATEWAY_)."""

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from shared.config import PlatformSettings
from shared.services import UPSTREAMS


class GatewaySettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    service_name: str = "gateway"
    port: int = 8000
    auth_url: str = "http://127.0.0.1:8001"
    catalog_url: str = "http://127.0.0.1:8002"
    library_url: str = "http://127.0.0.1:8003"
    recommendations_url: str = "http://127.0.0.1:8004"
    notifications_url: str = "http://127.0.0.1:8005"
    # Requests per minute; authenticated callers are counted by user, others by client IP.
    rate_limit_user_per_minute: int = 1200
    rate_limit_ip_per_minute: int = 600
    upstream_timeout_s: float = 15.0
    upstream_connect_timeout_s: float = 3.0
    upstream_max_connections: int = 256
    # An open event stream's token is checked again this often (revocation, expiry).
    stream_recheck_s: float = 5.0
    readiness_timeout_s: float = 2.0
    openapi_cache_s: float = 60.0
    # Anonymous catalog reads are kept this long at the gateway (0 turns it off). It stacks on
    # the catalog's own one-second copy, so an anonymous answer can be up to about two seconds
    # older than the catalog's cache (signed-in requests always go through).
    micro_cache_ttl_s: float = 1.0
    micro_cache_entries: int = 5000
    # The browser client's files, served at / (none when the directory does not exist).
    web_dir: Path = Path(__file__).resolve().parents[3] / "web"

    def service_urls(self) -> dict[str, str]:
        """Each upstream of the service registry (`shared/services.py`) by name."""
        return {service.name: getattr(self, f"{service.name}_url") for service in UPSTREAMS}


settings = GatewaySettings()
