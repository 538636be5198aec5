"""viewer: the adult viewers' table becomes every viewer's preferences (language, region)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.rename_table("adult_viewer", "viewer")
    op.execute("ALTER TABLE viewer RENAME CONSTRAINT pk_adult_viewer TO pk_viewer")
    op.add_column("viewer", sa.Column("language", sa.String(length=2), nullable=True))
    op.add_column("viewer", sa.Column("region", sa.String(length=2), nullable=True))


def downgrade() -> None:
    op.drop_column("viewer", "region")
    op.drop_column("viewer", "language")
    op.execute("ALTER TABLE viewer RENAME CONSTRAINT pk_viewer TO pk_adult_viewer")
    op.rename_table("viewer", "adult_viewer")
