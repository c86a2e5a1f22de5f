"""Join links and passcodes are secrets: a personal link reaches only its person (their page, their
emails, their invite), the host's link and the passcode only organizers, and a pasted link only
whom the organizers chose. Checked on every public page and file, and across attendees."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask

import jobs
from adapters.meetings import FakeMeetingProvider
from extensions import db
from models import Rsvp
from services import meetings, signups
from services.tokens import manage_token
from tests.conftest import dispose, make_app
from tests.rsvp_support import invite, make_talk, sent_to, text_part, the_event

SLUG = "private-links"
PASSCODE = "Pa55c0de-9931"
PUBLIC_PATHS = ("/", f"/talks/{SLUG}", f"/talks/{SLUG}.ics", "/calendar.ics", "/feed.atom", "/semesters")
PEOPLE = (("ada@example.org", "online"), ("bob@example.org", "online"), ("carol@example.org", "room"))


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path, MEETING_PROVIDER="fake")
    yield app
    dispose(app)


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def now() -> datetime:
    return datetime.now(UTC)


def sign_up(talk_id: int, email: str, mode: str) -> Rsvp:
    rsvp = signups.sign_up(db.session, talk_id, name="Someone", email=email, mode=mode, now=now()).rsvp
    jobs.commit_and_dispatch()
    return rsvp


@pytest.fixture
def live_meeting(ctx: Flask) -> dict[str, str]:
    """A live meeting with a known passcode, and the manage page and link of each person (by email)."""
    fake = ctx.extensions["lectern.meetings"]
    assert isinstance(fake, FakeMeetingProvider)
    talk = make_talk(5, slug=SLUG)
    created = meetings.create_at_provider(fake, meetings.spec_for(talk, waiting_room=True))
    meeting = meetings.save_created(
        db.session, talk.id, created, provider="fake", waiting_room=True, links_for_room=False, now=now()
    )
    meeting.password = PASSCODE
    meetings.started(db.session, meeting, now())
    jobs.commit_and_dispatch()
    found = {"start_url": meeting.start_url, "join_url": meeting.join_url}
    for email, mode in PEOPLE:
        rsvp = sign_up(talk.id, email, mode)
        found[email] = "/rsvp/" + manage_token(ctx.config["SECRET_KEY"], rsvp)
        found[f"link:{email}"] = meetings.join_link(db.session, talk, rsvp).url or ""
    return found


def secrets_of(found: dict[str, str]) -> list[str]:
    return [found["start_url"], found["join_url"], PASSCODE] + [
        v for k, v in found.items() if k.startswith("link:") and v
    ]


def test_no_public_page_or_file_holds_a_link_or_the_passcode(ctx: Flask, live_meeting: dict[str, str]) -> None:
    client = ctx.test_client()
    assert "Live now" in client.get(f"/talks/{SLUG}").get_data(as_text=True), "while the meeting is live"
    for path in PUBLIC_PATHS:
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.get_data(as_text=True)
        for secret in secrets_of(live_meeting):
            assert secret not in body, (path, secret)
        assert "meetings.invalid" not in body, path


def test_each_person_sees_their_own_link_and_nobody_elses(ctx: Flask, live_meeting: dict[str, str]) -> None:
    client = ctx.test_client()
    ada_link, bob_link = live_meeting["link:ada@example.org"], live_meeting["link:bob@example.org"]
    assert ada_link and bob_link and ada_link != bob_link
    ada = client.get(live_meeting["ada@example.org"]).get_data(as_text=True)
    bob = client.get(live_meeting["bob@example.org"]).get_data(as_text=True)
    carol = client.get(live_meeting["carol@example.org"]).get_data(as_text=True)
    assert ada_link in ada and bob_link not in ada and "Live now" in ada
    assert bob_link in bob and ada_link not in bob
    assert "meetings.invalid" not in carol and "Join online" not in carol, "in the room, no link: nothing"
    for page in (ada, bob, carol):
        assert PASSCODE not in page and live_meeting["start_url"] not in page


def test_emails_and_invites_carry_only_their_persons_link(ctx: Flask, live_meeting: dict[str, str]) -> None:
    ada_link, bob_link = live_meeting["link:ada@example.org"], live_meeting["link:bob@example.org"]
    (confirmation,) = sent_to(ctx, "ada@example.org")
    body = text_part(confirmation)
    assert f"{ada_link} (your own link: please do not share it)" in body
    assert bob_link not in body and PASSCODE not in body
    calendar = invite(confirmation)
    assert calendar is not None
    assert ada_link in str(the_event(calendar)["description"])
    assert "meetings.invalid" not in text_part(sent_to(ctx, "carol@example.org")[0])


def test_a_pending_link_is_said_to_be_on_its_way(ctx: Flask) -> None:
    fake = ctx.extensions["lectern.meetings"]
    talk = make_talk(5, slug=SLUG)
    created = meetings.create_at_provider(fake, meetings.spec_for(talk, waiting_room=False))
    meetings.save_created(
        db.session, talk.id, created, provider="fake", waiting_room=False, links_for_room=False, now=now()
    )
    jobs.commit_and_dispatch()
    fake.refuse_next("Zoom refused: the meeting is full.", method="register")
    rsvp = sign_up(talk.id, "ada@example.org", "online")
    page = ctx.test_client().get("/rsvp/" + manage_token(ctx.config["SECRET_KEY"], rsvp)).get_data(as_text=True)
    assert "Your own join link is on its way" in page
    (confirmation,) = sent_to(ctx, "ada@example.org")
    assert "your own join link is on its way in a separate email" in text_part(confirmation)


def test_a_link_pasted_for_people_signed_up_reaches_only_them(ctx: Flask) -> None:
    talk = make_talk(5, slug=SLUG, online="Google Meet")
    meetings.set_static_link(db.session, talk.id, "https://meet.example.org/abc-defg-hij", public=False, now=now())
    db.session.commit()
    rsvp = sign_up(talk.id, "ada@example.org", "online")
    client = ctx.test_client()
    for path in PUBLIC_PATHS:
        assert b"meet.example.org" not in client.get(path).data, path
    page = client.get("/rsvp/" + manage_token(ctx.config["SECRET_KEY"], rsvp)).get_data(as_text=True)
    assert "https://meet.example.org/abc-defg-hij" in page and "yours alone" not in page
    body = text_part(sent_to(ctx, "ada@example.org")[0])
    assert "Online: https://meet.example.org/abc-defg-hij\n" in body, "the shared link, not called personal"


def test_a_link_pasted_for_anyone_is_on_the_talk_page_but_never_in_public_calendars_or_the_feed(ctx: Flask) -> None:
    talk = make_talk(5, slug=SLUG, online="Google Meet")
    meetings.set_static_link(db.session, talk.id, "https://meet.example.org/abc-defg-hij", public=True, now=now())
    db.session.commit()
    client = ctx.test_client()
    assert b"https://meet.example.org/abc-defg-hij" in client.get(f"/talks/{SLUG}").data
    for path in (f"/talks/{SLUG}.ics", "/calendar.ics", "/feed.atom"):
        assert b"meet.example.org" not in client.get(path).data, path


def test_registrations_do_not_invalidate_cached_pages_but_the_meeting_does(ctx: Flask) -> None:
    fake = ctx.extensions["lectern.meetings"]
    version = ctx.extensions["lectern.content_version"]
    talk = make_talk(5, slug=SLUG)
    created = meetings.create_at_provider(fake, meetings.spec_for(talk, waiting_room=False))
    meetings.save_created(
        db.session, talk.id, created, provider="fake", waiting_room=False, links_for_room=False, now=now()
    )
    jobs.commit_and_dispatch()
    before = version.current()
    rsvp = sign_up(talk.id, "ada@example.org", "online")
    signups.change_mode(db.session, rsvp.id, "room", now())
    jobs.commit_and_dispatch()
    assert len(fake.calls_of("register")) == 1 and len(fake.calls_of("cancel_registration")) == 1
    assert version.current() == before, "sign-ups and their registrations leave public pages as they are"
    meeting = meetings.meeting_of(db.session, talk.id)
    assert meeting is not None
    meetings.started(db.session, meeting, now())
    db.session.commit()
    assert version.current() != before, "a meeting going live changes the talk page"
