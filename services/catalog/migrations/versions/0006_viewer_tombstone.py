"""viewer: a deleted account's row stays as a tombstone no later change brings back

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "viewer",
        sa.Column("forgotten", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.execute("DELETE FROM viewer WHERE forgotten")
    op.drop_column("viewer", "forgotten")
