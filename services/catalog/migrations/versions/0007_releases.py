"""releases: the services a viewer has, the titles users watch, and what the catalog has
seen of each watched title's releases

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "viewer",
        sa.Column(
            "providers",
            postgresql.ARRAY(sa.Integer()),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
    )
    op.create_table(
        "release_watch",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("movie_id", sa.Integer(), nullable=False),
        sa.Column("list", sa.String(length=16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "movie_id", "list", name=op.f("pk_release_watch")),
    )
    op.create_index(op.f("ix_release_watch_movie_id"), "release_watch", ["movie_id"])
    op.create_table(
        "release_check",
        sa.Column("movie_id", sa.Integer(), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "state",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
        sa.PrimaryKeyConstraint("movie_id", name=op.f("pk_release_check")),
    )
    op.create_index(op.f("ix_release_check_next_check_at"), "release_check", ["next_check_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_release_check_next_check_at"), table_name="release_check")
    op.drop_table("release_check")
    op.drop_index(op.f("ix_release_watch_movie_id"), table_name="release_watch")
    op.drop_table("release_watch")
    op.drop_column("viewer", "providers")
