"""Outbox message ids are never reused (SQLite AUTOINCREMENT)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 08:15:00

"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    # PostgreSQL's sequences never hand out an id twice; SQLite needs its table rebuilt.
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("outbox_message", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("outbox_message", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
