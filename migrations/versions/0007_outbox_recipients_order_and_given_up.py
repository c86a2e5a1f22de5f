"""Outbox messages may carry their own recipient, wait for another message, and say when they were given up on

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:30:00

Messages given up on before this version are recognised by the reason they kept.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    # SQLite rebuilds the table: keep its AUTOINCREMENT (0004).
    with op.batch_alter_table("outbox_message", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.add_column(sa.Column("given_up_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("recipient_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("recipient_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("after_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("wait_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_message_after_id_outbox_message"),
            "outbox_message",
            ["after_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_outbox_message_after_id"), ["after_id"], unique=False)

    message = sa.table(
        "outbox_message", sa.column("done_at", sa.DateTime(timezone=True)), sa.column("given_up_at"), sa.column("last_error")
    )
    op.execute(
        message.update()
        .where(message.c.done_at.is_not(None), message.c.last_error.like("gave up after %"))
        .values(given_up_at=message.c.done_at)
    )


def downgrade():
    with op.batch_alter_table("outbox_message", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message_after_id"))
        batch_op.drop_constraint(batch_op.f("fk_outbox_message_after_id_outbox_message"), type_="foreignkey")
        batch_op.drop_column("wait_until")
        batch_op.drop_column("after_id")
        batch_op.drop_column("recipient_name")
        batch_op.drop_column("recipient_email")
        batch_op.drop_column("given_up_at")
