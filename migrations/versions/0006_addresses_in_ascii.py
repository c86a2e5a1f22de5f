"""Addresses saved with an internationalised domain are kept in the ASCII form mail servers take

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 02:10:00

Earlier versions kept `zoe@bücher.example` as typed; Lectern now keeps `zoe@xn--bcher-kva.example`,
so that one person is one address to the one-sign-up rule and every mail server takes it. A
sign-up whose ASCII form is already the address of another active sign-up for the same talk is
left as it was (mail to it is converted when sent).
"""

import sqlalchemy as sa
from alembic import op
from email_validator import EmailNotValidError, validate_email

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _ascii(address):
    if address.isascii():
        return None
    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None  # nothing better to store; delivery gives up on it as before
    return checked.ascii_email.lower() if checked.ascii_email else None


def upgrade():
    bind = op.get_bind()
    rsvp = sa.table("rsvp", sa.column("id"), sa.column("talk_id"), sa.column("email"))
    for row in bind.execute(sa.select(rsvp.c.id, rsvp.c.talk_id, rsvp.c.email)).all():
        new = _ascii(row.email)
        if new is None:
            continue
        clash = bind.execute(
            sa.select(rsvp.c.id).where(rsvp.c.talk_id == row.talk_id, rsvp.c.email == new, rsvp.c.id != row.id)
        ).first()
        if clash is None:
            bind.execute(rsvp.update().where(rsvp.c.id == row.id).values(email=new))

    organizer = sa.table("organizer", sa.column("id"), sa.column("email"))
    for row in bind.execute(sa.select(organizer.c.id, organizer.c.email)).all():
        new = _ascii(row.email)
        if new and bind.execute(sa.select(organizer.c.id).where(organizer.c.email == new)).first() is None:
            bind.execute(organizer.update().where(organizer.c.id == row.id).values(email=new))

    series = sa.table("series", sa.column("id"), sa.column("contact_email"))
    for row in bind.execute(sa.select(series.c.id, series.c.contact_email)).all():
        new = _ascii(row.contact_email or "")
        if new:
            bind.execute(series.update().where(series.c.id == row.id).values(contact_email=new))


def downgrade():
    pass  # the ASCII form is the same address: nothing to undo
