"""Attendee lists for organizers: the CSV exports of sign-ups and of chat bookings, streamed row by row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ChatBooking, ChatSlot, Rsvp, RsvpStatus, Talk

HEADER = ["name", "email", "status", "affiliation", "question", "signed_up_at", "checked_in_at", "walk_in"]
CHAT_HEADER = [
    "slot_starts_at",
    "minutes",
    "place",
    "speaker",
    "name",
    "email",
    "affiliation",
    "topic",
    "booked_at",
    "drawn",
]
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|")


def spreadsheet_safe(value: str) -> str:
    """Neutralise a cell a spreadsheet would execute, by making it plain text."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def attendees(session: Session, talk: Talk, statuses: tuple[RsvpStatus, ...] | None = None) -> list[Rsvp]:
    query = select(Rsvp).where(Rsvp.talk_id == talk.id)
    if statuses:
        query = query.where(Rsvp.status.in_(statuses))
    return list(session.scalars(query.order_by(Rsvp.queued_at, Rsvp.id)))


def check_in_list(session: Session, talk: Talk, search: str = "") -> list[Rsvp]:
    """Everyone expected at the door (in the room, waiting, online); with a search (lower case),
    only those whose name or address holds it."""
    people = attendees(session, talk, (RsvpStatus.SEATED, RsvpStatus.WAITING, RsvpStatus.ONLINE))
    if search:
        people = [r for r in people if search in r.name.lower() or search in r.email]
    return people


def people_by_id(session: Session, talk: Talk, rsvp_ids: list[int]) -> dict[int, Rsvp]:
    """These sign-ups of the talk, by id; those erased since are missing."""
    if not rsvp_ids:
        return {}
    query = select(Rsvp).where(Rsvp.talk_id == talk.id, Rsvp.id.in_(rsvp_ids))
    return {rsvp.id: rsvp for rsvp in session.scalars(query)}


class _CsvLines:
    """Makes one CSV line at a time, each cell made safe for spreadsheets."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)

    def __call__(self, cells: list[str]) -> str:
        self.buffer.seek(0)
        self.buffer.truncate()
        self.writer.writerow([spreadsheet_safe(cell) for cell in cells])
        return self.buffer.getvalue()


def csv_lines(session: Session, talk: Talk, tz: ZoneInfo, batch: int = 500) -> Iterator[str]:
    """The CSV, one line at a time; rows come from the database in batches, never all at once."""
    line = _CsvLines()
    yield line(HEADER)
    rows = session.scalars(
        select(Rsvp).where(Rsvp.talk_id == talk.id).order_by(Rsvp.queued_at, Rsvp.id).execution_options(yield_per=batch)
    )
    for rsvp in rows:
        yield line(
            [
                rsvp.name,
                rsvp.email,
                rsvp.status.value,
                rsvp.affiliation,
                rsvp.question,
                rsvp.created_at.astimezone(tz).isoformat(timespec="minutes"),
                rsvp.checked_in_at.astimezone(tz).isoformat(timespec="minutes") if rsvp.checked_in_at else "",
                "yes" if rsvp.walk_in else "",
            ]
        )


def chat_csv_lines(session: Session, talk: Talk, tz: ZoneInfo, batch: int = 500) -> Iterator[str]:
    """The talk's chat bookings as CSV, by speaker, then slot time, then booking time; times in
    the series' zone. A slot of the talk's one speaker (or of all its speakers) names them."""
    # Read now: the lines are made while the response streams, when the talk may be detached.
    return _chat_lines(session, talk.id, ", ".join(talk.speaker_names), tz, batch)


def _chat_lines(session: Session, talk_id: int, everyone: str, tz: ZoneInfo, batch: int) -> Iterator[str]:
    line = _CsvLines()
    yield line(CHAT_HEADER)
    rows = session.execute(
        select(ChatBooking, ChatSlot, Rsvp)
        .join(ChatSlot, ChatSlot.id == ChatBooking.slot_id)
        .join(Rsvp, Rsvp.id == ChatBooking.rsvp_id)
        .where(ChatBooking.talk_id == talk_id)
        .order_by(ChatSlot.speaker_name, ChatSlot.starts_at, ChatSlot.id, ChatBooking.booked_at, ChatBooking.id)
        .execution_options(yield_per=batch)
    )
    for booking, slot, rsvp in rows:
        yield line(
            [
                slot.starts_at.astimezone(tz).isoformat(timespec="minutes"),
                str(slot.minutes),
                slot.place,
                slot.speaker_name or everyone,
                rsvp.name,
                rsvp.email,
                rsvp.affiliation,
                rsvp.chat_topic,
                booking.booked_at.astimezone(tz).isoformat(timespec="minutes"),
                "yes" if booking.drawn else "",
            ]
        )
