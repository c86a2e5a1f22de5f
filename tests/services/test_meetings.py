"""The meeting bridge, through the services and the job queue (run at once in tests), with the
fake provider: registrations follow sign-ups, the meeting follows its talk, links stay private."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask, render_template
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

import jobs
from adapters.meetings import FakeMeetingProvider
from extensions import db
from models import Meeting, MeetingStatus, Registrant, RegistrantStatus, Rsvp, Talk, TalkStatus
from services import delivery, meetings, outbox, signups, talk_changes, talk_editing
from services.talk_changes import TalkCause
from tests.conftest import dispose, make_app
from tests.rsvp_support import make_talk, outbox_rows, sent_to, text_part

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path, MEETING_PROVIDER="fake")
    yield app
    dispose(app)


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def fake(app: Flask) -> FakeMeetingProvider:
    provider = app.extensions["lectern.meetings"]
    assert isinstance(provider, FakeMeetingProvider)
    return provider


def with_meeting(talk: Talk, fake: FakeMeetingProvider, *, links_for_room: bool = False) -> Meeting:
    created = meetings.create_at_provider(fake, meetings.spec_for(talk, waiting_room=False))
    meeting = meetings.save_created(
        db.session, talk.id, created, provider="fake", waiting_room=False, links_for_room=links_for_room, now=NOW
    )
    jobs.commit_and_dispatch()
    return meeting


def sign_up(talk: Talk, email: str, mode: str = "online") -> Rsvp:
    # Now, not NOW: the confirmation waits for the link until a moment after the sign-up.
    rsvp = signups.sign_up(db.session, talk.id, name="Ada Lovelace", email=email, mode=mode, now=datetime.now(UTC)).rsvp
    jobs.commit_and_dispatch()
    return rsvp


def registrant(rsvp: Rsvp) -> Registrant:
    found = meetings.registrant_of(db.session, rsvp.id)
    assert found is not None
    db.session.refresh(found)
    return found


def test_an_online_sign_up_gets_a_personal_link_in_its_confirmation(ctx: Flask, fake: FakeMeetingProvider) -> None:
    talk = make_talk(5)
    meeting = with_meeting(talk, fake)
    rsvp = sign_up(talk, "ada@example.org")
    link = registrant(rsvp).join_url
    assert registrant(rsvp).status == RegistrantStatus.REGISTERED
    assert link.startswith(f"https://meetings.invalid/j/{meeting.external_id}?tk=")
    assert fake.active_registrants(meeting.external_id)["ada@example.org"].join_url == link
    (confirmation,) = sent_to(ctx, "ada@example.org")
    assert link in text_part(confirmation), "the confirmation waited for the link"
    assert meetings.join_link(db.session, talk, rsvp).url == link


def test_people_signed_up_before_the_meeting_existed_are_registered_and_sent_their_link(
    ctx: Flask, fake: FakeMeetingProvider
) -> None:
    talk = make_talk(5)
    online = sign_up(talk, "online@example.org")
    in_room = sign_up(talk, "room@example.org", mode="room")
    meeting = with_meeting(talk, fake)
    assert set(fake.active_registrants(meeting.external_id)) == {"online@example.org"}
    assert meetings.registrant_of(db.session, in_room.id) is None, "the room gets no link unless asked"
    link_email = sent_to(ctx, "online@example.org")[-1]
    assert "link to join online" in link_email["Subject"]
    assert registrant(online).join_url in text_part(link_email)


def test_sending_links_to_the_room_registers_people_in_the_room_too(ctx: Flask, fake: FakeMeetingProvider) -> None:
    talk = make_talk(5)
    sign_up(talk, "room@example.org", mode="room")
    meeting = with_meeting(talk, fake, links_for_room=True)
    assert set(fake.active_registrants(meeting.external_id)) == {"room@example.org"}


def test_switching_to_the_room_or_cancelling_cancels_the_registration(ctx: Flask, fake: FakeMeetingProvider) -> None:
    talk = make_talk(5)
    meeting = with_meeting(talk, fake)
    switcher = sign_up(talk, "switch@example.org")
    leaver = sign_up(talk, "leave@example.org")
    signups.change_mode(db.session, switcher.id, "room", NOW)
    signups.cancel(db.session, leaver.id, NOW)
    jobs.commit_and_dispatch()
    assert fake.active_registrants(meeting.external_id) == {}
    assert registrant(switcher).status == registrant(leaver).status == RegistrantStatus.CANCELLED
    assert meetings.join_link(db.session, talk, switcher).url is None


def test_erasing_a_sign_up_cancels_its_registration_at_the_provider(ctx: Flask, fake: FakeMeetingProvider) -> None:
    talk = make_talk(5)
    meeting = with_meeting(talk, fake)
    rsvp = sign_up(talk, "ada@example.org")
    signups.delete(db.session, rsvp.id, NOW)
    jobs.commit_and_dispatch()
    assert fake.active_registrants(meeting.external_id) == {}


def test_a_pending_registration_is_cancelled_before_it_is_made(ctx: Flask, fake: FakeMeetingProvider) -> None:
    talk = make_talk(5)
    meeting = with_meeting(talk, fake)
    fake.unavailable_next(method="register")
    rsvp = sign_up(talk, "ada@example.org")
    assert registrant(rsvp).status == RegistrantStatus.PENDING, "the provider was down: still to do"
    signups.change_mode(db.session, rsvp.id, "room", NOW)
    jobs.commit_and_dispatch()
    for message in outbox_rows("meeting.register"):
        delivery.deliver(
            db.session,
            message.id,
            mailer=ctx.extensions["lectern.mailer"],
            links_for=jobs.links_for,
            render=render_template,
            now=datetime.now(UTC) + timedelta(hours=1),
            meetings=fake,
        )
    assert fake.active_registrants(meeting.external_id) == {}
    assert registrant(rsvp).status == RegistrantStatus.CANCELLED


def test_a_registration_made_after_the_person_left_is_cancelled_at_once(ctx: Flask, fake: FakeMeetingProvider) -> None:
    talk = make_talk(5)
    meeting = with_meeting(talk, fake)
    fake.unavailable_next(method="register", happens_anyway=True)  # made at Zoom, but the answer was lost
    rsvp = sign_up(talk, "ada@example.org")
    row = registrant(rsvp)
    signups.change_mode(db.session, rsvp.id, "room", NOW)
    jobs.commit_and_dispatch()
    # The retry registers (Zoom answers the same registrant), finds them gone, and cancels.
    meetings.registered(db.session, row.id, "r1-x", "https://meetings.invalid/j/x?tk=late")
    assert outbox_rows("meeting.cancel_registration")[-1].payload["registrant_id"] == "r1-x"
    db.session.rollback()
    assert meeting.external_id in fake.meetings


def test_the_confirmation_goes_without_the_link_when_the_provider_stays_down(
    ctx: Flask, fake: FakeMeetingProvider
) -> None:
    talk = make_talk(5)
    with_meeting(talk, fake)
    fake.unavailable_next(method="register", retry_after=datetime.now(UTC) + timedelta(hours=3))
    rsvp = sign_up(talk, "ada@example.org")
    assert sent_to(ctx, "ada@example.org") == [], "the confirmation waits for the link"
    work = outbox_rows("meeting.register")[-1]
    assert work.next_attempt_at >= datetime.now(UTC) + timedelta(hours=2), "not before Zoom said"
    later = datetime.now(UTC) + meetings.LINK_WAIT + timedelta(minutes=1)
    for message_id in outbox.owed(db.session, later):
        delivery.deliver(
            db.session,
            message_id,
            mailer=ctx.extensions["lectern.mailer"],
            links_for=jobs.links_for,
            render=render_template,
            now=later,
            meetings=fake,
        )
    (confirmation,) = sent_to(ctx, "ada@example.org")
    assert "meetings.invalid" not in text_part(confirmation)
    assert meetings.join_link(db.session, talk, rsvp).pending


def test_a_refused_registration_is_given_up_with_the_reason_for_organizers(
    ctx: Flask, fake: FakeMeetingProvider
) -> None:
    talk = make_talk(5)
    with_meeting(talk, fake)
    fake.refuse_next("Zoom refused: registration is not enabled for this meeting.", method="register")
    sign_up(talk, "ada@example.org")
    (given_up,) = [m for m in outbox.given_up(db.session) if m.kind == "meeting.register"]
    assert "registration is not enabled" in given_up.last_error


def test_a_moved_talk_updates_its_meeting(ctx: Flask, fake: FakeMeetingProvider) -> None:
    talk = make_talk(5)
    meeting = with_meeting(talk, fake)
    before = talk_changes.facts(talk)
    talk.starts_at += timedelta(days=1)
    talk.ends_at += timedelta(days=1)
    talk.title = "A new title"
    talk_changes.record(db.session, talk, before, TalkCause.EDITED, NOW)
    jobs.commit_and_dispatch()
    held = fake.meetings[meeting.external_id].spec
    assert held.starts_at == talk.starts_at and held.topic == "A new title"
    db.session.refresh(meeting)
    assert meeting.synced == meetings.synced_facts(talk)


def test_cancelling_or_deleting_the_talk_deletes_its_meeting(ctx: Flask, fake: FakeMeetingProvider) -> None:
    cancelled, deleted = make_talk(5, slug="cancelled"), make_talk(5, slug="deleted")
    first, second = with_meeting(cancelled, fake), with_meeting(deleted, fake)
    talk_editing.change_status(db.session, cancelled, TalkStatus.CANCELLED, NOW)
    talk_editing.delete_talk(db.session, deleted, NOW)
    jobs.commit_and_dispatch()
    assert {first.external_id, second.external_id} <= fake.deleted
    assert {m.status for m in db.session.scalars(select(Meeting))} == {MeetingStatus.GONE}


def test_join_links_never_reach_public_pages_calendars_or_the_feed(ctx: Flask, fake: FakeMeetingProvider) -> None:
    talk = make_talk(5, slug="private-links")
    with_meeting(talk, fake)
    sign_up(talk, "ada@example.org")
    client = ctx.test_client()
    for path in ("/", "/talks/private-links", "/talks/private-links.ics", "/calendar.ics", "/feed.atom"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"meetings.invalid" not in response.data, path


def test_a_pasted_link_is_shown_only_as_the_organizers_chose(ctx: Flask) -> None:
    talk = make_talk(5, slug="pasted", online="Google Meet")
    rsvp = sign_up(talk, "ada@example.org")
    meetings.set_static_link(db.session, talk.id, "https://meet.example.org/abc-defg-hij", public=False, now=NOW)
    db.session.commit()
    assert meetings.public_link(db.session, talk) is None
    assert meetings.join_link(db.session, talk, rsvp).url == "https://meet.example.org/abc-defg-hij"
    assert b"meet.example.org" not in ctx.test_client().get("/talks/pasted").data
    meetings.set_static_link(db.session, talk.id, "https://meet.example.org/abc-defg-hij", public=True, now=NOW)
    db.session.commit()
    assert meetings.public_link(db.session, talk) == "https://meet.example.org/abc-defg-hij"


def test_a_pasted_link_must_be_a_web_address(ctx: Flask) -> None:
    talk = make_talk(5)
    with pytest.raises(meetings.MeetingRuleError):
        meetings.set_static_link(db.session, talk.id, "javascript:alert(1)", public=True, now=NOW)
    db.session.rollback()
    assert meetings.meeting_of(db.session, talk.id) is None


def test_a_talk_whose_meeting_went_gets_another(ctx: Flask, fake: FakeMeetingProvider) -> None:
    talk = make_talk(5)
    meetings.set_static_link(db.session, talk.id, "https://meet.example.org/first", public=True, now=NOW)
    assert meetings.remove(db.session, talk.id, NOW)
    meetings.set_static_link(db.session, talk.id, "https://meet.example.org/second", public=True, now=NOW)
    db.session.commit()
    assert meetings.public_link(db.session, talk) == "https://meet.example.org/second"
    assert meetings.last_meeting(db.session, talk.id) == meetings.meeting_of(db.session, talk.id)
    meetings.remove(db.session, talk.id, NOW)
    zoom = with_meeting(talk, fake)
    meetings.gone(db.session, zoom)  # deleted in Zoom by someone
    db.session.commit()
    assert meetings.last_meeting(db.session, talk.id) is zoom, "organizers see it gone"
    again = with_meeting(talk, fake)
    assert meetings.meeting_of(db.session, talk.id) is again and again is not zoom
    assert [m.talk_id for m in db.session.scalars(select(Meeting).order_by(Meeting.id))] == [None, None, None, talk.id]


def test_a_sign_up_finds_the_meeting_its_insert_returned(ctx: Flask, fake: FakeMeetingProvider) -> None:
    """The sign-up's INSERT returns the talk's meeting (read after the talk's lock was granted):
    that id registers the person, without a look-up of its own."""
    talk = make_talk(5)
    meeting = with_meeting(talk, fake)
    rsvp = sign_up(talk, "ada@example.org")
    assert registrant(rsvp).status == RegistrantStatus.REGISTERED
    assert "ada@example.org" in fake.active_registrants(meeting.external_id)


def test_a_meeting_in_the_session_is_looked_up_not_taken_from_the_id_a_sign_up_returned(
    ctx: Flask, fake: FakeMeetingProvider
) -> None:
    """The id a sign-up's INSERT returned is what the database held; a meeting this unit of work
    holds may have changed since (made, or gone and not yet flushed): then it is looked up."""
    talk = make_talk(5)
    meeting = with_meeting(talk, fake)
    set_committed_value(talk, "active_meeting_id", None)  # an id from before the meeting
    assert meetings._meeting_of_read(db.session, talk) is meeting, "the session holds a meeting"
    db.session.expunge(meeting)
    assert meetings._meeting_of_read(db.session, talk) is None, "otherwise the id is taken as it is"
