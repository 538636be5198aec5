"""user_list and list_item: lists of a user's own, ordered, with a note per title

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_list",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("item_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_list")),
    )
    op.create_index(
        "uq_user_list_user_name", "user_list", ["user_id", sa.text("lower(name)")], unique=True
    )
    op.create_index("ix_user_list_user_created", "user_list", ["user_id", "created_at"])
    op.create_table(
        "list_item",
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.Column("movie_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["user_list.id"],
            name=op.f("fk_list_item_list_id_user_list"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("list_id", "movie_id", name=op.f("pk_list_item")),
    )
    op.create_index("ix_list_item_list_position", "list_item", ["list_id", "position"])
    op.create_index("ix_list_item_user_movie", "list_item", ["user_id", "movie_id"])
    for table in ("user_list", "list_item"):  # a deleted account stays deleted (0006)
        op.execute(
            f"CREATE TRIGGER refuse_forgotten_user BEFORE INSERT OR UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_forgotten_user()"
        )


def downgrade() -> None:
    op.drop_table("list_item")
    op.drop_table("user_list")
