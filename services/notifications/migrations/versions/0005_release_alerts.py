"""release alerts: each subscriber's region, services and wish for release alerts, the titles
on their watchlists, and the alerts already sent (one per user, title and kind)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing subscribers take these with their next preferences change.
    op.add_column("subscriber", sa.Column("region", sa.String(length=2), nullable=True))
    op.add_column(
        "subscriber",
        sa.Column(
            "providers",
            postgresql.ARRAY(sa.Integer()),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
    )
    op.add_column(
        "subscriber",
        sa.Column("notify_releases", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "watchlisted",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("movie_id", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "movie_id", name=op.f("pk_watchlisted")),
    )
    op.create_index(op.f("ix_watchlisted_movie_id"), "watchlisted", ["movie_id"])
    op.create_table(
        "release_alert",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("movie_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "movie_id", "kind", name=op.f("pk_release_alert")),
    )


def downgrade() -> None:
    op.drop_table("release_alert")
    op.drop_index(op.f("ix_watchlisted_movie_id"), table_name="watchlisted")
    op.drop_table("watchlisted")
    op.drop_column("subscriber", "notify_releases")
    op.drop_column("subscriber", "providers")
    op.drop_column("subscriber", "region")
