"""Organizer sessions can be ended on the server: a per-organizer session key

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 01:20:00

"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organizer") as batch:
        batch.add_column(sa.Column("session_key", sa.String(length=32), nullable=False, server_default=""))
    # A key of its own for every organizer: sessions from before the upgrade carry none, and end.
    bind = op.get_bind()
    organizer = sa.table("organizer", sa.column("id", sa.Integer), sa.column("session_key", sa.String))
    for (organizer_id,) in bind.execute(sa.select(organizer.c.id)).all():
        bind.execute(
            organizer.update().where(organizer.c.id == organizer_id).values(session_key=secrets.token_hex(16))
        )


def downgrade():
    with op.batch_alter_table("organizer") as batch:
        batch.drop_column("session_key")
