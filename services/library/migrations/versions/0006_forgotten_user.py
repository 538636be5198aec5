"""forgotten_user: a deleted account stays deleted

A write already under way when the account's deletion is applied (a request past the gateway
before the tokens were revoked, a late event) must not bring the user back. The deletion takes
a per-user advisory lock, leaves a tombstone and removes everything; a trigger on every table
keyed by user takes the same lock shared (so a deletion waits for writes already under way, and
removes what they wrote) and refuses a write for a tombstoned user with SQLSTATE P0L01.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 07:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USER_TABLES = (
    "favorite",
    "watchlist_entry",
    "watchlist_setting",
    "not_interested_entry",
    "rating",
    "review",
    "watch_entry",
    "user_directory",
)


def upgrade() -> None:
    op.create_table(
        "forgotten_user",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_forgotten_user")),
    )
    op.execute(
        """
        CREATE FUNCTION refuse_forgotten_user() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_advisory_xact_lock_shared(hashtextextended(NEW.user_id::text, 7401));
          IF EXISTS (SELECT 1 FROM forgotten_user WHERE user_id = NEW.user_id) THEN
            RAISE EXCEPTION 'account % was deleted', NEW.user_id USING ERRCODE = 'P0L01';
          END IF;
          RETURN NEW;
        END $$
        """
    )
    for table in USER_TABLES:
        op.execute(
            f"CREATE TRIGGER refuse_forgotten_user BEFORE INSERT OR UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_forgotten_user()"
        )


def downgrade() -> None:
    for table in USER_TABLES:
        op.execute(f"DROP TRIGGER refuse_forgotten_user ON {table}")
    op.execute("DROP FUNCTION refuse_forgotten_user()")
    op.drop_table("forgotten_user")
