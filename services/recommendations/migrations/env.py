"""Alembic environment of the recommendations service."""

from alembic import context

import recommendations.models  # noqa: F401  (registers the tables)
import shared.inbox
import shared.outbox  # noqa: F401
from recommendations.config import RecommendationsSettings
from shared.migrations import run_env

if not context.config.get_main_option("sqlalchemy.url"):
    context.config.set_main_option("sqlalchemy.url", RecommendationsSettings().database_url)
run_env()
