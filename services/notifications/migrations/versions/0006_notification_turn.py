"""notification turns: a row per user that each transaction writing them notifications locks
first, so a user's notifications become visible in the order of their seqs

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows come with each user's next notification; none are needed before.
    op.create_table(
        "notification_turn",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_turn")),
    )


def downgrade() -> None:
    op.drop_table("notification_turn")
