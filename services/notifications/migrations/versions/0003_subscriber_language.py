"""each subscriber's language, so notifications name titles in it

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing subscribers take their language with their next preferences change.
    op.add_column("subscriber", sa.Column("language", sa.String(length=2), nullable=True))


def downgrade() -> None:
    op.drop_column("subscriber", "language")
