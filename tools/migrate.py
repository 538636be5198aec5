"""Create each service's PostgreSQL database if missing and run its Alembic migrations.

Database URLs come from the services' own settings (AUTH_DATABASE_URL and so on).
"""

import importlib
import logging
import sys
from pathlib import Path

from shared.config import DatabaseSettings
from shared.migrations import upgrade
from shared.services import WITH_DATABASE

ROOT = Path(__file__).resolve().parent.parent


def database_url(name: str) -> str:
    """The service's own setting (<NAME>_DATABASE_URL), read as the service reads it."""
    settings = importlib.import_module(f"{name}.config").settings
    assert isinstance(settings, DatabaseSettings)
    return settings.database_url


def migrate_all(overrides: dict[str, str] | None = None) -> None:
    for name in WITH_DATABASE:
        url = (overrides or {}).get(name) or database_url(name)
        upgrade(ROOT / "services" / name, url)
        print(f"migrate: {name} is at the newest schema", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    try:
        migrate_all()
    except Exception as exc:
        print(f"migrate: failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
