"""Zoom's webhooks at /webhooks/zoom, as Zoom sends them (bodies checked against Zoom's webhook
description): the URL validation handshake, events that change what attendees and organizers
see, and every way a request can be wrong, each answered with a 4xx and never a 500."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

import jobs
from adapters.meetings import FakeMeetingProvider
from adapters.zoom_webhooks import signature_for
from extensions import db
from models import Meeting, MeetingStatus, Rsvp, WebhookReceipt
from services import meetings, organizers, signups
from services.tokens import manage_token
from tests.adapters.test_zoom_webhooks import MEETING, zoom_shaped
from tests.blueprints.conftest import ADA, logged_in
from tests.conftest import dispose, make_app
from tests.rsvp_support import make_talk

SECRET = "lectern-webhook-secret-for-tests"
SLUG = "live-talk"
URL = "/webhooks/zoom"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path, MEETING_PROVIDER="fake", ZOOM_WEBHOOK_SECRET=SECRET)
    yield app
    dispose(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass(frozen=True)
class World:
    talk_id: int
    meeting_id: str  # the provider's id, as Zoom's events name it
    online_page: str  # the manage page of someone following online
    online_link: str  # their own join link
    room_page: str  # the manage page of someone in the room (no link)


@pytest.fixture
def world(app: Flask) -> World:
    """A talk with its meeting (made with the practice provider), one person online, one in the room."""
    fake = app.extensions["lectern.meetings"]
    assert isinstance(fake, FakeMeetingProvider)
    with app.app_context():
        talk = make_talk(5, slug=SLUG)
        created = meetings.create_at_provider(fake, meetings.spec_for(talk, waiting_room=False))
        meetings.save_created(
            db.session, talk.id, created, provider="fake", waiting_room=False, links_for_room=False, now=now()
        )
        jobs.commit_and_dispatch()
        pages = []
        for email, mode in (("online@example.org", "online"), ("room@example.org", "room")):
            rsvp = signups.sign_up(db.session, talk.id, name="Ada Lovelace", email=email, mode=mode, now=now()).rsvp
            jobs.commit_and_dispatch()
            pages.append("/rsvp/" + manage_token(app.config["SECRET_KEY"], rsvp))
        online = db.session.scalars(select(Rsvp).where(Rsvp.email == "online@example.org")).one()
        link = meetings.join_link(db.session, talk, online).url
        assert link
        return World(talk.id, created.id, pages[0], link, pages[1])


def now() -> datetime:
    return datetime.now(UTC)


def send(
    client: FlaskClient,
    body: bytes | dict[str, Any],
    *,
    at: datetime | None = None,
    secret: str = SECRET,
    headers: dict[str, str] | None = None,
) -> Any:
    """POST as Zoom does: the raw body, signed with the secret at `at` (now)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    timestamp = str(int((at or now()).timestamp()))
    sent = {
        "Content-Type": "application/json",
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": signature_for(secret, timestamp, raw),
        **(headers or {}),
    }
    sent = {k: v for k, v in sent.items() if v is not None}
    return client.post(URL, data=raw, headers=sent)


def event(name: str, meeting_id: str | int, **extra: Any) -> bytes:
    """A Zoom event about one meeting, in the shape Zoom's webhook description gives it."""
    objects: dict[str, dict[str, Any]] = {
        "meeting.started": {**MEETING, "id": str(meeting_id)},
        "meeting.ended": {**MEETING, "id": str(meeting_id), "end_time": "2031-03-20T21:00:00Z"},
        "meeting.deleted": {**MEETING, "id": int(meeting_id)},
        "recording.completed": {
            **MEETING,
            "id": int(meeting_id),
            "account_id": "AcC0unt",
            "password": "132456",
            "host_email": "talks-host@example.edu",
            "share_url": "https://zoom.example/rec/share/abcDEF",
            "total_size": 3328371,
            "recording_count": 1,
            "recording_files": [
                {
                    "id": "ed6c2f27-2ae7-42f4-b3d0-835b493e4fa8",
                    "meeting_id": "098765ABCD",
                    "recording_start": "2031-03-20T20:00:00Z",
                    "recording_end": "2031-03-20T21:00:00Z",
                    "file_type": "MP4",
                    "file_size": 3328371,
                    "file_extension": "MP4",
                    "download_url": "https://zoom.example/rec/download/abc",
                    "status": "completed",
                    "recording_type": "shared_screen_with_speaker_view",
                }
            ],
        },
    }
    payload: dict[str, Any] = {"account_id": "AcC0unt", "object": objects[name]}
    if name == "meeting.deleted":
        payload["operator"] = "someone@example.edu"
    body: dict[str, Any] = {"event": name, "event_ts": int(now().timestamp() * 1000), "payload": payload, **extra}
    if name == "recording.completed":
        body["download_token"] = "abJhbGciOiJIUzUxMiJ9.eyJpc3MiOiJodHRwczovL2V2ZW50Lnpvb20udXMi"
    return zoom_shaped(name, body)


