"""One-line fields stay one line: at the forms, and again where text meets a calendar, the feed or a mail header.

A line break typed into a series name once made every calendar file answer 500 (the calendar
library refuses a raw line break in a property), and could inject email headers.
"""

from __future__ import annotations

from xml.etree import ElementTree

from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy import select

from extensions import db
from models import Room, Rsvp, Series, Speaker, Talk
from services import signups
from tests.blueprints.conftest import talk_form
from tests.rsvp_support import make_talk, sent_to

TALK = "what-quiet-benchmarks-hide"
# Every kind of line break a browser or a pasted text can carry, and a tab.
BREAKS = "\r\n", "\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\t"
ATOM = "{http://www.w3.org/2005/Atom}"


def broken(*words: str) -> str:
    """Words joined by a different line break each time."""
    text = words[0]
    for i, word in enumerate(words[1:]):
        text += BREAKS[i % len(BREAKS)] + word
    return text


def assert_public_files_work(client: FlaskClient) -> tuple[Calendar, ElementTree.Element]:
    series_calendar = client.get("/calendar.ics")
    assert series_calendar.status_code == 200
    calendar = Calendar.from_ical(series_calendar.data)
    talk_calendar = client.get(f"/talks/{TALK}.ics")
    assert talk_calendar.status_code == 200
    Calendar.from_ical(talk_calendar.data)
    atom = client.get("/feed.atom")
    assert atom.status_code == 200
    return calendar, ElementTree.fromstring(atom.data)


def test_a_series_name_typed_with_line_breaks_is_saved_on_one_line(seeded: Flask, ada: FlaskClient) -> None:
    settings = {
        "name": "  Reading\r\nGroup\u2028on\tData  ",
        "timezone": " America/Montreal\r\n",
        "default_minutes": "60",
        "default_room": "0",
        "rsvp_domains": "mcgill.ca,\r\nmila.quebec\nexample.org",
    }
    assert ada.post("/organize/settings", data=settings).status_code == 302
    with seeded.app_context():
        series = db.session.scalars(select(Series)).one()
        assert series.name == "Reading Group on Data"
        assert series.timezone == "America/Montreal"
        assert series.rsvp_domains == "mcgill.ca, mila.quebec, example.org"

    calendar, feed = assert_public_files_work(ada)
    assert str(calendar["X-WR-CALNAME"]) == "Reading Group on Data"
    assert feed.findtext(f"{ATOM}title") == "Reading Group on Data: upcoming talks"


def test_domains_listed_one_a_line_still_each_count(seeded: Flask, ada: FlaskClient) -> None:
    settings = {"name": "S", "timezone": "America/Montreal", "default_minutes": "60", "default_room": "0"}
    assert (
        ada.post("/organize/settings", data={**settings, "rsvp_domains": "mcgill.ca\r\nmila.quebec"}).status_code == 302
    )
    with seeded.app_context():
        assert signups.allowed_domains(db.session.scalars(select(Series)).one()) == ["mcgill.ca", "mila.quebec"]


def test_every_one_line_field_of_the_organizer_forms_is_kept_to_one_line(seeded: Flask, ada: FlaskClient) -> None:
    response = ada.post(
        "/organize/talks/new",
        data=talk_form(
            title=broken("Tidy", "Datasets,", "Messy", "Worlds"),
            slug="tidy-datasets\r\n",
            **{
                "parts-0-title": broken("The", "first", "part"),
                "parts-0-speakers": "Rosa\tLindqvist | Northern \u00a0Institute\r\n\r\n  Sam\u2003Okafor  ",
            },
        ),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert ada.post("/organize/rooms", data={"name": broken("Room", "C3"), "capacity": "24"}).status_code == 302
    with seeded.app_context():
        talk = db.session.scalars(select(Talk).where(Talk.slug == "tidy-datasets")).one()
        assert talk.title == "Tidy Datasets, Messy Worlds"
        assert talk.parts[0].title == "The first part"
        assert [(s.name, s.affiliation) for s in talk.parts[0].speakers] == [
            ("Rosa Lindqvist", "Northern Institute"),
            ("Sam Okafor", None),
        ]
        assert db.session.scalars(select(Room).where(Room.name == "Room C3")).one()
        talk_id = talk.id

    walk_in = ada.post(f"/organize/talks/{talk_id}/walk-in", data={"name": "Walter\r\nBcc: eve@example.org"})
    assert walk_in.status_code == 302
    with seeded.app_context():
        assert db.session.scalars(select(Rsvp).where(Rsvp.talk_id == talk_id)).one().name == (
            "Walter Bcc: eve@example.org"
        )


def test_calendars_and_feed_stay_whole_when_the_database_holds_line_breaks(seeded: Flask, client: FlaskClient) -> None:
    """Data saved before the forms kept it to one line, or brought in by an import."""
    with seeded.app_context():
        db.session.scalars(select(Series)).one().name = "Old\r\nName\x00"
        talk = db.session.scalars(select(Talk).where(Talk.slug == TALK)).one()
        talk.title = "What Quiet\r\nBenchmarks\u2028Hide"
        if talk.room is not None:
            talk.room.name = "Room\n101"
        for speaker in db.session.scalars(select(Speaker)):
            speaker.name = f"{speaker.name}\r\nX-Injected: yes"
        db.session.commit()

    calendar, feed = assert_public_files_work(client)
    assert str(calendar["X-WR-CALNAME"]) == "Old Name"
    summaries = [str(event["SUMMARY"]) for event in calendar.walk("VEVENT")]
    quiet = next(summary for summary in summaries if summary.startswith("What Quiet"))
    assert quiet.startswith("What Quiet Benchmarks Hide (") and "\n" not in quiet
    for event in calendar.walk("VEVENT"):
        for name in ("SUMMARY", "LOCATION"):
            if name in event:
                assert not {"\r", "\n", "\u2028"} & set(str(event[name]))
    titles = [entry.findtext(f"{ATOM}title") or "" for entry in feed.iter(f"{ATOM}entry")]
    assert any(title.startswith("What Quiet Benchmarks Hide (") for title in titles)
    assert all("\n" not in title for title in titles)


def test_a_title_and_a_series_name_with_line_breaks_give_one_line_email_headers(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        talk = make_talk(3, slug="broken-title", title="Tidy\r\nBcc: eve@example.org\u2028Datasets")
        talk.series.name = "Reading\r\nGroup"
        db.session.commit()
    response = client.post(
        "/talks/broken-title/rsvp",
        data={"name": "Ada\r\nLovelace", "email": "ada@example.org", "mode": "room"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    (message,) = sent_to(app, "ada@example.org")
    assert message["Subject"] == "Your seat for “Tidy Bcc: eve@example.org Datasets”"
    assert message["Bcc"] is None
    assert "Reading Group" in message["From"] and "Ada Lovelace" in message["To"]
    (invite,) = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    (event,) = Calendar.from_ical(invite.get_content()).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Tidy Bcc: eve@example.org Datasets"
    assert str(event["ORGANIZER"].params["CN"]) == "Reading Group"
