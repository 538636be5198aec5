"""adult viewers: who allows adult titles, the read model's truth in the database

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "adult_viewer",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_adult_viewer")),
    )


def downgrade() -> None:
    op.drop_table("adult_viewer")
