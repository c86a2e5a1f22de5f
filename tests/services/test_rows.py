"""One object's row written with one INSERT: the object is then as if read, and nothing is written twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event, inspect, select, text
from sqlalchemy.dialects import sqlite

from extensions import db
from models import ACTIVE_RSVP, Organizer, OutboxMessage, Rsvp, RsvpStatus, Talk
from services import rows
from tests.rsvp_support import make_talk

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def new_rsvp(talk: Talk, email: str) -> Rsvp:
    return Rsvp(
        talk_id=talk.id,
        talk=talk,
        email=email,
        name="Ada",
        status=RsvpStatus.SEATED,
        queued_at=NOW,
        token_nonce="0123456789abcdef",
        sequence=0,
    )


def statements_during(action: object) -> list[str]:
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        action()  # type: ignore[operator]
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    return seen


def column_values(obj: object) -> dict[str, object]:
    return {attr.key: getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs}


def test_the_object_written_holds_what_its_row_holds_defaults_included_and_nothing_is_left_to_flush(
    ctx: Flask,
) -> None:
    talk = make_talk(seats=5)
    rsvp = rows.insert(db.session, new_rsvp(talk, "ada@example.org"), rows.insert_statement(Rsvp))

    state = inspect(rsvp)
    assert state.persistent and not state.modified
    assert rsvp.id is not None and rsvp.created_at is not None and rsvp.walk_in is False  # defaults came back
    assert statements_during(db.session.flush) == [], "nothing is written twice"
    assert statements_during(lambda: rsvp.talk) == [], "the relationship set on it is loaded"
    written = column_values(rsvp)

    db.session.commit()
    db.session.expire_all()
    assert column_values(db.session.get(Rsvp, written["id"])) == written


def test_a_change_to_the_object_written_is_flushed_as_usual(ctx: Flask) -> None:
    talk = make_talk(seats=5)
    rsvp = rows.insert(db.session, new_rsvp(talk, "ada@example.org"), rows.insert_statement(Rsvp))
    rsvp.name = "Ada Lovelace"
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalars(select(Rsvp.name)).all() == ["Ada Lovelace"]


def test_a_conflict_writes_nothing_and_leaves_the_object_out_of_the_session(ctx: Flask) -> None:
    talk = make_talk(seats=5)
    table = Rsvp.__table__
    unless_signed_up = (
        sqlite.insert(table)
        .on_conflict_do_nothing(index_elements=[table.c.talk_id, table.c.email], index_where=text(ACTIVE_RSVP))
        .returning(table.c.id)
    )
    first = rows.insert_unless_conflict(db.session, new_rsvp(talk, "ada@example.org"), unless_signed_up)
    again = new_rsvp(talk, "ada@example.org")

    assert rows.insert_unless_conflict(db.session, again, unless_signed_up) is None
    assert again not in db.session and first in db.session
    assert db.session.scalars(select(Rsvp.id)).all() == [first.id]  # type: ignore[union-attr]


def test_a_column_the_statement_works_out_is_read_back_and_not_left_to_flush(ctx: Flask) -> None:
    talk = make_talk(seats=5)
    table = Rsvp.__table__
    named_by_statement = (
        table.insert().values(name=sa.func.upper(sa.bindparam("typed"))).returning(table.c.id, table.c.name)
    )
    rsvp = new_rsvp(talk, "ada@example.org")

    written = rows.insert_unless_conflict(
        db.session, rsvp, named_by_statement, computed=("name",), params={"typed": "ada lovelace"}
    )

    assert written is rsvp and rsvp.name == "ADA LOVELACE"
    assert not db.session.dirty and inspect(rsvp).persistent
    db.session.commit()
    assert db.session.scalar(select(Rsvp.name).where(Rsvp.id == rsvp.id)) == "ADA LOVELACE"


def test_an_id_given_out_again_after_a_rollback_goes_to_the_object_left_over(ctx: Flask) -> None:
    talk = make_talk(seats=5)
    rolled_back = rows.insert(db.session, new_rsvp(talk, "ada@example.org"), rows.insert_statement(Rsvp))
    first_id = rolled_back.id
    db.session.rollback()

    again = rows.insert(db.session, new_rsvp(talk, "bob@example.org"), rows.insert_statement(Rsvp))
    db.session.commit()
    assert again.id == first_id  # SQLite gives the id out again
    assert again.email == "bob@example.org"
    assert db.session.scalars(select(Rsvp.email)).all() == ["bob@example.org"]


def test_a_message_written_keeps_its_payload_and_gets_its_defaults(ctx: Flask) -> None:
    talk = make_talk(seats=5)
    message = rows.insert(
        db.session,
        OutboxMessage(kind="talk.changed", talk_id=talk.id, talk=talk, payload={"what": "room"}),
        rows.insert_statement(OutboxMessage),
    )
    db.session.commit()
    db.session.expire_all()
    assert (message.kind, message.talk, message.payload) == ("talk.changed", talk, {"what": "room"})
    assert (message.attempts, message.last_error, message.done_at) == (0, "", None)


def test_a_column_the_database_would_fill_in_must_be_set(ctx: Flask) -> None:
    with pytest.raises(ValueError, match="gets its value from the database"):
        rows._default(sa.Column("filled_in", sa.Integer, server_default="0"))


def test_a_column_with_a_default_in_python_gets_it_as_the_orm_would(ctx: Flask) -> None:
    organizer = rows.insert(db.session, Organizer(email="org@example.org"), rows.insert_statement(Organizer))
    assert len(organizer.session_key) == 32, "the Python default, not the migration's server default"
