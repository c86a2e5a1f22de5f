"""Organizers' changes, through the service functions: deleting a talk, a bigger room, the allow-list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask

from extensions import db
from models import Organizer, RsvpStatus, Talk, TalkStatus
from services import organizers, signups, talk_editing
from tests.rsvp_support import make_talk

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def sign(talk: Talk, who: str) -> None:
    signups.sign_up(db.session, talk.id, name=who.split("@")[0].title(), email=who, mode="room", now=NOW)
    db.session.commit()


def test_a_talk_with_people_signed_up_is_deleted_only_once_cancelled(ctx: Flask) -> None:
    talk = make_talk(seats=1)
    sign(talk, "ann@example.org")
    sign(talk, "bob@example.org")  # waiting: counts as much as a seat
    assert talk_editing.signups_in_the_way(db.session, talk) == 2
    with pytest.raises(talk_editing.DeleteRefused) as refused:
        talk_editing.delete_talk(db.session, talk)
    assert refused.value.active == 2
    db.session.rollback()

    locked = talk_editing.talk_to_change(db.session, talk.id)
    assert locked is not None
    assert talk_editing.change_status(db.session, locked, TalkStatus.CANCELLED) == 2, "both are told"
    assert talk_editing.signups_in_the_way(db.session, locked) == 0
    talk_editing.delete_talk(db.session, locked)
    db.session.commit()
    assert db.session.get(Talk, talk.id) is None


def test_a_talk_that_is_gone_cannot_be_locked_for_a_change(ctx: Flask) -> None:
    assert talk_editing.talk_to_change(db.session, 12345) is None


def test_a_bigger_room_seats_the_waiting_lists_of_its_upcoming_talks(ctx: Flask) -> None:
    talk = make_talk(seats=1)
    sign(talk, "ann@example.org")
    sign(talk, "bob@example.org")
    assert talk.room is not None
    talk.room.capacity = 2
    promoted = signups.seat_waiting_lists(db.session, talk.room.id, NOW)
    assert [rsvp.email for rsvp in promoted] == ["bob@example.org"]
    assert promoted[0].status == RsvpStatus.SEATED


def test_an_organizer_cannot_remove_themself(ctx: Flask) -> None:
    ada = organizers.add(db.session, "ada@example.edu")
    eve = organizers.add(db.session, "eve@example.edu")
    with pytest.raises(organizers.OrganizerError, match="cannot remove yourself"):
        organizers.remove(db.session, ada, by=ada)
    organizers.remove(db.session, eve, by=ada)
    assert [o.email for o in db.session.scalars(db.select(Organizer))] == ["ada@example.edu"]
