"""A talk's seats taken, kept by the database's triggers: always the number of its seated sign-ups.

The sign-up's INSERT compares `talk.seats_taken` with the talk's seats instead of counting the
seated sign-ups. Every way a sign-up's state changes (the service's transitions, a cascade, a
statement typed by hand) must keep it exact, or people would be seated beyond the room or kept
waiting for a free seat. `walk_through` runs them all; tests/concurrency/test_seats_taken.py runs
it on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import func, select

from extensions import db
from models import Rsvp, RsvpStatus, Talk
from services import signups, talk_editing
from tests.rsvp_support import make_talk

NOW = datetime.now(UTC).replace(microsecond=0)
SEATED, WAITING, ONLINE, CANCELLED = RsvpStatus.SEATED, RsvpStatus.WAITING, RsvpStatus.ONLINE, RsvpStatus.CANCELLED
TALK = Talk.__table__


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def kept_and_counted() -> dict[int, tuple[int, int]]:
    """Per talk: (seats taken as kept, seated sign-ups as counted)."""
    kept = dict(db.session.execute(select(TALK.c.id, TALK.c.seats_taken)).all())
    counted = dict(
        db.session.execute(
            select(Rsvp.talk_id, func.count(Rsvp.id)).where(Rsvp.status == SEATED).group_by(Rsvp.talk_id)
        ).all()
    )
    return {talk_id: (taken, counted.get(talk_id, 0)) for talk_id, taken in kept.items()}


def agree(step: str) -> dict[int, int]:
    """Commit, then check every talk; the seats taken per talk."""
    db.session.commit()
    both = kept_and_counted()
    assert all(taken == counted for taken, counted in both.values()), f"after {step}: {both}"
    return {talk_id: taken for talk_id, (taken, _) in both.items()}


def sign(talk: Talk, who: str, mode: str = "room") -> Rsvp:
    rsvp = signups.sign_up(db.session, talk.id, name=who.split("@")[0], email=who, mode=mode, now=NOW).rsvp
    db.session.commit()
    return rsvp


def walk_through() -> None:
    """Every kind of change to sign-ups, the seats taken checked after each."""
    a = make_talk(seats=2, slug="a")
    b = make_talk(seats=1, slug="b")
    a_id, b_id = a.id, b.id
    assert agree("making the talks") == {a_id: 0, b_id: 0}

    first, second, third = (sign(a, f"p{n}@example.org") for n in range(3))
    viewer = sign(a, "viewer@example.org", "online")
    assert (first.status, second.status, third.status, viewer.status) == (SEATED, SEATED, WAITING, ONLINE)
    assert agree("signing up")[a_id] == 2

    signups.cancel(db.session, first.id, NOW)  # the first in line takes the seat
    assert agree("a cancellation and a promotion")[a_id] == 2
    db.session.refresh(third)
    assert third.status == SEATED

    signups.change_mode(db.session, second.id, "online", NOW)  # a seat freed, nobody waiting
    assert agree("switching online")[a_id] == 1

    signups.move(db.session, viewer.id, SEATED, NOW)
    assert agree("an organizer seating someone")[a_id] == 2
    signups.move(db.session, viewer.id, CANCELLED, NOW)
    assert agree("an organizer cancelling a sign-up")[a_id] == 1

    signups.set_capacity(db.session, a_id, 1, None, NOW)  # lowering moves nobody out
    walk_in = signups.add_walk_in(db.session, a_id, name="At the door", email="", now=NOW)
    assert agree("a walk-in beyond the seats")[a_id] == 2
    signups.check_in(db.session, third.id, NOW)
    assert agree("a check-in")[a_id] == 2

    signups.delete(db.session, walk_in.id, NOW)
    assert agree("an erasure")[a_id] == 1

    sign(b, "q1@example.org")
    moved = sign(b, "q2@example.org")
    assert moved.status == WAITING
    assert agree("a full talk")[b_id] == 1

    # By hand, as an administrator might: a seated sign-up moved to another talk, one seated.
    db.session.execute(sa.update(Rsvp.__table__).where(Rsvp.__table__.c.id == third.id).values(talk_id=b_id))
    assert agree("a sign-up moved by hand") == {a_id: 0, b_id: 2}
    db.session.execute(sa.update(Rsvp.__table__).where(Rsvp.__table__.c.id == moved.id).values(status="seated"))
    assert agree("a status changed by hand")[b_id] == 3

    # The retention period's purge erases every sign-up of a talk that ended long ago.
    old = make_talk(seats=5, slug="old", starts_at=NOW - timedelta(days=400))
    for n in range(3):
        db.session.add(
            Rsvp(talk=old, email=f"o{n}@example.org", name="O", status=SEATED, queued_at=NOW, token_nonce="x" * 16)
        )
    assert agree("sign-ups written through the ORM")[old.id] == 3
    signups.purge_attendee_data(db.session, NOW, timedelta(days=180))
    assert agree("the purge")[old.id] == 0

    for rsvp_id in db.session.scalars(select(Rsvp.id).where(Rsvp.talk_id == b_id, Rsvp.status != CANCELLED)).all():
        signups.cancel(db.session, rsvp_id, NOW, by_organizer=True)
    assert agree("cancelling everyone")[b_id] == 0
    talk_editing.delete_talk(db.session, db.session.get(Talk, b_id), NOW)  # its sign-ups go with it
    assert b_id not in agree("deleting a talk")


def test_the_seats_taken_are_the_seated_sign_ups_after_every_kind_of_change(ctx: Flask) -> None:
    walk_through()


def test_a_talk_full_by_its_seats_taken_puts_the_next_sign_up_in_line(ctx: Flask) -> None:
    """The INSERT reads the kept number: a talk whose seats are all taken puts people in line."""
    talk = make_talk(seats=3)
    for n in range(3):
        sign(talk, f"p{n}@example.org")
    assert sign(talk, "late@example.org").status == WAITING
    assert agree("filling the room")[talk.id] == 3
