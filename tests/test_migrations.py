"""Migrations that rewrite data: what was saved before is what the rules expect after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import flask_migrate
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import select

from extensions import db
from models import Organizer, Rsvp, Talk
from services import outbox
from tests.conftest import dispose, make_app
from tests.rsvp_support import make_talk


def _insert(table: str, **values: object) -> int:
    """A row written as an earlier version wrote it: through its tables as they were then, not
    today's models (which know columns the older schema lacks)."""
    reflected = sa.Table(table, sa.MetaData(), autoload_with=db.session.connection())
    return db.session.execute(reflected.insert().values(**values)).inserted_primary_key[0]


def _old_talk(now: datetime, contact_email: str = "talks@example.org") -> int:
    """A series and a published talk three days ahead, as the versions before 0010 wrote them."""
    series_id = _insert(
        "series",
        name="Test Series",
        timezone="America/Montreal",
        default_minutes=60,
        contact_email=contact_email,
        description="",
        rsvp_domains="",
        updated_at=now,
    )
    return _insert(
        "talk",
        series_id=series_id,
        slug="a-talk",
        title="A talk",
        status="scheduled",
        published=True,
        starts_at=now + timedelta(days=3),
        ends_at=now + timedelta(days=3, hours=1),
        intro_md="",
        links="[]",
        images="[]",
        sequence=0,
        rsvp_open=True,
        ask_affiliation=False,
        ask_question=False,
        created_at=now,
        updated_at=now,
    )


def _old_rsvp(talk_id: int, email: str, now: datetime, status: str = "seated") -> int:
    return _insert(
        "rsvp",
        talk_id=talk_id,
        email=email,
        name="X",
        affiliation="",
        question="",
        status=status,
        queued_at=now,
        token_nonce="n",
        walk_in=False,
        sequence=0,
        created_at=now,
        updated_at=now,
    )


def test_addresses_saved_with_an_idn_domain_are_kept_in_ascii_after_the_upgrade(tmp_path: Path) -> None:
    app = make_app(tmp_path, upgrade_to="0005")  # as an earlier version left its database
    try:
        with app.app_context():
            now = datetime.now(UTC)
            talk_id = _old_talk(now, contact_email="Talks@Bücher.example")
            # As the previous version saved them: the domain as typed (lower-cased Unicode).
            for email in ("zoe@bücher.example", "max@bücher.example", "max@xn--bcher-kva.example"):
                _old_rsvp(talk_id, email, now)
            _insert("organizer", email="ada@bücher.example", name="", invited_by="", created_at=now, session_key="k")
            db.session.commit()
            db.session.remove()

            flask_migrate.upgrade()

            emails = sorted(db.session.scalars(select(Rsvp.email).where(Rsvp.talk_id == talk_id)))
            assert emails == ["max@bücher.example", "max@xn--bcher-kva.example", "zoe@xn--bcher-kva.example"], (
                "converted, except where the ASCII form is someone's already"
            )
            assert db.session.scalars(select(Organizer.email)).all() == ["ada@xn--bcher-kva.example"]
            assert db.session.get(Talk, talk_id).series.contact_email == "talks@xn--bcher-kva.example"
    finally:
        dispose(app)


def test_messages_given_up_on_before_the_upgrade_are_listed_as_such(tmp_path: Path) -> None:
    app = make_app(tmp_path, upgrade_to="0006")  # as an earlier version left its database
    try:
        with app.app_context():
            then = datetime(2030, 1, 1, tzinfo=UTC)
            table = sa.table(
                "outbox_message",
                *(sa.column(name) for name in ("kind", "payload", "created_at", "attempts", "next_attempt_at")),
                sa.column("last_error"),
                sa.column("done_at", sa.DateTime(timezone=True)),
            )
            for error, done in (("gave up after 20 attempts: 550", then), ("", then), ("timeout", None)):
                db.session.execute(
                    table.insert().values(
                        kind="rsvp.confirmation",
                        payload="{}",
                        created_at=then,
                        attempts=20 if done and error else 1,
                        next_attempt_at=then,
                        last_error=error,
                        done_at=done,
                    )
                )
            db.session.commit()
            db.session.remove()

            flask_migrate.upgrade()

            assert [(m.last_error, m.given_up_at) for m in outbox.given_up(db.session)] == [
                ("gave up after 20 attempts: 550", then)
            ]
            message = outbox.add(db.session, "talk.changed", talk=make_talk(5))
            db.session.commit()
            assert message.id == 4 and message.after_id is None
    finally:
        dispose(app)


def test_the_seats_taken_are_counted_at_the_upgrade_and_kept_after_it(tmp_path: Path) -> None:
    app = make_app(tmp_path, upgrade_to="0009")  # before talks kept their seats taken
    try:
        with app.app_context():
            now = datetime.now(UTC)
            talk_id = _old_talk(now)
            for n, status in enumerate(["seated", "seated", "waiting", "online", "cancelled", "seated"]):
                _old_rsvp(talk_id, f"p{n}@example.org", now, status)
            db.session.commit()
            db.session.remove()

            flask_migrate.upgrade()

            seats_taken = sa.select(Talk.__table__.c.seats_taken).where(Talk.__table__.c.id == talk_id)
            assert db.session.scalar(seats_taken) == 3, "the seated sign-ups saved before"
            _old_rsvp(talk_id, "late@example.org", now)
            db.session.commit()
            assert db.session.scalar(seats_taken) == 4, "kept by the triggers from then on"
    finally:
        dispose(app)


def test_the_last_migration_leaves_the_triggers_that_keep_the_seats_taken(app: Flask) -> None:
    """A later migration that rebuilds `rsvp` on SQLite (batch mode) drops its triggers: it must
    create them again (migrations/versions/0010_seats_taken.py)."""
    with app.app_context():
        names = db.session.scalars(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).all()
    assert sorted(names) == ["rsvp_seat_changed", "rsvp_seat_freed", "rsvp_seat_taken"]


def test_going_back_before_the_seats_taken_keeps_every_sign_up(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    try:
        with app.app_context():
            now = datetime.now(UTC)
            talk_id = _old_talk(now)
            for n in range(2):
                _old_rsvp(talk_id, f"p{n}@example.org", now)
            db.session.commit()
            db.session.remove()

            flask_migrate.downgrade(revision="0009")

            assert db.session.scalar(sa.text("SELECT count(*) FROM rsvp")) == 2
            columns = [row[1] for row in db.session.execute(sa.text("PRAGMA table_info(talk)"))]
            assert "seats_taken" not in columns and "title" in columns
            triggers = db.session.scalars(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).all()
            assert triggers == []
    finally:
        dispose(app)
