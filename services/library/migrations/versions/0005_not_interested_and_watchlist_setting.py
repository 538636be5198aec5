"""not interested titles; the watchlist's remove-when-watched setting

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "not_interested_entry",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("movie_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "movie_id", name=op.f("pk_not_interested_entry")),
    )
    op.create_table(
        "watchlist_setting",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("remove_when_watched", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_watchlist_setting")),
    )


def downgrade() -> None:
    op.drop_table("watchlist_setting")
    op.drop_table("not_interested_entry")
