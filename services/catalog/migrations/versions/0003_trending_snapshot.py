"""trending snapshot: the last refresh's titles and their data, kept with the database

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 22:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trending_snapshot",
        sa.Column("window", sa.String(length=8), nullable=False),
        sa.Column("movie_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("digests", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("window", name=op.f("pk_trending_snapshot")),
    )


def downgrade() -> None:
    op.drop_table("trending_snapshot")
