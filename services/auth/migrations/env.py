"""Alembic environment of the auth service."""

from alembic import context

import auth.models  # noqa: F401  (registers the tables)
import shared.inbox
import shared.outbox  # noqa: F401
from auth.config import AuthSettings
from shared.migrations import run_env

if not context.config.get_main_option("sqlalchemy.url"):
    context.config.set_main_option("sqlalchemy.url", AuthSettings().database_url)
run_env()
