"""Each talk keeps the number of its seats taken, kept by the database on every change of a sign-up

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 19:30:00

A sign-up decides "seated" or "waiting" by comparing the seats taken with the talk's seats. It
counted the seated sign-ups under the talk's lock, a count that grows with them; `talk.seats_taken`
answers at once. Triggers on `rsvp` keep it, whatever writes a sign-up (the service, a cascade,
a statement typed by hand), in the same transaction as the change.

On SQLite a later migration that rebuilds `rsvp` or `talk` (Alembic's batch mode) must drop the
triggers first (`drop_triggers`) and create them again after (`create_triggers`): rebuilding
`rsvp` drops them, and rebuilding `talk` fails while they name it (tests/test_migrations.py
checks that they are there after the last migration).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SEATED = "'seated'"

POSTGRESQL = [
    f"""
    CREATE FUNCTION lectern_seats_taken() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = {SEATED} THEN
            UPDATE talk SET seats_taken = seats_taken - 1 WHERE id = OLD.talk_id;
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.status = {SEATED} THEN
            UPDATE talk SET seats_taken = seats_taken + 1 WHERE id = NEW.talk_id;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE TRIGGER rsvp_seat_taken AFTER INSERT ON rsvp
    FOR EACH ROW WHEN (NEW.status = {SEATED}) EXECUTE FUNCTION lectern_seats_taken()
    """,
    f"""
    CREATE TRIGGER rsvp_seat_freed AFTER DELETE ON rsvp
    FOR EACH ROW WHEN (OLD.status = {SEATED}) EXECUTE FUNCTION lectern_seats_taken()
    """,
    f"""
    CREATE TRIGGER rsvp_seat_changed AFTER UPDATE OF status, talk_id ON rsvp
    FOR EACH ROW WHEN ((OLD.status = {SEATED} OR NEW.status = {SEATED})
                       AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.talk_id IS DISTINCT FROM NEW.talk_id))
    EXECUTE FUNCTION lectern_seats_taken()
    """,
]

SQLITE = [
    f"""
    CREATE TRIGGER rsvp_seat_taken AFTER INSERT ON rsvp WHEN NEW.status = {SEATED}
    BEGIN
        UPDATE talk SET seats_taken = seats_taken + 1 WHERE id = NEW.talk_id;
    END
    """,
    f"""
    CREATE TRIGGER rsvp_seat_freed AFTER DELETE ON rsvp WHEN OLD.status = {SEATED}
    BEGIN
        UPDATE talk SET seats_taken = seats_taken - 1 WHERE id = OLD.talk_id;
    END
    """,
    f"""
    CREATE TRIGGER rsvp_seat_changed AFTER UPDATE OF status, talk_id ON rsvp
    WHEN (OLD.status = {SEATED} OR NEW.status = {SEATED})
         AND (OLD.status IS NOT NEW.status OR OLD.talk_id IS NOT NEW.talk_id)
    BEGIN
        UPDATE talk SET seats_taken = seats_taken - 1 WHERE id = OLD.talk_id AND OLD.status = {SEATED};
        UPDATE talk SET seats_taken = seats_taken + 1 WHERE id = NEW.talk_id AND NEW.status = {SEATED};
    END
    """,
]

TRIGGERS = ("rsvp_seat_taken", "rsvp_seat_freed", "rsvp_seat_changed")


def create_triggers():
    for statement in POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def drop_triggers():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON rsvp" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS lectern_seats_taken()")


def upgrade():
    # A plain ADD COLUMN (no batch rebuild of `talk` on SQLite).
    op.add_column("talk", sa.Column("seats_taken", sa.Integer(), nullable=False, server_default="0"))
    # Triggers first: on PostgreSQL creating them locks `rsvp` against writes until this
    # migration commits, so no sign-up slips in between the count and the triggers.
    create_triggers()
    op.execute(
        "UPDATE talk SET seats_taken = "
        f"(SELECT count(*) FROM rsvp WHERE rsvp.talk_id = talk.id AND rsvp.status = {SEATED})"
    )


def downgrade():
    drop_triggers()
    # A plain DROP COLUMN (SQLite 3.35 and later), never a batch rebuild of `talk`: dropping the
    # table to rebuild it would take every row that references it along (foreign keys are on).
    op.execute("ALTER TABLE talk DROP COLUMN seats_taken")
