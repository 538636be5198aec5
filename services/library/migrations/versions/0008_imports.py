"""import_job and import_row: imports from Letterboxd, IMDb and Trakt, resumable by any replica

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("matched", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
    )
    op.create_index("ix_import_job_user_created", "import_job", ["user_id", "created_at"])
    op.create_index(
        "ix_import_job_unfinished",
        "import_job",
        ["created_at"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_table(
        "import_row",
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("year", sa.SmallInteger(), nullable=True),
        sa.Column("tmdb_id", sa.Integer(), nullable=True),
        sa.Column("imdb_id", sa.String(length=12), nullable=True),
        sa.Column("score", sa.Numeric(precision=3, scale=1), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("list_name", sa.String(length=100), nullable=True),
        sa.Column("list_description", sa.String(length=2000), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("not_a_film", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("import_id", "seq", name=op.f("pk_import_row")),
    )
    op.create_index(
        "ix_import_row_pending",
        "import_row",
        ["import_id", "seq"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_import_row_unmatched",
        "import_row",
        ["import_id", "seq"],
        postgresql_where=sa.text("state = 'unmatched'"),
    )
    # A deleted account stays deleted (0006): no import starts for it afterwards
    op.execute(
        "CREATE TRIGGER refuse_forgotten_user BEFORE INSERT ON import_job "
        "FOR EACH ROW EXECUTE FUNCTION refuse_forgotten_user()"
    )


def downgrade() -> None:
    op.drop_table("import_row")
    op.drop_table("import_job")
