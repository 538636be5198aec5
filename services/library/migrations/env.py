"""Alembic environment of the library service."""

from alembic import context

import library.favorites.models
import library.history.models
import library.not_interested.models
import library.ratings.models
import library.reviews.models
import library.watchlist.models  # noqa: F401  (registers the tables)
import shared.inbox
import shared.outbox  # noqa: F401
from library.config import LibrarySettings
from shared.migrations import run_env

if not context.config.get_main_option("sqlalchemy.url"):
    context.config.set_main_option("sqlalchemy.url", LibrarySettings().database_url)
run_env()
