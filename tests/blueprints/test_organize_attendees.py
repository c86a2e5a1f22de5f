"""Organizers' view of a talk's sign-ups: lists, moves, check-in at the door, the CSV export."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from extensions import db
from models import Rsvp, RsvpStatus, Talk
from services import signups
from tests.blueprints.conftest import talk_form

NOW = datetime.now(UTC)


def talk_id(app: Flask, slug: str = "what-quiet-benchmarks-hide") -> int:
    with app.app_context():
        return db.session.scalars(select(Talk.id).where(Talk.slug == slug)).one()


def sign_up(app: Flask, email: str, name: str = "", mode: str = "room") -> int:
    with app.app_context():
        result = signups.sign_up(
            db.session, talk_id(app), name=name or email.split("@")[0].title(), email=email, mode=mode, now=NOW
        )
        db.session.commit()
        return result.rsvp.id


@pytest.fixture
def small_room(seeded: Flask) -> Flask:
    with seeded.app_context():
        db.session.get(Talk, talk_id(seeded)).room_capacity = 2
        db.session.commit()
    for email in ("ann@example.org", "bob@example.org", "cy@example.org", "di@example.org"):
        sign_up(seeded, email)
    return seeded


def test_lists_show_who_is_seated_waiting_and_online(small_room: Flask, ada: FlaskClient) -> None:
    sign_up(small_room, "eve@example.org", mode="online")
    page = ada.get(f"/organize/talks/{talk_id(small_room)}/attendees").get_data(as_text=True)
    assert "<strong>2</strong> / 2 in the room" in page
    assert "<strong>2</strong> waiting" in page
    assert "<strong>1</strong> online" in page
    # Addresses, not names: a two-letter name could also turn up inside a random form token.
    assert page.index("Waiting list (2)") < page.index("cy@example.org") < page.index("di@example.org")


def test_moving_a_seated_person_online_seats_the_first_in_line(small_room: Flask, ada: FlaskClient) -> None:
    with small_room.app_context():
        ann = db.session.scalars(select(Rsvp).where(Rsvp.email == "ann@example.org")).one()
    response = ada.post(f"/organize/talks/{talk_id(small_room)}/attendees/{ann.id}/move", data={"status": "online"})
    assert response.status_code == 302
    with small_room.app_context():
        status = dict(db.session.execute(select(Rsvp.email, Rsvp.status)).all())
    assert status["ann@example.org"] == RsvpStatus.ONLINE
    assert status["cy@example.org"] == RsvpStatus.SEATED
    assert status["di@example.org"] == RsvpStatus.WAITING
    mail = small_room.extensions["lectern.mailer"].outbox
    assert any(m["To"].endswith("<cy@example.org>") and "A seat is yours" in m["Subject"] for m in mail)


def test_lowering_the_capacity_moves_nobody_and_shows_the_overflow(small_room: Flask, ada: FlaskClient) -> None:
    with small_room.app_context():
        db.session.get(Talk, talk_id(small_room)).room_capacity = 1
        db.session.commit()
    page = ada.get(f"/organize/talks/{talk_id(small_room)}/attendees").get_data(as_text=True)
    assert "1 more people are seated than the room now holds" in page
    assert "<strong>2</strong> / 1 in the room" in page


def test_raising_room_capacity_in_the_talk_form_promotes(small_room: Flask, ada: FlaskClient) -> None:
    tid = talk_id(small_room)
    form = ada.get(f"/organize/talks/{tid}/edit").get_data(as_text=True)
    assert 'id="room_capacity"' in form and ">Room capacity</label>" in form
    with small_room.app_context():
        talk = db.session.get(Talk, tid)
        start = talk.starts_at.astimezone(ZoneInfo("America/Montreal"))
        room_id = talk.room_id
    data = talk_form(
        title="What Quiet Benchmarks Hide",
        slug="what-quiet-benchmarks-hide",
        day=start.date().isoformat(),
        start=start.strftime("%H:%M"),
        room=str(room_id),
        room_capacity="3",
        rsvp_open="y",
    )
    assert ada.post(f"/organize/talks/{tid}/edit", data=data).status_code == 302
    with small_room.app_context():
        seated = db.session.scalars(select(Rsvp.email).where(Rsvp.status == RsvpStatus.SEATED)).all()
    assert sorted(seated) == ["ann@example.org", "bob@example.org", "cy@example.org"]


def test_rescheduling_tells_everyone_with_an_updated_invite(small_room: Flask, ada: FlaskClient) -> None:
    tid = talk_id(small_room)
    mail = small_room.extensions["lectern.mailer"].outbox
    mail.clear()
    data = talk_form(slug="what-quiet-benchmarks-hide", day=(NOW + timedelta(days=20)).date().isoformat())
    assert ada.post(f"/organize/talks/{tid}/edit", data=data).status_code == 302
    changed = [m for m in mail if m["Subject"].startswith("Changed:")]
    assert sorted(m["To"].split("<")[1].rstrip(">") for m in changed) == [
        "ann@example.org",
        "bob@example.org",
        "cy@example.org",
        "di@example.org",
    ]


def test_check_in_list_searches_checks_in_and_adds_walk_ins(small_room: Flask, ada: FlaskClient) -> None:
    tid = talk_id(small_room)
    page = ada.get(f"/organize/talks/{tid}/check-in?q=bo").get_data(as_text=True)
    assert "Bob" in page and "Ann" not in page
    with small_room.app_context():
        bob = db.session.scalars(select(Rsvp).where(Rsvp.email == "bob@example.org")).one()
    ada.post(f"/organize/talks/{tid}/check-in/{bob.id}")
    ada.post(f"/organize/talks/{tid}/walk-in", data={"name": "Walter Inn", "email": ""})
    with small_room.app_context():
        assert db.session.get(Rsvp, bob.id).checked_in_at is not None
        walter = db.session.scalars(select(Rsvp).where(Rsvp.name == "Walter Inn")).one()
        assert walter.walk_in and walter.checked_in_at and walter.status == RsvpStatus.SEATED
    ada.post(f"/organize/talks/{tid}/check-in/{bob.id}", data={"undo": "1"})
    with small_room.app_context():
        assert db.session.get(Rsvp, bob.id).checked_in_at is None


def test_csv_escapes_cells_a_spreadsheet_would_run(seeded: Flask, ada: FlaskClient) -> None:
    sign_up(seeded, "eq@example.org", name='=HYPERLINK("http://evil.example","click")')
    sign_up(seeded, "plus@example.org", name="+1 Smith")
    response = ada.get(f"/organize/talks/{talk_id(seeded)}/attendees.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["name", "email", "status"]
    names = [row[0] for row in rows[1:]]
    assert names == ['\'=HYPERLINK("http://evil.example","click")', "'+1 Smith"]


def test_csv_streams_50000_rows_without_holding_them(seeded: Flask, ada: FlaskClient) -> None:
    tid = talk_id(seeded)
    with seeded.app_context():
        db.session.execute(
            insert(Rsvp),
            [
                {
                    "talk_id": tid,
                    "email": f"person{n}@example.org",
                    "name": f"Person {n}",
                    "status": RsvpStatus.ONLINE,
                    "queued_at": NOW,
                    "token_nonce": "x",
                    "sequence": 0,
                    "affiliation": "",
                    "question": "",
                    "walk_in": False,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n in range(50_000)
            ],
        )
        db.session.commit()
    response = ada.get(f"/organize/talks/{tid}/attendees.csv")
    assert response.is_streamed
    tracemalloc.start()
    lines = sum(chunk.count(b"\n") for chunk in response.response)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert lines == 50_001
    assert peak < 25 * 1024 * 1024, f"the export held {peak / 1e6:.0f} MB at once"


def test_attendee_lists_are_never_public(small_room: Flask, client: FlaskClient) -> None:
    tid = talk_id(small_room)
    for url in (
        f"/organize/talks/{tid}/attendees",
        f"/organize/talks/{tid}/attendees.csv",
        f"/organize/talks/{tid}/check-in",
    ):
        assert client.get(url).status_code == 302
    for url in ("/", "/talks/what-quiet-benchmarks-hide", "/feed.atom", "/calendar.ics"):
        assert "ann@example.org" not in client.get(url).get_data(as_text=True)


def test_a_talk_with_sign_ups_is_cancelled_before_it_can_be_deleted(small_room: Flask, ada: FlaskClient) -> None:
    tid = talk_id(small_room)
    refused = ada.post(f"/organize/talks/{tid}/delete")
    assert refused.status_code == 409
    assert "Mark it cancelled first" in refused.get_data(as_text=True)
    with small_room.app_context():
        assert db.session.get(Talk, tid) is not None
    ada.post(f"/organize/talks/{tid}/cancel")
    mail = small_room.extensions["lectern.mailer"].outbox
    assert sum(m["Subject"].startswith("Cancelled:") for m in mail) == 4, "everyone signed up is told"
    assert ada.post(f"/organize/talks/{tid}/delete").status_code == 302


def test_more_seats_in_a_room_go_to_its_waiting_lists(small_room: Flask, ada: FlaskClient) -> None:
    with small_room.app_context():
        talk = db.session.get(Talk, talk_id(small_room))
        talk.room_capacity = None  # the talk uses its room's capacity
        talk.room.capacity = 2
        room_id = talk.room_id
        db.session.commit()
    response = ada.post(f"/organize/rooms/{room_id}/edit", data={"name": "Auditorium 2", "capacity": "3"})
    assert response.status_code == 302
    with small_room.app_context():
        seated = db.session.scalars(select(Rsvp.email).where(Rsvp.status == RsvpStatus.SEATED)).all()
    assert sorted(seated) == ["ann@example.org", "bob@example.org", "cy@example.org"]
