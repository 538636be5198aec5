"""Alembic environment of the favorites service."""

from alembic import context

import favorites.models  # noqa: F401  (registers the tables)
import shared.inbox
import shared.outbox  # noqa: F401
from favorites.config import FavoritesSettings
from shared.migrations import run_env

if not context.config.get_main_option("sqlalchemy.url"):
    context.config.set_main_option("sqlalchemy.url", FavoritesSettings().database_url)
run_env()