def text(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def receipts(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(WebhookReceipt.id))) or 0


def the_meeting(app: Flask, talk_id: int) -> Meeting:
    with app.app_context():
        meeting = db.session.scalars(select(Meeting).where(Meeting.talk_id == talk_id)).one()
        db.session.expunge(meeting)
        return meeting


# The handshake ---------------------------------------------------------------------------------


def test_the_url_validation_handshake_proves_lectern_holds_the_secret(client: FlaskClient) -> None:
    body = {"event": "endpoint.url_validation", "event_ts": 1700000000000, "payload": {"plainToken": "qgg8vlvZRS6U"}}
    response = send(client, body)
    assert response.status_code == 200
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6U", hashlib.sha256).hexdigest()
    assert response.get_json() == {"plainToken": "qgg8vlvZRS6U", "encryptedToken": expected}
    assert "Set-Cookie" not in response.headers


def test_an_unsigned_handshake_is_refused_it_would_sign_anything(client: FlaskClient, app: Flask) -> None:
    # Answered unsigned, the handshake would hand out the HMAC of any text: a signature for a forged event.
    timestamp = str(int(now().timestamp()))
    forged = b'{"event":"meeting.deleted","payload":{"object":{"id":1}}}'
    token = f"v0:{timestamp}:{forged.decode()}"
    body = json.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": token}}).encode()
    unsigned = client.post(URL, data=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 400
    badly_signed = send(client, body, secret="not-the-secret")
    assert badly_signed.status_code == 401
    assert signature_for(SECRET, timestamp, forged).encode() not in unsigned.data + badly_signed.data


def test_without_a_secret_webhooks_are_refused_with_a_reason(tmp_path: Path) -> None:
    app = make_app(tmp_path, MEETING_PROVIDER="fake", ZOOM_WEBHOOK_SECRET="")
    try:
        response = send(app.test_client(), {"event": "endpoint.url_validation", "payload": {"plainToken": "x"}})
        assert response.status_code == 503
        assert "LECTERN_ZOOM_WEBHOOK_SECRET" in response.get_data(as_text=True)
    finally:
        dispose(app)


# Events ----------------------------------------------------------------------------------------


def test_meeting_started_shows_live_now_with_the_join_button_and_a_mark_without_link_on_the_talk_page(
    app: Flask, client: FlaskClient, world: World
) -> None:
    talk_page = text(client, f"/talks/{SLUG}")  # now in the page cache
    assert "Live now" not in talk_page and "Live now" not in text(client, world.online_page)
    response = send(client, event("meeting.started", world.meeting_id))
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    online = text(client, world.online_page)
    assert "Live now" in online and "Join the talk now" in online and world.online_link in online
    talk_page = text(client, f"/talks/{SLUG}")
    assert "Live now" in talk_page, "the cached talk page changed with the meeting"
    assert "meetings.invalid" not in talk_page, "without any link"
    room = text(client, world.room_page)
    assert "Live now" not in room and "meetings.invalid" not in room, "nothing for someone in the room without a link"


def test_meeting_ended_takes_live_now_away_and_a_late_repeat_changes_nothing(
    app: Flask, client: FlaskClient, world: World
) -> None:
    send(client, event("meeting.started", world.meeting_id))
    assert send(client, event("meeting.ended", world.meeting_id)).status_code == 200
    assert "Live now" not in text(client, f"/talks/{SLUG}")
    online = text(client, world.online_page)
    assert "Live now" not in online and world.online_link in online, "the link stays, only the mark goes"
    assert send(client, event("meeting.ended", world.meeting_id)).status_code == 200, "Zoom sending it again"
    assert the_meeting(app, world.talk_id).live_since is None


def test_meeting_started_twice_keeps_the_first_start(app: Flask, client: FlaskClient, world: World) -> None:
    send(client, event("meeting.started", world.meeting_id))
    first = the_meeting(app, world.talk_id).live_since
    assert first is not None
    assert send(client, event("meeting.started", world.meeting_id)).status_code == 200
    assert the_meeting(app, world.talk_id).live_since == first


def test_meeting_deleted_in_zoom_shows_as_gone_to_organizers_and_takes_the_links_away(
    app: Flask, client: FlaskClient, world: World
) -> None:
    with app.app_context():
        organizers.add(db.session, "ada@example.edu")
        db.session.commit()
    assert send(client, event("meeting.deleted", world.meeting_id)).status_code == 200
    assert the_meeting(app, world.talk_id).status == MeetingStatus.GONE
    assert world.online_link not in text(client, world.online_page)
    organizer = logged_in(app, ADA)
    assert "The meeting is gone" in text(organizer, f"/organize/talks/{world.talk_id}/meeting")
    assert send(client, event("meeting.deleted", world.meeting_id)).status_code == 200, "again: nothing more"


def test_recording_completed_offers_the_recording_to_organizers(app: Flask, client: FlaskClient, world: World) -> None:
    assert send(client, event("recording.completed", world.meeting_id)).status_code == 200
    assert the_meeting(app, world.talk_id).recording_url == "https://zoom.example/rec/share/abcDEF"
    assert "zoom.example/rec" not in text(client, f"/talks/{SLUG}"), "not public until an organizer publishes it"


def test_an_unknown_meeting_or_event_is_answered_and_changes_nothing(
    app: Flask, client: FlaskClient, world: World
) -> None:
    assert send(client, event("meeting.started", "99999999999")).status_code == 200
    other = {"event": "meeting.participant_joined", "event_ts": 1, "payload": {"object": {"id": world.meeting_id}}}
    assert send(client, other).status_code == 200
    assert the_meeting(app, world.talk_id).live_since is None


def test_a_practice_meeting_is_not_taken_for_a_zoom_one_when_zoom_is_configured(world: World, app: Flask) -> None:
    # Only with the practice provider configured do its meetings answer to events (`make run`).
    app.config["MEETING_PROVIDER"] = "zoom"
    assert send(app.test_client(), event("meeting.started", world.meeting_id)).status_code == 200
    assert the_meeting(app, world.talk_id).live_since is None


# Requests that are refused ---------------------------------------------------------------------


def test_a_wrong_signature_is_refused_and_changes_nothing(app: Flask, client: FlaskClient, world: World) -> None:
    response = send(client, event("meeting.started", world.meeting_id), secret="someone-else")
    assert response.status_code == 401 and "signature" in response.get_data(as_text=True)
    assert the_meeting(app, world.talk_id).live_since is None and receipts(app) == 0


def test_a_stale_or_future_timestamp_is_refused(app: Flask, client: FlaskClient, world: World) -> None:
    body = event("meeting.started", world.meeting_id)
    assert send(client, body, at=now() - timedelta(minutes=6)).status_code == 401
    assert send(client, body, at=now() + timedelta(minutes=5)).status_code == 401
    assert the_meeting(app, world.talk_id).live_since is None


def test_a_replay_of_the_same_request_is_refused(app: Flask, client: FlaskClient, world: World) -> None:
    body = event("meeting.started", world.meeting_id)
    timestamp = str(int(now().timestamp()))
    headers = {"x-zm-request-timestamp": timestamp, "x-zm-signature": signature_for(SECRET, timestamp, body)}
    assert client.post(URL, data=body, headers=headers).status_code == 200
    send(client, event("meeting.ended", world.meeting_id))
    replay = client.post(URL, data=body, headers=headers)
    assert replay.status_code == 409 and "replay" in replay.get_data(as_text=True)
    assert the_meeting(app, world.talk_id).live_since is None, "the replayed start did not come back"


@pytest.mark.parametrize(
    "headers",
    [
        {"x-zm-signature": None},
        {"x-zm-request-timestamp": None},
        {"x-zm-signature": None, "x-zm-request-timestamp": None},
        {"x-zm-signature": ""},
        {"x-zm-request-timestamp": "yesterday"},
        {"x-zm-request-timestamp": "1.7e9"},
    ],
)
def test_missing_or_unreadable_headers_are_a_400(client: FlaskClient, world: World, headers: dict[str, Any]) -> None:
    assert send(client, event("meeting.started", world.meeting_id), headers=headers).status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'"meeting.started"',
        b'{"payload": {}}',
        b'{"event": "meeting.started"}',
        b'{"event": "meeting.started", "payload": []}',
        b'{"event": "meeting.started", "payload": {"object": {"id": "not-a-number"}}}',
        b'{"event": "meeting.started", "event_ts": "soon", "payload": {"object": {"id": "1"}}}',
        b'{"event": "endpoint.url_validation", "payload": {}}',
    ],
)
def test_a_signed_body_that_is_not_a_zoom_event_is_a_400(app: Flask, client: FlaskClient, body: bytes) -> None:
    response = send(client, body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert receipts(app) == 0


def test_a_body_far_too_big_is_refused(client: FlaskClient) -> None:
    body = json.dumps({"event": "meeting.started", "payload": {"padding": "x" * 300_000}}).encode()
    assert send(client, body).status_code == 413


def test_only_post_is_answered(client: FlaskClient) -> None:
    assert client.get(URL).status_code == 405


def test_webhooks_need_no_csrf_token_and_set_no_cookie(app: Flask, client: FlaskClient, world: World) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    response = send(client, event("meeting.started", world.meeting_id))
    assert response.status_code == 200 and "Set-Cookie" not in response.headers


def test_old_receipts_are_forgotten_as_new_events_come(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        db.session.add(
            WebhookReceipt(signature="v0=old", event="meeting.ended", received_at=now() - timedelta(hours=1))
        )
        db.session.add(WebhookReceipt(signature="v0=recent", event="meeting.ended", received_at=now()))
        db.session.commit()
    send(client, event("meeting.started", world.meeting_id))
    with app.app_context():
        kept = set(db.session.scalars(select(WebhookReceipt.signature)))
    assert "v0=old" not in kept and "v0=recent" in kept and len(kept) == 2
