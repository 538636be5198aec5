"""watchlist

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:58:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('watchlist_entry',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('movie_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'movie_id', name=op.f('pk_watchlist_entry'))
    )
    op.create_index('ix_watchlist_entry_user_newest', 'watchlist_entry', ['user_id', 'added_at', 'movie_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_watchlist_entry_user_newest', table_name='watchlist_entry')
    op.drop_table('watchlist_entry')
