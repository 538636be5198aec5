"""Alembic environment of the catalog service."""

from alembic import context

import catalog.community  # noqa: F401  (registers the tables)
import shared.inbox
import shared.outbox  # noqa: F401
from catalog.config import CatalogSettings
from shared.migrations import run_env

if not context.config.get_main_option("sqlalchemy.url"):
    context.config.set_main_option("sqlalchemy.url", CatalogSettings().database_url)
run_env()
