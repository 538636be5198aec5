"""forgotten users: a tombstone per deleted account, so no late event writes its taste again

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 13:20:00.000000
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
        "forgotten_user",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_forgotten_user")),
    )


def downgrade() -> None:
    op.drop_table("forgotten_user")
