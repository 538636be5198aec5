"""when each subscriber subscribed, and recent trending refreshes for late subscribers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "subscriber",
        sa.Column(
            "subscribed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
    )
    op.execute("UPDATE subscriber SET subscribed_at = updated_at")
    op.create_table(
        "trending_refresh",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("movies", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_trending_refresh")),
    )
    op.create_index(
        "ix_trending_refresh_refreshed_at", "trending_refresh", ["refreshed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_trending_refresh_refreshed_at", table_name="trending_refresh")
    op.drop_table("trending_refresh")
    op.drop_column("subscriber", "subscribed_at")
