"""Emails through a real SMTP server on 127.0.0.1 (aiosmtpd), and what happens when it is down.

The app runs as in production except that jobs run inside the request (JOBS_IMMEDIATE) and the
mail backend is SMTP pointed at the server started here.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy import select

import jobs
from adapters.mail import MailError, SMTPMailer
from extensions import db
from models import OutboxMessage, Rsvp, Talk
from services import chats, outbox, talk_editing, timefmt
from services.tokens import manage_token
from tests.conftest import dispose, make_app
from tests.rsvp_support import make_talk, save_settings

CONTACT = "talks@series.example.org"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it is given."""

    quit_reply: str | None = None
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        return self.quit_reply or "221 Bye"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SMTPServer:
    """A real SMTP server that the test starts (and may start late) on a port chosen in advance."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.inbox.received


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer(free_port())
    yield server
    server.stop()


@pytest.fixture
def app(tmp_path: Path, smtp: SMTPServer) -> Iterator[Flask]:
    app = make_app(tmp_path, MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_TIMEOUT=5)
    assert isinstance(app.extensions["lectern.mailer"], SMTPMailer)
    with app.app_context():
        make_talk(seats=10, slug="smtp-talk", contact_email=CONTACT)
    yield app
    dispose(app)


def sign_up(client: FlaskClient, email_address: str = "ada@example.org") -> str:
    """Sign up; returns the manage page's path (the link the confirmation carries)."""
    response = client.post(
        "/talks/smtp-talk/rsvp", data={"name": "Ada Lovelace", "email": email_address, "mode": "room"}
    )
    assert response.status_code == 303, "the sign-up is accepted whatever the mail server does"
    app = client.application
    with app.app_context():
        rsvp = db.session.scalars(select(Rsvp).order_by(Rsvp.id.desc())).first()
        assert rsvp is not None
        path = "/rsvp/" + manage_token(app.config["SECRET_KEY"], rsvp)
    manage = client.get(path)
    assert manage.status_code == 200
    assert "You have a seat in the room" in manage.get_data(as_text=True)
    return path


