"""Attendee lists for organizers: the CSV export, streamed row by row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Rsvp, RsvpStatus, Talk

HEADER = ["name", "email", "status", "affiliation", "question", "signed_up_at", "checked_in_at", "walk_in"]
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


def csv_lines(session: Session, talk: Talk, tz: ZoneInfo, batch: int = 500) -> Iterator[str]:
    """The CSV, one line at a time; rows come from the database in batches, never all at once."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([spreadsheet_safe(cell) for cell in cells])
        return buffer.getvalue()

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
