"""Organizers see the messages Lectern gave up on, and have them tried again."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from extensions import db
from models import AuditEntry, OutboxMessage, Talk
from services import outbox, signups
from tests.rsvp_support import sent

NOW = datetime.now(UTC)


def given_up_confirmation(app: Flask) -> int:
    """Ada's confirmation, refused by the mail server until Lectern stopped trying."""
    with app.app_context():
        talk = db.session.scalars(select(Talk).where(Talk.slug == "what-quiet-benchmarks-hide")).one()
        rsvp = signups.sign_up(db.session, talk.id, name="Ann", email="ann@example.org", mode="room", now=NOW).rsvp
        [message] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.rsvp_id == rsvp.id)).all()
        message.attempts = outbox.MAX_ATTEMPTS - 1
        outbox.mark_failed(message, "550 mailbox unavailable", NOW)
        outbox.take_pending_ids(db.session)
        db.session.commit()
        return message.id


def test_messages_given_up_on_are_listed_with_their_reason(seeded: Flask, ada: FlaskClient) -> None:
    assert "Nothing undelivered." in ada.get("/organize/outbox").get_data(as_text=True)
    given_up_confirmation(seeded)
    page = ada.get("/organize/outbox").get_data(as_text=True)
    assert "Sign-up confirmation (email)" in page
    assert "What Quiet Benchmarks Hide" in page or "what-quiet-benchmarks-hide" in page
    assert "ann@example.org" in page
    assert "<td>20</td>" in page
    assert "gave up after 20 attempts: 550 mailbox unavailable" in page
    assert "Try again" in page
    assert 'href="/organize/outbox"' in ada.get("/organize/").get_data(as_text=True), "in the navigation"


def test_try_again_sends_the_message_now(seeded: Flask, ada: FlaskClient) -> None:
    message_id = given_up_confirmation(seeded)
    before = len(sent(seeded))
    response = ada.post(f"/organize/outbox/{message_id}/try-again")
    assert response.status_code == 302
    assert [email["To"] for email in sent(seeded)[before:]] == ["Ann <ann@example.org>"]
    with seeded.app_context():
        message = db.session.get(OutboxMessage, message_id)
        assert message.given_up_at is None and message.done_at is not None and message.attempts == 0
        assert db.session.scalars(select(AuditEntry.action)).all()[-1] == "outbox.try_again"
    assert "Nothing undelivered." in ada.get("/organize/outbox").get_data(as_text=True)
    # Once sent, there is nothing left to try again.
    ada.post(f"/organize/outbox/{message_id}/try-again")
    assert len(sent(seeded)) == before + 1


def test_try_again_is_a_post_for_organizers_only(seeded: Flask, client: FlaskClient) -> None:
    message_id = given_up_confirmation(seeded)
    assert client.get("/organize/outbox").status_code in (302, 401, 403)
    assert client.post(f"/organize/outbox/{message_id}/try-again").status_code in (302, 401, 403)
    with seeded.app_context():
        assert db.session.get(OutboxMessage, message_id).given_up_at is not None