def outbox_rows(app: Flask) -> list[OutboxMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def sweep_at(monkeypatch: pytest.MonkeyPatch, app: Flask, moment: datetime) -> int:
    """Run the periodic sweep as the consumer would at `moment`."""
    monkeypatch.setattr(jobs, "now", lambda: moment)
    with app.app_context():
        return jobs.sweep_outbox.call_local()


def invite_of(message: EmailMessage) -> Calendar:
    [part] = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    return Calendar.from_ical(part.get_payload(decode=True))


def test_a_confirmation_arrives_through_smtp_with_its_invite(app: Flask, client: FlaskClient, smtp: SMTPServer) -> None:
    smtp.start()
    manage = sign_up(client)

    [received] = smtp.received
    assert received.mail_from == CONTACT
    assert received.rcpt_tos == ["ada@example.org"]
    message = received.message
    assert parseaddr(message["From"]) == ("Test Series", CONTACT)
    assert parseaddr(message["To"]) == ("Ada Lovelace", "ada@example.org")
    assert message["Subject"] == "Your seat for “Talk smtp-talk”"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "You have a seat in the room for this talk." in text
    assert f"http://lectern.test{manage}" in text
    assert f'href="http://lectern.test{manage}"' in html

    calendar = invite_of(message)
    assert str(calendar["METHOD"]) == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert str(event["ORGANIZER"]) == f"mailto:{CONTACT}"
    assert str(event["ATTENDEE"]) == "mailto:ada@example.org"
    assert str(event["SUMMARY"]).startswith("Talk smtp-talk")

    [row] = outbox_rows(app)
    assert row.done_at is not None and row.attempts == 0


def test_smtp_down_then_up_delivers_once(
    app: Flask, client: FlaskClient, smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_up(client)  # nothing listens on the port yet

    [row] = outbox_rows(app)
    assert row.done_at is None, "still owed"
    assert row.attempts == 1
    assert row.last_error, "the failure is recorded"
    assert row.next_attempt_at > row.created_at, "with a next attempt later"

    now = datetime.now(UTC)
    assert sweep_at(monkeypatch, app, now) == 0, "not retried before its time"

    smtp.start()
    later = row.next_attempt_at + timedelta(seconds=1)
    assert sweep_at(monkeypatch, app, later) == 1
    assert len(smtp.received) == 1
    assert smtp.received[0].message["Subject"] == "Your seat for “Talk smtp-talk”"
    [row] = outbox_rows(app)
    assert row.done_at is not None

    assert sweep_at(monkeypatch, app, later + timedelta(hours=1)) == 0
    assert len(smtp.received) == 1, "exactly once"


def test_a_message_keeps_being_retried_with_growing_delays_while_smtp_is_down(
    app: Flask, client: FlaskClient, smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_up(client)
    delays = []
    for _ in range(3):
        [row] = outbox_rows(app)
        at = row.next_attempt_at + timedelta(seconds=1)
        assert sweep_at(monkeypatch, app, at) == 1
        [after] = outbox_rows(app)
        delays.append(after.next_attempt_at - at)
    assert delays == sorted(delays) and delays[0] < delays[-1]
    assert outbox_rows(app)[0].attempts == 4

    smtp.start()
    [row] = outbox_rows(app)
    sweep_at(monkeypatch, app, row.next_attempt_at + timedelta(seconds=1))
    assert len(smtp.received) == 1


def test_killed_after_commit_and_before_enqueue_loses_nothing(
    app: Flask, client: FlaskClient, smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp.start()
    with monkeypatch.context() as crash:
        crash.setattr(jobs, "dispatch", lambda ids: None)  # the process dies right after the commit
        sign_up(client)
    assert smtp.received == []
    [row] = outbox_rows(app)
    assert row.done_at is None

    assert sweep_at(monkeypatch, app, row.created_at + outbox.GRACE / 2) == 0, "a fresh message is left to its hand-off"
    assert smtp.received == []

    after_grace = row.created_at + outbox.GRACE + timedelta(seconds=1)
    assert sweep_at(monkeypatch, app, after_grace) == 1
    assert len(smtp.received) == 1
    assert smtp.received[0].rcpt_tos == ["ada@example.org"]

    assert sweep_at(monkeypatch, app, after_grace + timedelta(minutes=1)) == 0
    with app.app_context():
        assert jobs.deliver_message.call_local(row.id) == "already done", "a duplicate enqueue sends nothing"
    assert len(smtp.received) == 1


def test_a_server_that_answers_quit_badly_after_accepting_does_not_get_the_message_twice(
    app: Flask, client: FlaskClient, smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp.inbox.quit_reply = "451 Something odd on the way out"
    smtp.start()
    sign_up(client)
    assert len(smtp.received) == 1
    [row] = outbox_rows(app)
    assert row.done_at is not None, "accepted is sent"
    sweep_at(monkeypatch, app, datetime.now(UTC) + timedelta(hours=7))
    assert len(smtp.received) == 1


def test_the_smtp_mailer_reports_a_server_that_is_down(smtp: SMTPServer) -> None:
    mailer = SMTPMailer("127.0.0.1", smtp.port, timeout=2)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = CONTACT, "ada@example.org", "Hello"
    message.set_content("Hello")
    with pytest.raises(MailError, match=f"127.0.0.1:{smtp.port}"):
        mailer.send(message)
    smtp.start()
    mailer.send(message)
    assert [r.message["Subject"] for r in smtp.received] == ["Hello"]


def test_an_address_at_an_internationalised_domain_is_mailed_in_the_form_servers_take(
    app: Flask, client: FlaskClient, smtp: SMTPServer
) -> None:
    smtp.start()
    manage = sign_up(client, "Zoe@Bücher.example")

    with app.app_context():
        [rsvp] = db.session.scalars(select(Rsvp)).all()
        assert rsvp.email == "zoe@xn--bcher-kva.example", "kept in the form every mail server takes"
    [received] = smtp.received
    assert received.rcpt_tos == ["zoe@xn--bcher-kva.example"]
    assert parseaddr(received.message["To"])[1] == "zoe@xn--bcher-kva.example"
    assert f"http://lectern.test{manage}" in received.message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert [row.done_at is not None for row in outbox_rows(app)] == [True], "sent once, nothing left owed"

    # The same person typing the Unicode form again is the same address: no second sign-up.
    client.post("/talks/smtp-talk/rsvp", data={"name": "Zoe", "email": "zoe@bücher.example", "mode": "room"})
    with app.app_context():
        assert len(db.session.scalars(select(Rsvp)).all()) == 1


def test_a_contact_address_at_an_internationalised_domain_sends_every_email(
    app: Flask, client: FlaskClient, smtp: SMTPServer
) -> None:
    smtp.start()
    with app.app_context():
        series = save_settings(db.session.scalars(select(Talk)).one().series, contact_email="Talks@Bücher.example")
        db.session.commit()
        assert series.contact_email == "talks@xn--bcher-kva.example"
    sign_up(client)
    [received] = smtp.received
    assert received.mail_from == "talks@xn--bcher-kva.example"
    assert received.rcpt_tos == ["ada@example.org"]


def test_a_contact_address_no_mail_server_takes_is_refused_at_the_settings(app: Flask) -> None:
    with app.app_context():
        series = db.session.scalars(select(Talk)).one().series
        with pytest.raises(talk_editing.EditError, match="cannot receive email"):
            save_settings(series, contact_email="zoë@example.org")


@dataclass
class Refusing(Inbox):
    """A server that refuses every recipient, naming it as real servers do."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"


def test_a_refused_recipient_is_reported_without_the_address() -> None:
    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = CONTACT, "Ada.Private@example.org", "Hello"
        message.set_content("Hello")
        with pytest.raises(MailError) as raised:
            SMTPMailer("127.0.0.1", port, timeout=5).send(message)
    finally:
        controller.stop()
    assert "550" in str(raised.value) and "<recipient>" in str(raised.value)
    assert "private@example.org" not in str(raised.value).lower()
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_chat_with_the_speaker_arrives_through_smtp_with_its_invite_then_its_cancellation(
    app: Flask, smtp: SMTPServer
) -> None:
    smtp.start()
    with app.app_context():
        talk = db.session.scalars(select(Talk)).one()
        now = datetime.now(UTC)
        [slot] = chats.add_slots(
            db.session, talk.id, first_starts_at=None, count=1, minutes=20, capacity=2, place="Room 301", now=now
        )
        jobs.commit_and_dispatch()
        starts_at, when = slot.starts_at, timefmt.when(slot.starts_at, slot.ends_at, ZoneInfo("America/Montreal"))
        rsvp = chats.book(
            db.session,
            talk.id,
            name="Ada Lovelace",
            email="ada@example.org",
            slot_ids=[slot.id],
            topic="Sparse attention",
            now=now,
        ).rsvp
        jobs.commit_and_dispatch()
        chats.cancel_booking(db.session, rsvp.id, now)
        jobs.commit_and_dispatch()

    seat, booked, cancelled = smtp.received
    assert seat.message["Subject"] == "Your seat for “Talk smtp-talk”", "booking a chat signed Ada up for the talk"
    assert booked.rcpt_tos == cancelled.rcpt_tos == ["ada@example.org"]
    assert booked.mail_from == CONTACT

    assert booked.message["Subject"] == "Your chat with the speaker: “Talk smtp-talk”"
    text = booked.message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert f"When: {when} (20 minutes)" in text
    assert "Where: Room 301" in text
    assert "What you would like to talk about: Sparse attention" in text
    calendar = invite_of(booked.message)
    assert str(calendar["METHOD"]) == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert event["DTSTART"].dt == starts_at
    assert str(event["LOCATION"]) == "Room 301"

    assert cancelled.message["Subject"] == "Chat cancelled: “Talk smtp-talk”"
    cancellation = invite_of(cancelled.message)
    assert str(cancellation["METHOD"]) == "CANCEL"
    [gone] = cancellation.walk("VEVENT")
    assert str(gone["UID"]) == str(event["UID"])
    assert gone["SEQUENCE"] > event["SEQUENCE"]
