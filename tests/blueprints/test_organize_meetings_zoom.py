"""The whole journey with the real Zoom client against a fake Zoom on 127.0.0.1 (tests/zoom_fake.py),
which checks every request and answer against Zoom's OpenAPI description: an organizer creates the
meeting from the talk's page, someone signs up online and is registered, finds their own link on
their page and in their email, sees "Live now" when Zoom says the meeting started, and switching
to the room cancels their registration at Zoom."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from adapters.meetings import ZoomProvider
from adapters.zoom_webhooks import signature_for
from extensions import db
from models import Meeting, Talk
from tests.conftest import dispose, make_app
from tests.rsvp_support import sent_to, text_part
from tests.zoom_fake import CLIENT_SECRET, FakeZoom, running_fake_zoom

SLUG = "what-quiet-benchmarks-hide"
WEBHOOK_SECRET = "zoom-webhook-secret-token"
CREATE = "POST /users/{userId}/meetings"
REGISTER = "POST /meetings/{meetingId}/registrants"
CANCEL = "PUT /meetings/{meetingId}/registrants/status"


@pytest.fixture
def zoom() -> Iterator[FakeZoom]:
    with running_fake_zoom() as zoom:
        yield zoom


@pytest.fixture
def app(tmp_path: Path, zoom: FakeZoom) -> Iterator[Flask]:
    app = make_app(tmp_path, **zoom.app_config(), ZOOM_WEBHOOK_SECRET=WEBHOOK_SECRET)
    assert isinstance(app.extensions["lectern.meetings"], ZoomProvider)
    yield app
    dispose(app)


def manage_path_in(text: str) -> str:
    found = re.search(r"http://lectern\.test(/rsvp/[A-Za-z0-9_.\-]+)", text)
    assert found, "the email carries the manage link"
    return found.group(1)


def test_an_online_attendee_gets_their_own_zoom_link_and_loses_it_on_moving_to_the_room(
    seeded: Flask, ada: FlaskClient, zoom: FakeZoom, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with seeded.app_context():
        talk_id = db.session.scalars(select(Talk.id).where(Talk.slug == SLUG)).one()

    created = ada.post(f"/organize/talks/{talk_id}/meeting/create", data={"waiting_room": "y"})
    assert created.status_code == 302, created.get_data(as_text=True)
    assert zoom.count(CREATE) == 1
    (meeting_id,) = zoom.meetings
    assert zoom.meetings[meeting_id]["settings"]["approval_type"] == 0
    assert zoom.meetings[meeting_id]["settings"]["waiting_room"] is True
    organizer_page = ada.get(f"/organize/talks/{talk_id}/meeting").get_data(as_text=True)
    assert str(meeting_id) in organizer_page and "Zoom" in organizer_page
    assert "practice provider" not in organizer_page

    visitor = seeded.test_client()
    signed = visitor.post(
        f"/talks/{SLUG}/rsvp", data={"name": "Grace Hopper", "email": "grace@example.org", "mode": "online"}
    )
    assert signed.status_code == 303
    registrant = zoom.registrant(meeting_id, "grace@example.org")
    assert registrant["status"] == "approved" and registrant["first_name"] == "Grace"
    link = registrant["join_url"]
    (confirmation,) = sent_to(seeded, "grace@example.org")
    assert link in text_part(confirmation), "the confirmation waited for the link"
    manage = manage_path_in(text_part(confirmation))
    page = visitor.get(manage).get_data(as_text=True)
    assert "Join online" in page and link in page.replace("&amp;", "&")

    timestamp = str(int(datetime.now(UTC).timestamp()))
    started = json.dumps(
        {"event": "meeting.started", "event_ts": int(timestamp) * 1000, "payload": {"object": {"id": str(meeting_id)}}}
    ).encode()
    headers = {"x-zm-request-timestamp": timestamp, "x-zm-signature": signature_for(WEBHOOK_SECRET, timestamp, started)}
    assert visitor.post("/webhooks/zoom", data=started, headers=headers).status_code == 200
    assert "Live now" in visitor.get(manage).get_data(as_text=True)
    assert "Live now" in visitor.get(f"/talks/{SLUG}").get_data(as_text=True)

    moved = visitor.post(f"{manage}/mode", data={"mode": "room"})
    assert moved.status_code == 302
    assert zoom.count(CANCEL) == 1
    assert zoom.registrant(meeting_id, "grace@example.org")["status"] == "cancelled"
    page = visitor.get(manage).get_data(as_text=True)
    assert link not in page.replace("&amp;", "&") and "Join online" not in page
    with seeded.app_context():
        (meeting,) = db.session.scalars(select(Meeting)).all()
        assert (meeting.provider, meeting.external_id) == ("zoom", str(meeting_id))
    assert zoom.count(REGISTER) == 1

    logged = caplog.text
    assert "Zoom POST" in logged, "the calls to Zoom are logged"
    secrets = [CLIENT_SECRET, *zoom.issued_tokens, link, zoom.meetings[meeting_id]["start_url"]]
    secrets.append(zoom.meetings[meeting_id]["password"])
    for secret in secrets:
        assert secret not in logged, "no secret, token, host link, join link or passcode in the log"
