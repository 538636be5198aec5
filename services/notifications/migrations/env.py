"""Alembic environment of the notifications service."""

from alembic import context

import notifications.models  # noqa: F401  (registers the tables)
import shared.inbox
import shared.outbox  # noqa: F401
from notifications.config import NotificationsSettings
from shared.migrations import run_env

if not context.config.get_main_option("sqlalchemy.url"):
    context.config.set_main_option("sqlalchemy.url", NotificationsSettings().database_url)
run_env()
