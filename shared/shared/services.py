"""The one description of the system's services: names, ports, what each one needs.

Everything that lists the services derives from this table: the process supervisor and the
test stack (tools/), `make chaos` and `make bench`, the migrations runner, the gateway's
upstreams, the one service Dockerfile (its build arguments) and the deployment checks in
tests/deploy. A new service is one entry here (and its package under services/).
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    name: str
    port: int
    database: bool = False  # owns a PostgreSQL database (and migrations)
    catalog_client: bool = False  # asks the catalog, at <NAME>_CATALOG_URL
    behind_gateway: bool = True  # the gateway routes to it, at GATEWAY_<NAME>_URL
    # Holds what users keep (their part of an account export), asked by auth at AUTH_<NAME>_URL
    holds_user_data: bool = False

    @property
    def app(self) -> str:
        """The ASGI factory uvicorn serves."""
        return f"{self.name}.app:create_app"

    @property
    def package(self) -> str:
        """The workspace package that holds it."""
        return f"{self.name}-service"


SERVICES: tuple[ServiceInfo, ...] = (
    ServiceInfo("auth", 8001, database=True),
    ServiceInfo("catalog", 8002, database=True),
    ServiceInfo("library", 8003, database=True, catalog_client=True, holds_user_data=True),
    ServiceInfo("recommendations", 8004, database=True, catalog_client=True, holds_user_data=True),
    ServiceInfo("notifications", 8005, database=True, catalog_client=True, holds_user_data=True),
    ServiceInfo("gateway", 8000, behind_gateway=False),
)
SANDBOX_PORT = 8090  # the TMDb sandbox (tools/tmdb_sandbox), not a service of the product

BY_NAME = {service.name: service for service in SERVICES}
WITH_DATABASE = tuple(service.name for service in SERVICES if service.database)
UPSTREAMS = tuple(service for service in SERVICES if service.behind_gateway)
CATALOG_CLIENTS = tuple(service.name for service in SERVICES if service.catalog_client)
USER_DATA_HOLDERS = tuple(service.name for service in SERVICES if service.holds_user_data)


def local_wiring(urls: dict[str, str]) -> dict[str, str]:
    """The environment that points the services at each other, given each one's base URL."""
    return {
        **{f"GATEWAY_{service.name.upper()}_URL": urls[service.name] for service in UPSTREAMS},
        **{f"{name.upper()}_CATALOG_URL": urls["catalog"] for name in CATALOG_CLIENTS},
        **{f"AUTH_{name.upper()}_URL": urls[name] for name in USER_DATA_HOLDERS},
    }
