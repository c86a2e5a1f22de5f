"""Helpers shared by the RSVP tests: a talk with N seats, and what the outbox and mailer hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from flask import Flask
from icalendar import Calendar
from sqlalchemy import select

from extensions import db
from models import OutboxMessage, Room, Rsvp, Series, Talk, TalkPart, TalkStatus
from services import talk_editing, talks


def make_talk(
    seats: int | None = 3,
    *,
    slug: str = "a-talk",
    room: bool = True,
    online: str | None = "Zoom",
    online_limit: int | None = None,
    starts_at: datetime | None = None,
    minutes: int = 60,
    domains: str = "",
    contact_email: str = "talks@series.example.org",
    **talk_fields: object,
) -> Talk:
    """A published talk in a room of `seats` seats (None: nobody counted them), streamed on `online`."""
    series = talks.get_series(
        db.session, name="Test Series", timezone="America/Montreal", default_minutes=60, contact_email=contact_email
    )
    series.contact_email = contact_email
    series.rsvp_domains = domains
    start = starts_at or datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    the_room = None
    if room:
        the_room = Room(series=series, name=f"Room for {slug}", capacity=seats, directions="Second door on the left.")
    fields: dict[str, object] = {"status": TalkStatus.SCHEDULED, "title": f"Talk {slug}", **talk_fields}
    talk = Talk(
        series=series,
        slug=slug,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        room=the_room,
        online_platform=online,
        online_limit=online_limit,
        sequence=0,
        links=[],
        images=[],
        **fields,
    )
    talk.parts = [TalkPart(position=0, title=None)]
    db.session.add(talk)
    db.session.commit()
    return talk


def outbox_rows(kind: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(query))


def kinds_for(rsvp: Rsvp) -> list[str]:
    return [row.kind for row in outbox_rows() if row.rsvp_id == rsvp.id]


def sent(app: Flask) -> list[EmailMessage]:
    return app.extensions["lectern.mailer"].outbox


def sent_to(app: Flask, address: str) -> list[EmailMessage]:
    return [message for message in sent(app) if address in message["To"]]


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "the email has a plain-text part"
    return part.get_content()


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, "the email has an HTML part"
    return part.get_content()


def invite(message: EmailMessage) -> Calendar | None:
    """The calendar invite attached to an email, parsed back; None when there is none."""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return Calendar.from_ical(part.get_payload(decode=True))
    return None


def the_event(calendar: Calendar):  # type: ignore[no-untyped-def]
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return events[0]


def save_settings(series: Series, **changes: str) -> Series:
    """The settings form saved with these fields changed and the others as they are."""
    fields: dict[str, object] = {
        "name": series.name,
        "timezone": series.timezone,
        "default_minutes": series.default_minutes,
        "default_room_id": series.default_room_id,
        "contact_email": series.contact_email,
        "description": series.description,
        "rsvp_domains": series.rsvp_domains,
        **changes,
    }
    return talk_editing.save_series(db.session, series, **fields)  # type: ignore[arg-type]
