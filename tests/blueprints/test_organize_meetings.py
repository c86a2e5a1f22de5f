"""Organizers' page for a talk's online meeting, with the practice (fake) provider: creating it,
Zoom's refusals and outages in words with nothing saved, a create whose answer was lost, pasted
links and who sees them, links for the room, registrations given up on and tried again, the
recording, removal, and the audit log that never holds a secret."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from adapters.meetings import FakeMeetingProvider
from extensions import db
from models import AuditEntry, Meeting, MeetingStatus, RegistrantStatus, Rsvp, Talk
from services import meetings, signups
from tests.blueprints.conftest import ADA, EVE, logged_in
from tests.conftest import dispose, make_app
from tests.rsvp_support import sent_to, text_part

SLUG = "what-quiet-benchmarks-hide"  # Zoom, a room, three days from now
PAST = "reading-the-tide-tables"
MEET = "https://meet.example.org/abc-defg-hij"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path, MEETING_PROVIDER="fake")
    yield app
    dispose(app)


@pytest.fixture
def fake(app: Flask) -> FakeMeetingProvider:
    provider = app.extensions["lectern.meetings"]
    assert isinstance(provider, FakeMeetingProvider)
    return provider


def talk_id(app: Flask, slug: str = SLUG) -> int:
    with app.app_context():
        return db.session.scalars(select(Talk.id).where(Talk.slug == slug)).one()


def page_of(client: FlaskClient, app: Flask, slug: str = SLUG) -> str:
    response = client.get(f"/organize/talks/{talk_id(app, slug)}/meeting")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store", "the host's link and passcode are on it"
    page = response.get_data(as_text=True)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "each label finds its own field"
    return page


def create(client: FlaskClient, app: Flask, slug: str = SLUG, **options: str):  # type: ignore[no-untyped-def]
    return client.post(f"/organize/talks/{talk_id(app, slug)}/meeting/create", data=options)


def sign_up(app: Flask, email: str, mode: str = "online", slug: str = SLUG) -> int:
    with app.app_context():
        import jobs

        rsvp = signups.sign_up(
            db.session, talk_id(app, slug), name="Grace Hopper", email=email, mode=mode, now=datetime.now(UTC)
        ).rsvp
        jobs.commit_and_dispatch()
        return rsvp.id


def the_meeting(app: Flask, slug: str = SLUG) -> Meeting | None:
    with app.app_context():
        return meetings.meeting_of(db.session, talk_id(app, slug))


def meeting_rows(app: Flask) -> list[Meeting]:
    with app.app_context():
        return list(db.session.scalars(select(Meeting)))


def audit(app: Flask, prefix: str = "meeting.") -> list[AuditEntry]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action.startswith(prefix))))


def test_an_organizer_creates_the_meeting_and_sees_what_the_host_needs(
    seeded: Flask, ada: FlaskClient, fake: FakeMeetingProvider
) -> None:
    online = sign_up(seeded, "online@example.org")
    before = page_of(ada, seeded)
    assert "Create Zoom meeting" in before
    assert "practice provider" in before, "the fake says it is not real Zoom"
    assert 'name="waiting_room"' in before and "Send join links to people in the room" in before
    assert "Meeting link" in before and "Anyone (shown on the talk page)" in before

    response = create(ada, seeded, waiting_room="y")
    assert response.status_code == 302
    (held,) = fake.meetings.values()
    assert held.spec.topic == "What Quiet Benchmarks Hide" and held.spec.waiting_room
    after = page_of(ada, seeded)
    assert held.meeting.id in after and held.meeting.start_url in after.replace("&amp;", "&")
    assert held.meeting.password in after
    assert "Create Zoom meeting" not in after
    assert re.search(r"<strong>1</strong> registered", after), "the sign-up made before is registered"
    with seeded.app_context():
        rsvp = db.session.get(Rsvp, online)
        link = meetings.join_link(db.session, rsvp.talk, rsvp).url
    assert link and link in text_part(sent_to(seeded, "online@example.org")[-1]), "and sent their link"
    assert link not in after, "an attendee's own link is not on the organizers' page"


def test_the_audit_log_keeps_choices_and_ids_never_a_secret(
    seeded: Flask, ada: FlaskClient, fake: FakeMeetingProvider
) -> None:
    sign_up(seeded, "online@example.org")
    create(ada, seeded, links_for_room="y")
    tid = talk_id(seeded)
    ada.post(f"/organize/talks/{tid}/meeting/room-links", data={})
    ada.post(f"/organize/talks/{tid}/meeting/remove")
    ada.post(f"/organize/talks/{tid}/meeting/link", data={"link": MEET, "visibility": "signed-up"})
    entries = audit(seeded)
    assert [e.action for e in entries] == ["meeting.create", "meeting.links_for_room", "meeting.remove", "meeting.link"]
    assert entries[0].after == {
        "provider": "fake",
        "meeting": "81000000001",
        "waiting_room": False,
        "links_for_room": True,
    }
    logged = json.dumps([[e.before, e.after] for e in entries])
    assert "meetings.invalid" not in logged and "meet.example.org" not in logged
    with seeded.app_context():
        secrets = [m.password for m in db.session.scalars(select(Meeting)) if m.password]
    assert secrets and not any(secret in logged for secret in secrets)


def test_a_refusal_reaches_the_organizer_in_words_and_nothing_is_saved(
    seeded: Flask, ada: FlaskClient, fake: FakeMeetingProvider
) -> None:
    fake.refuse_next("Zoom refused the credentials: check LECTERN_ZOOM_CLIENT_ID and LECTERN_ZOOM_CLIENT_SECRET.")
    response = create(ada, seeded)
    assert response.status_code == 502
    page = response.get_data(as_text=True)
    assert "nothing is saved" in page and "Zoom refused the credentials" in page
    assert "Create Zoom meeting" in page, "the organizer can try again from the same page"
    assert meeting_rows(seeded) == [] and audit(seeded) == []


def test_an_unavailable_provider_is_said_in_words(seeded: Flask, ada: FlaskClient, fake: FakeMeetingProvider) -> None:
    fake.unavailable_next(
        "Zoom's daily limit on creating meetings has been reached; try again after 2031-03-15 00:00 UTC."
    )
    response = create(ada, seeded)
    assert response.status_code == 503
    assert "daily limit on creating meetings" in response.get_data(as_text=True)
    assert meeting_rows(seeded) == [] and fake.meetings == {}


def test_a_create_that_timed_out_but_happened_is_found_not_made_twice(
    seeded: Flask, ada: FlaskClient, fake: FakeMeetingProvider
) -> None:
    fake.unavailable_next("Zoom did not answer within 20 seconds.", method="create_meeting", happens_anyway=True)
    assert create(ada, seeded).status_code == 302
    assert len(fake.calls_of("create_meeting")) == 1 and len(fake.meetings) == 1
    (row,) = meeting_rows(seeded)
    assert row.external_id == next(iter(fake.meetings))


def test_meetings_are_not_made_for_a_talk_that_is_over_or_twice(
    seeded: Flask, ada: FlaskClient, fake: FakeMeetingProvider
) -> None:
    assert "The talk is over" in page_of(ada, seeded, PAST)
    response = create(ada, seeded, PAST)
    assert response.status_code == 409 and "This talk is over" in response.get_data(as_text=True)
    create(ada, seeded)
    again = create(ada, seeded)
    assert again.status_code == 409 and "already has a meeting" in again.get_data(as_text=True)
    assert len(fake.meetings) == 1


def test_a_link_pasted_for_people_signed_up_stays_off_the_talk_page(
    seeded: Flask, ada: FlaskClient, fake: FakeMeetingProvider
) -> None:
    tid = talk_id(seeded)
    response = ada.post(f"/organize/talks/{tid}/meeting/link", data={"link": MEET, "visibility": "signed-up"})
    assert response.status_code == 302
    page = page_of(ada, seeded)
    assert MEET in page and "Only people signed up" in page
    assert MEET not in seeded.test_client().get(f"/talks/{SLUG}").get_data(as_text=True)
    rsvp_id = sign_up(seeded, "online@example.org")
    assert MEET in text_part(sent_to(seeded, "online@example.org")[-1])
    with seeded.app_context():
        rsvp = db.session.get(Rsvp, rsvp_id)
        assert meetings.join_link(db.session, rsvp.talk, rsvp).url == MEET
    assert fake.meetings == {}, "a pasted link is not a meeting at the provider"


def test_a_link_pasted_for_anyone_is_on_the_talk_page(seeded: Flask, ada: FlaskClient) -> None:
    tid = talk_id(seeded)
    visitor = seeded.test_client()
    assert MEET not in visitor.get(f"/talks/{SLUG}").get_data(as_text=True)
    ada.post(f"/organize/talks/{tid}/meeting/link", data={"link": MEET, "visibility": "anyone"})
    assert MEET in visitor.get(f"/talks/{SLUG}").get_data(as_text=True), "the cached page changed with it"
    ada.post(f"/organize/talks/{tid}/meeting/link", data={"link": MEET, "visibility": "signed-up"})
    assert MEET not in visitor.get(f"/talks/{SLUG}").get_data(as_text=True), "and goes when made private again"


def test_a_pasted_link_must_be_a_web_address(seeded: Flask, ada: FlaskClient) -> None:
    tid = talk_id(seeded)
    for bad in ("javascript:alert(1)", "meet.example.org/abc", ""):
        response = ada.post(f"/organize/talks/{tid}/meeting/link", data={"link": bad, "visibility": "anyone"})
        assert response.status_code == 400, bad
        assert 'role="alert"' in response.get_data(as_text=True)
    assert meeting_rows(seeded) == []


def test_removing_asks_first_then_deletes_the_meeting_at_the_provider(
    seeded: Flask, ada: FlaskClient, fake: FakeMeetingProvider
) -> None:
    sign_up(seeded, "online@example.org")
    create(ada, seeded)
    (meeting_id,) = fake.meetings
    tid = talk_id(seeded)
    assert f"/organize/talks/{tid}/meeting/remove" in page_of(ada, seeded)
    asked = ada.get(f"/organize/talks/{tid}/meeting/remove").get_data(as_text=True)
    assert "Remove the meeting?" in asked and "1 person following online" in asked
    assert meeting_id in fake.meetings, "asking changes nothing"
    assert ada.post(f"/organize/talks/{tid}/meeting/remove").status_code == 302
    assert meeting_id in fake.deleted
    page = page_of(ada, seeded)
    assert "Create Zoom meeting" in page and "The meeting is gone" not in page
    assert [m.status for m in meeting_rows(seeded)] == [MeetingStatus.GONE]
    assert create(ada, seeded).status_code == 302, "and a new one can be made"
    assert len(fake.meetings) == 1


def test_a_meeting_deleted_in_zoom_shows_as_gone_with_a_way_to_make_another(
    seeded: Flask, ada: FlaskClient, fake: FakeMeetingProvider
) -> None:
    create(ada, seeded)
    with seeded.app_context():
        meeting = meetings.meeting_of(db.session, talk_id(seeded))
        meetings.gone(db.session, meeting)
        db.session.commit()
    page = page_of(ada, seeded)
    assert "The meeting is gone" in page and "Create a new Zoom meeting" in page
    assert create(ada, seeded).status_code == 302
    assert "The meeting is gone" not in page_of(ada, seeded)
    assert [m.status for m in meeting_rows(seeded)] == [MeetingStatus.GONE, MeetingStatus.ACTIVE]


def test_sending_links_to_the_room_registers_people_in_the_room_and_stopping_cancels_them(
    seeded: Flask, ada: FlaskClient, fake: FakeMeetingProvider
) -> None:
    in_room = sign_up(seeded, "room@example.org", mode="room")
    create(ada, seeded)
    (meeting_id,) = fake.meetings
    assert fake.active_registrants(meeting_id) == {}
    tid = talk_id(seeded)
    assert ada.post(f"/organize/talks/{tid}/meeting/room-links", data={"links_for_room": "y"}).status_code == 302
    assert set(fake.active_registrants(meeting_id)) == {"room@example.org"}
    assert re.search(r'<input[^>]*\bchecked\b[^>]*id="links_for_room"', page_of(ada, seeded)), "the box shows it"
    ada.post(f"/organize/talks/{tid}/meeting/room-links", data={})
    assert fake.active_registrants(meeting_id) == {}
    with seeded.app_context():
        registrant = meetings.registrant_of(db.session, in_room)
        assert registrant is not None and registrant.status == RegistrantStatus.CANCELLED


def test_a_registration_given_up_shows_with_its_reason_and_can_be_tried_again(
    seeded: Flask, ada: FlaskClient, fake: FakeMeetingProvider
) -> None:
    create(ada, seeded)
    fake.refuse_next("The Zoom meeting is full: it has as many registrants as Zoom allows.", method="register")
    rsvp_id = sign_up(seeded, "late@example.org")
    page = page_of(ada, seeded)
    assert "Registrations Lectern gave up on" in page
    assert "late@example.org" in page and "as many registrants as Zoom allows" in page
    assert re.search(r"<strong>1</strong> on their way", page)
    (action,) = re.findall(r'action="(/organize/talks/\d+/meeting/try-again/\d+)"', page)
    assert ada.post(action).status_code == 302
    page = page_of(ada, seeded)
    assert "Registrations Lectern gave up on" not in page and re.search(r"<strong>1</strong> registered", page)
    with seeded.app_context():
        rsvp = db.session.get(Rsvp, rsvp_id)
        assert meetings.join_link(db.session, rsvp.talk, rsvp).url
    assert audit(seeded, "outbox.try_again")
    again = ada.post(action)
    assert again.status_code == 302 and "no longer waiting" in page_of(ada, seeded)


def test_the_recording_is_offered_and_published_on_the_talk_page(
    seeded: Flask, ada: FlaskClient, fake: FakeMeetingProvider
) -> None:
    create(ada, seeded)
    recording = "https://zoom.us/rec/share/abcDEF123"
    tid = talk_id(seeded)
    assert ada.post(f"/organize/talks/{tid}/meeting/publish-recording").status_code == 409
    with seeded.app_context():
        meetings.recording_ready(db.session, meetings.meeting_of(db.session, tid), recording)
        db.session.commit()
    page = page_of(ada, seeded)
    assert recording in page and "Publish on the talk page" in page
    assert recording not in seeded.test_client().get(f"/talks/{SLUG}").get_data(as_text=True)
    assert ada.post(f"/organize/talks/{tid}/meeting/publish-recording").status_code == 302
    assert recording in seeded.test_client().get(f"/talks/{SLUG}").get_data(as_text=True)
    assert "It is on the talk page" in page_of(ada, seeded)
    assert audit(seeded, "meeting.publish_recording")


def test_without_a_provider_organizers_paste_links(tmp_path: Path) -> None:
    app = make_app(tmp_path, MEETING_PROVIDER="none")
    try:
        with app.app_context():
            from services import demo, organizers, talks

            series = talks.get_series(
                db.session, name="Test Series", timezone="America/Montreal", default_minutes=60, contact_email=""
            )
            db.session.flush()
            demo.seed(db.session, series, today=datetime.now(UTC), sign_ups=False)
            organizers.add(db.session, "ada@example.edu")
            db.session.commit()
        client = logged_in(app, ADA)
        page = page_of(client, app)
        assert "Create Zoom meeting" not in page and "Paste the meeting’s link" in page
        response = create(client, app)
        assert response.status_code == 409 and "paste a link" in response.get_data(as_text=True)
    finally:
        dispose(app)


def test_the_talk_pages_link_to_the_meeting(seeded: Flask, ada: FlaskClient) -> None:
    tid = talk_id(seeded)
    assert f"/organize/talks/{tid}/meeting" in ada.get(f"/organize/talks/{tid}/edit").get_data(as_text=True)
    assert f"/organize/talks/{tid}/meeting" in ada.get("/organize/").get_data(as_text=True)


def test_people_who_are_not_organizers_are_refused(seeded: Flask, fake: FakeMeetingProvider) -> None:
    tid = talk_id(seeded)
    anonymous, stranger = seeded.test_client(), logged_in(seeded, EVE)
    for path in ("", "/create", "/link", "/remove", "/room-links", "/publish-recording"):
        url = f"/organize/talks/{tid}/meeting{path}"
        refused = anonymous.post(url, data={"link": MEET, "visibility": "anyone"})
        assert refused.status_code in (302, 405) and "/login" in refused.headers.get("Location", "/login"), url
        assert stranger.post(url, data={"link": MEET, "visibility": "anyone"}).status_code in (403, 405), url
    assert stranger.get(f"/organize/talks/{tid}/meeting").status_code == 403
    assert fake.meetings == {} and meeting_rows(seeded) == []


def test_every_form_on_the_page_carries_its_csrf_token(seeded: Flask, fake: FakeMeetingProvider) -> None:
    seeded.config["WTF_CSRF_ENABLED"] = True
    client = logged_in(seeded, ADA)
    tid = talk_id(seeded)
    assert client.post(f"/organize/talks/{tid}/meeting/create", data={}).status_code == 400
    assert fake.meetings == {}
    page = page_of(client, seeded)
    forms = re.findall(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', page, re.S)
    assert {action for action, _ in forms} >= {
        f"/organize/talks/{tid}/meeting/create",
        f"/organize/talks/{tid}/meeting/link",
    }
    for action, body in forms:
        assert 'name="csrf_token"' in body, action
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = client.post(f"/organize/talks/{tid}/meeting/create", data={"csrf_token": token.group(1)})
    assert response.status_code == 302 and len(fake.meetings) == 1
