"""Chats with the speaker: slots, bookings, wishes and draws; the announcement's lists and template

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    # Columns are added with ALTER TABLE, never by rebuilding a table (batch mode): on SQLite a
    # rebuild drops the old table, and ON DELETE CASCADE would take the sign-ups with it.
    op.add_column("series", sa.Column("announce_lists", sa.Text(), nullable=False, server_default=""))
    op.add_column("series", sa.Column("announce_template", sa.Text(), nullable=False, server_default=""))
    op.add_column("talk", sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "talk", sa.Column("chat_assignment", sa.String(length=20), nullable=False, server_default="first_come")
    )
    op.add_column("talk", sa.Column("chat_open", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column("talk", sa.Column("chat_closes_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("talk", sa.Column("chat_draw_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("talk", sa.Column("chat_prefer_new", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("talk", sa.Column("chat_link_nonce", sa.String(length=32), nullable=False, server_default=""))
    op.add_column("talk", sa.Column("chat_schedule_sent_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("talk", sa.Column("chat_speaker_emails", sa.JSON(), nullable=False, server_default="{}"))
    op.add_column("rsvp", sa.Column("chat_topic", sa.Text(), nullable=False, server_default=""))
    op.add_column("rsvp", sa.Column("chat_sequence", sa.Integer(), nullable=False, server_default="0"))

    op.create_table(
        "chat_slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=False),
        sa.Column("speaker_name", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["talk_id"], ["talk.id"], name=op.f("fk_chat_slot_talk_id_talk"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_slot")),
    )
    op.create_index(op.f("ix_chat_slot_talk_id"), "chat_slot", ["talk_id"])
    op.create_table(
        "chat_booking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("rsvp_id", sa.Integer(), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drawn", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["chat_slot.id"], name=op.f("fk_chat_booking_slot_id_chat_slot"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rsvp_id"], ["rsvp.id"], name=op.f("fk_chat_booking_rsvp_id_rsvp"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["talk_id"], ["talk.id"], name=op.f("fk_chat_booking_talk_id_talk"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_booking")),
        sa.UniqueConstraint("rsvp_id", name=op.f("uq_chat_booking_rsvp_id")),
    )
    op.create_index(op.f("ix_chat_booking_slot_id"), "chat_booking", ["slot_id"])
    op.create_index(op.f("ix_chat_booking_talk_id"), "chat_booking", ["talk_id"])
    op.create_table(
        "chat_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=False),
        sa.Column("rsvp_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["talk_id"], ["talk.id"], name=op.f("fk_chat_request_talk_id_talk"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rsvp_id"], ["rsvp.id"], name=op.f("fk_chat_request_rsvp_id_rsvp"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["chat_slot.id"], name=op.f("fk_chat_request_slot_id_chat_slot"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_request")),
        sa.UniqueConstraint("rsvp_id", "rank", name="uq_chat_request_rank"),
        sa.UniqueConstraint("rsvp_id", "slot_id", name="uq_chat_request_slot"),
    )
    op.create_index(op.f("ix_chat_request_talk_id"), "chat_request", ["talk_id"])
    op.create_table(
        "chat_draw",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["talk_id"], ["talk.id"], name=op.f("fk_chat_draw_talk_id_talk"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_draw")),
        sa.UniqueConstraint("talk_id", name=op.f("uq_chat_draw_talk_id")),
    )


def downgrade():
    op.drop_table("chat_draw")
    op.drop_index(op.f("ix_chat_request_talk_id"), table_name="chat_request")
    op.drop_table("chat_request")
    op.drop_index(op.f("ix_chat_booking_talk_id"), table_name="chat_booking")
    op.drop_index(op.f("ix_chat_booking_slot_id"), table_name="chat_booking")
    op.drop_table("chat_booking")
    op.drop_index(op.f("ix_chat_slot_talk_id"), table_name="chat_slot")
    op.drop_table("chat_slot")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later): a batch rebuild of `talk` would
    # drop the old table, and with it, through ON DELETE CASCADE, every sign-up.
    for table, column in (
        ("rsvp", "chat_sequence"),
        ("rsvp", "chat_topic"),
        ("talk", "chat_speaker_emails"),
        ("talk", "chat_schedule_sent_at"),
        ("talk", "chat_link_nonce"),
        ("talk", "chat_prefer_new"),
        ("talk", "chat_draw_at"),
        ("talk", "chat_closes_at"),
        ("talk", "chat_open"),
        ("talk", "chat_assignment"),
        ("talk", "announced_at"),
        ("series", "announce_template"),
        ("series", "announce_lists"),
    ):
        op.drop_column(table, column)
