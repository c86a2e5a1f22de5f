"""Meetings: a talk's meeting at a provider, its registrants' personal links, webhook receipts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=True),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("join_url", sa.String(length=2000), nullable=False),
        sa.Column("start_url", sa.Text(), nullable=False),
        sa.Column("password", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("waiting_room", sa.Boolean(), nullable=False),
        sa.Column("links_for_room", sa.Boolean(), nullable=False),
        sa.Column("link_public", sa.Boolean(), nullable=False),
        sa.Column("synced", sa.JSON(), nullable=False),
        sa.Column("live_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recording_url", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["talk_id"], ["talk.id"], name=op.f("fk_meeting_talk_id_talk"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting")),
        sa.UniqueConstraint("talk_id", name=op.f("uq_meeting_talk_id")),
    )
    op.create_table(
        "registrant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("rsvp_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("registrant_id", sa.String(length=100), nullable=False),
        sa.Column("join_url", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_registrant_meeting_id_meeting"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["rsvp_id"], ["rsvp.id"], name=op.f("fk_registrant_rsvp_id_rsvp"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrant")),
        sa.UniqueConstraint("rsvp_id", name=op.f("uq_registrant_rsvp_id")),
    )
    op.create_index(op.f("ix_registrant_meeting_id"), "registrant", ["meeting_id"])
    op.create_table(
        "webhook_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_receipt")),
        sa.UniqueConstraint("signature", name=op.f("uq_webhook_receipt_signature")),
    )
    op.create_index(op.f("ix_webhook_receipt_received_at"), "webhook_receipt", ["received_at"])


def downgrade():
    op.drop_index(op.f("ix_webhook_receipt_received_at"), table_name="webhook_receipt")
    op.drop_table("webhook_receipt")
    op.drop_index(op.f("ix_registrant_meeting_id"), table_name="registrant")
    op.drop_table("registrant")
    op.drop_table("meeting")
