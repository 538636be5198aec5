"""Create each service's PostgreSQL database if missing and run its Alembic migrations.

Database URLs come from the services' own settings (AUTH_DATABASE_URL and so on).
"""

import logging
import sys
from pathlib import Path

from auth.config import AuthSettings
from catalog.config import CatalogSettings
from favorites.config import FavoritesSettings
from notifications.config import NotificationsSettings
from recommendations.config import RecommendationsSettings
from shared.config import DatabaseSettings
from shared.migrations import upgrade

ROOT = Path(__file__).resolve().parent.parent
SERVICES: dict[str, type[DatabaseSettings]] = {
    "auth": AuthSettings,
    "catalog": CatalogSettings,
    "favorites": FavoritesSettings,
    "recommendations": RecommendationsSettings,
    "notifications": NotificationsSettings,
}


def migrate_all(overrides: dict[str, str] | None = None) -> None:
    for name, settings_class in SERVICES.items():
        url = (overrides or {}).get(name) or settings_class().database_url
        upgrade(ROOT / "services" / name, url)
        print(f"migrate: {name} is at the newest schema", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    try:
        migrate_all()
    except Exception as exc:
        print(f"migrate: failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
