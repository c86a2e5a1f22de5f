"""Under the talk lock, decisions use what the database holds now, not what was read before the lock;
and the unique index behind it turns a duplicate into a repeat, never into an error.

On PostgreSQL a request reads the talk (and, on a manage page, the RSVP) before it waits for
the row lock; whoever held the lock meanwhile may have changed them. Two sessions interleaved
by hand show it deterministically. (On SQLite the write lock is taken at BEGIN, before any
read, so the same interleaving cannot happen: the second session would wait at its BEGIN.)
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from extensions import db
from models import OutboxMessage, Rsvp, RsvpStatus
from services import signups, talks
from tests.concurrency import live

NOW = datetime.now(UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded_app(request: pytest.FixtureRequest) -> Flask:
    """The demo content on SQLite (the usual test app) or on PostgreSQL."""
    return seed(request.getfixturevalue("app" if request.param == "sqlite" else "pg_app"))


@pytest.fixture
def pg_seeded(pg_app: Flask) -> Flask:
    return seed(pg_app)


def seed(app: Flask) -> Flask:
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    return app


def seat_people(talk_id: int, seats: int, people: int) -> None:
    with Session(db.engine) as session:
        signups.set_capacity(session, talk_id, seats, None, datetime.now(UTC))
        for i in range(people):
            signups.sign_up(session, talk_id, name="P", email=f"p{i}@example.org", mode="room", now=NOW)
        session.commit()


def test_a_signup_waits_while_another_unit_of_work_holds_the_talk(seeded_app: Flask) -> None:
    """The lock, not luck: the second sign-up cannot even count the seats until the first commits."""
    with seeded_app.app_context():
        engine = db.engine
        talk_id = talks.talk_by_slug(db.session, live.TALK_SLUG).id
        seat_people(talk_id, seats=1, people=0)
        outcome: dict[str, RsvpStatus] = {}
        finished = threading.Event()

        def second_sign_up() -> None:
            with Session(engine) as session:
                result = signups.sign_up(session, talk_id, name="Second", email="b@example.org", mode="room", now=NOW)
                outcome["status"] = result.rsvp.status
                session.commit()
            finished.set()

        with Session(engine) as first:
            signups.sign_up(first, talk_id, name="First", email="a@example.org", mode="room", now=NOW)
            second = threading.Thread(target=second_sign_up)
            second.start()
            assert not finished.wait(0.5), "the second sign-up went ahead while the first held the talk"
            first.commit()
        assert finished.wait(30)
        second.join()
        assert outcome["status"] == RsvpStatus.WAITING  # the last seat was taken by the first


def test_a_capacity_lowered_while_a_signup_waits_for_the_lock_is_respected(pg_seeded: Flask) -> None:
    talk_id = talks.talk_by_slug(db.session, live.TALK_SLUG).id
    seat_people(talk_id, seats=50, people=45)
    with Session(db.engine) as request, Session(db.engine) as organizer:
        # The RSVP view reads the talk first, and holds it (the session keeps only what is referenced).
        talk_as_read = talks.talk_by_slug(request, live.TALK_SLUG)
        signups.set_capacity(organizer, talk_id, 40, None, datetime.now(UTC))
        organizer.commit()
        result = signups.sign_up(request, talk_id, name="Late", email="late@example.org", mode="room", now=NOW)
        request.commit()
        assert result.rsvp.talk is talk_as_read
        assert result.rsvp.status == RsvpStatus.WAITING
        assert signups.counts(request, result.rsvp.talk).seated == 45


def test_a_person_promoted_while_their_change_waits_for_the_lock_passes_their_seat_on(pg_seeded: Flask) -> None:
    talk_id = talks.talk_by_slug(db.session, live.TALK_SLUG).id
    seat_people(talk_id, seats=3, people=5)
    with Session(db.engine) as setup:
        of_the_talk = Rsvp.talk_id == talk_id  # the demo has sign-ups for other talks too
        line = setup.scalars(
            select(Rsvp.id).where(of_the_talk, Rsvp.status == RsvpStatus.WAITING).order_by(Rsvp.queued_at, Rsvp.id)
        ).all()
        a_seated = setup.scalars(select(Rsvp.id).where(of_the_talk, Rsvp.status == RsvpStatus.SEATED)).first()
    first_in_line = line[0]

    with Session(db.engine) as manage, Session(db.engine) as other:
        as_loaded = manage.get(Rsvp, first_in_line)  # the manage page loads the RSVP: still waiting
        signups.cancel(other, a_seated, NOW)  # someone else cancels: the first in line gets the seat
        other.commit()
        signups.change_mode(manage, first_in_line, "online", NOW)  # ...and gives it up for online
        manage.commit()
        talk = as_loaded.talk
        counts = signups.counts(manage, talk)
    # The seat went on to the next in line instead of staying empty while someone waits.
    assert (counts.seated, counts.waiting, counts.online) == (3, 0, 1)


def test_a_duplicate_caught_by_the_unique_index_is_a_repeat_and_the_unit_of_work_goes_on(seeded_app: Flask) -> None:
    """The one-active-sign-up index decides whether an address is new: the INSERT writes no row
    for one already signed up (in this unit of work too), which ends as a repeat, not an error."""
    with seeded_app.app_context():
        talk_id = talks.talk_by_slug(db.session, live.TALK_SLUG).id
        first = signups.sign_up(db.session, talk_id, name="First", email="dup@example.org", mode="room", now=NOW)
        again = signups.sign_up(db.session, talk_id, name="Second", email="Dup@Example.org", mode="room", now=NOW)
        db.session.commit()  # the unit of work survived the duplicate

        assert (first.created, again.created, again.rsvp.name) == (True, False, "First")
        emails = db.session.scalars(select(Rsvp.email).where(Rsvp.talk_id == talk_id)).all()
        assert emails == ["dup@example.org"]
        kinds = db.session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.rsvp_id == first.rsvp.id).order_by(OutboxMessage.id)
        ).all()
        assert kinds == ["rsvp.confirmation", "rsvp.manage_link"]


def test_a_meeting_made_while_a_signup_waits_for_the_talk_gets_that_signup_registered(pg_seeded: Flask) -> None:
    """The RSVP form reads the talk, then waits for its lock while an organizer's unit of work
    makes the talk's meeting. The sign-up's INSERT, whose snapshot comes after the lock, finds
    the meeting; a read taken with the locked talk would have said "none" and left them without
    a personal link (save_created registers only the sign-ups committed before it)."""
    from adapters.meetings import FakeMeetingProvider
    from models import Registrant
    from services import meetings

    with pg_seeded.app_context():
        engine = db.engine
        talk = talks.talk_by_slug(db.session, live.TALK_SLUG)
        talk_id, slug = talk.id, talk.slug
        provider = FakeMeetingProvider()
        created = meetings.create_at_provider(provider, meetings.spec_for(talk, waiting_room=False))
        db.session.rollback()
        signed: dict[str, int] = {}
        finished = threading.Event()

        def sign_up_online() -> None:
            with pg_seeded.app_context(), Session(engine) as session:
                locked = talks.talk_to_sign_up_for(session, slug)  # waits for the organizer's lock
                assert locked is not None
                result = signups.sign_up(session, talk_id, name="Ada", email="ada@example.org", mode="online", now=NOW)
                signed["rsvp"] = result.rsvp.id
                session.commit()
            finished.set()

        with Session(engine) as organizer:
            meetings.save_created(
                organizer, talk_id, created, provider="fake", waiting_room=False, links_for_room=False, now=NOW
            )
            attendee = threading.Thread(target=sign_up_online)
            attendee.start()
            assert not finished.wait(0.5), "the sign-up went ahead while the meeting was being made"
            organizer.commit()
        assert finished.wait(30)
        attendee.join()
        registered = db.session.scalar(select(Registrant).where(Registrant.rsvp_id == signed["rsvp"]))
        assert registered is not None, "the sign-up made while the meeting was being made is registered"
