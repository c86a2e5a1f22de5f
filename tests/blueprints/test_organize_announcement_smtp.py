"""The announcement reaches the mailing lists through a real SMTP server on 127.0.0.1 (aiosmtpd),
sent by an organizer from its page; and a server that is down loses nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import jobs
from adapters.mail import SMTPMailer
from extensions import db
from models import OutboxMessage, Talk
from tests.adapters.test_mail_smtp import SMTPServer, free_port
from tests.blueprints.conftest import settings_form, talk_form
from tests.conftest import dispose, make_app

LISTS = ["talks@lists.example.org", "seminars@lists.example.org"]


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer(free_port())
    yield server
    server.stop()


@pytest.fixture
def app(tmp_path: Path, smtp: SMTPServer) -> Iterator[Flask]:
    """Lectern as in production, but with jobs run at once and mail going to the server above."""
    app = make_app(tmp_path, MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_TIMEOUT=5)
    assert isinstance(app.extensions["lectern.mailer"], SMTPMailer)
    yield app
    dispose(app)


@pytest.fixture
def talk_id(seeded: Flask, ada: FlaskClient) -> int:
    settings = settings_form(announce_lists=", ".join(LISTS))
    assert ada.post("/organize/settings", data=settings).status_code == 302
    assert ada.post("/organize/talks/new", data=talk_form()).status_code == 302
    with seeded.app_context():
        return db.session.scalars(select(Talk.id).where(Talk.slug == "tidy-datasets-messy-worlds")).one()


def test_the_lists_receive_the_announcement_in_text_and_html(ada: FlaskClient, talk_id: int, smtp: SMTPServer) -> None:
    smtp.start()
    assert ada.post(f"/organize/talks/{talk_id}/announcement").status_code == 302

    assert sorted(rcpt for received in smtp.received for rcpt in received.rcpt_tos) == sorted(LISTS)
    for received in smtp.received:
        assert received.mail_from == "talks@example.org"
        message = received.message
        assert parseaddr(message["From"]) == ("Test Series", "talks@example.org")
        assert message["To"] == received.rcpt_tos[0], "each list gets its own message"
        assert message["Subject"] == "Fri, Mar 14: Tidy Datasets, Messy Worlds (Rosa Lindqvist)"
        text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
        assert "When: Friday, March 14, 2031, 11:30 AM – 12:30 PM EDT" in text
        assert "Sign-up is open until" in text
        assert "<http://lectern.test/talks/tidy-datasets-messy-worlds/rsvp>" in text
        assert "<http://lectern.test/talks/tidy-datasets-messy-worlds.ics>" in text
        assert "Online: via Zoom (the join link is sent to people who sign up)" in text
        assert "<strong>Tidy Datasets, Messy Worlds</strong>" in html
        assert '<a href="http://lectern.test/talks/tidy-datasets-messy-worlds/rsvp"' in html
        assert '<a href="http://lectern.test/talks/tidy-datasets-messy-worlds.ics"' in html
        assert "Why data gets <em>messy</em>." in html


def test_a_mail_server_that_is_down_gets_the_announcement_later_once(
    seeded: Flask, ada: FlaskClient, talk_id: int, smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ada.post(f"/organize/talks/{talk_id}/announcement").status_code == 302, "owed, whatever the server does"
    with seeded.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "announcement.email")))
        assert [row.done_at for row in rows] == [None, None] and all(row.last_error for row in rows)
        due = max(row.next_attempt_at for row in rows) + timedelta(seconds=1)

    smtp.start()
    monkeypatch.setattr(jobs, "now", lambda: due)
    with seeded.app_context():
        assert jobs.sweep_outbox.call_local() == 2
    assert sorted(received.rcpt_tos[0] for received in smtp.received) == sorted(LISTS)

    monkeypatch.setattr(jobs, "now", lambda: datetime.now(UTC) + timedelta(hours=7))
    with seeded.app_context():
        assert jobs.sweep_outbox.call_local() == 0
    assert len(smtp.received) == 2, "once each"
