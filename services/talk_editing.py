"""Organizers' changes to talks, rooms and the series, with their rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Room, Rsvp, Semester, Series, Speaker, Talk, TalkPart, TalkStatus
from services import addresses, locks, signups, talk_changes
from services.talk_changes import TalkCause
from services.text import list_items

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class EditError(ValueError):
    """A change that breaks a rule; the message says which, in words for the organizer."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DeleteRefused(EditError):
    """A talk that people are signed up to, and that is not cancelled, cannot be deleted."""

    def __init__(self, active: int) -> None:
        super().__init__(f"{active} people are signed up to this talk; cancel it first, which tells them.")
        self.active = active


@dataclass
class SpeakerData:
    name: str
    affiliation: str | None = None
    url: str | None = None


@dataclass
class PartData:
    title: str | None
    speakers: list[SpeakerData]
    abstract_md: str = ""
    bio_md: str = ""


@dataclass
class TalkData:
    title: str
    day: date
    start: time  # local, in the series' zone
    minutes: int
    status: TalkStatus = TalkStatus.SCHEDULED
    published: bool = True
    slug: str | None = None
    room_id: int | None = None
    online_platform: str | None = None
    semester_id: int | None = None
    intro_md: str = ""
    paper_url: str | None = None
    slides_url: str | None = None
    recording_url: str | None = None
    parts: list[PartData] = field(default_factory=list)
    room_capacity: int | None = None  # None: the room's own capacity
    online_limit: int | None = None  # None: unlimited
    rsvp_open: bool = True
    rsvp_closes_at: datetime | None = None  # None: when the talk starts
    ask_affiliation: bool = False
    ask_question: bool = False


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:180] or "talk"


def season_of(day: date) -> tuple[str, str]:
    """The academic term a day falls in, by the usual calendar: ('fall-2026', 'Fall 2026')."""
    season = "winter" if day.month <= 4 else "summer" if day.month <= 8 else "fall"
    return f"{season}-{day.year}", f"{season.capitalize()} {day.year}"


def semester_for_day(session: Session, series: Series, day: date) -> Semester:
    slug, name = season_of(day)
    semester = session.scalars(select(Semester).where(Semester.series_id == series.id, Semester.slug == slug)).first()
    if semester is None:
        semester = Semester(series_id=series.id, slug=slug, name=name, intro_md="")
        session.add(semester)
    return semester


def parse_speaker_lines(text: str) -> list[SpeakerData]:
    """One speaker a line: 'Name | Affiliation | https://link' (affiliation and link optional)."""
    speakers = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if not cells[0]:
            continue
        if len(cells) > 3:
            raise EditError(f"“{line.strip()}” has too many “|”: use Name | Affiliation | Link.", "speakers")
        name, affiliation, url = [*cells, None, None][:3]
        if url and not re.match(r"^https?://", url):
            raise EditError(f"The link for {name} must start with http:// or https://.", "speakers")
        speakers.append(SpeakerData(name=name, affiliation=affiliation or None, url=url or None))
    return speakers


def speaker_lines(part: TalkPart) -> str:
    lines = []
    for speaker in part.speakers:
        cells = [speaker.name, speaker.affiliation or "", speaker.url or ""]
        while cells and not cells[-1]:
            cells.pop()
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def _unique_slug(session: Session, wanted: str, talk: Talk | None) -> str:
    taken = session.scalars(select(Talk).where(Talk.slug == wanted)).first()
    if taken is not None and taken is not talk:
        raise EditError(f"Another talk already has the address /talks/{wanted}.", "slug")
    return wanted


def _free_slug(session: Session, base: str) -> str:
    slug, n = base, 1
    while session.scalars(select(Talk.id).where(Talk.slug == slug)).first():
        n += 1
        slug = f"{base}-{n}"
    return slug


def apply_talk(session: Session, series: Series, data: TalkData, talk: Talk | None = None) -> Talk:
    """Create or update a talk from an organizer's form, raising its SEQUENCE when the attendees'
    calendars change, without the reactions (`save_talk` has them). Nothing is committed here."""
    before = talk_changes.facts(talk) if talk is not None else None
    talk = _fill_talk(session, series, data, talk)
    if before is not None:
        talk_changes.raise_sequence_if_changed(talk, before)
    return talk


def _fill_talk(session: Session, series: Series, data: TalkData, talk: Talk | None) -> Talk:
    tz = ZoneInfo(series.timezone)
    if not data.title.strip():
        raise EditError("A talk needs a title.", "title")
    if not 5 <= data.minutes <= 24 * 60:
        raise EditError("A talk lasts between 5 minutes and 24 hours.", "minutes")
    if data.slug and not SLUG_RE.match(data.slug):
        raise EditError("The address may hold lower-case letters, digits and dashes only.", "slug")
    if not data.parts:
        raise EditError("A talk needs at least one part.", "parts")
    if not 1900 <= data.day.year <= 2200:
        raise EditError("Give a date between the years 1900 and 2200.", "day")
    if data.rsvp_closes_at and not 1900 <= data.rsvp_closes_at.year <= 2200:
        raise EditError("Give a closing date between the years 1900 and 2200.", "rsvp_closes_at")
    starts_at = datetime.combine(data.day, data.start, tzinfo=tz)
    room = session.get(Room, data.room_id) if data.room_id else None
    if data.room_id and room is None:
        raise EditError("That room no longer exists.", "room")
    if room is None and not data.online_platform:
        raise EditError("Give a room, an online platform, or both.", "room")
    if talk is None:
        slug = _unique_slug(session, data.slug, None) if data.slug else _free_slug(session, slugify(data.title))
        talk = Talk(series=series, slug=slug, sequence=0, links=[], images=[])
    elif data.slug and data.slug != talk.slug:
        talk.slug = _unique_slug(session, data.slug, talk)
    talk.title = data.title.strip()
    talk.status = data.status
    talk.published = data.published
    talk.starts_at = starts_at
    talk.ends_at = starts_at + timedelta(minutes=data.minutes)
    talk.room = room
    talk.online_platform = data.online_platform or None
    talk.semester = (
        session.get(Semester, data.semester_id) if data.semester_id else semester_for_day(session, series, data.day)
    )
    talk.intro_md = data.intro_md
    talk.paper_url = data.paper_url or None
    talk.slides_url = data.slides_url or None
    talk.recording_url = data.recording_url or None
    talk.parts = [
        TalkPart(
            position=index,
            title=part.title or None,
            abstract_md=part.abstract_md,
            bio_md=part.bio_md,
            speakers=[
                Speaker(position=n, name=s.name, affiliation=s.affiliation, url=s.url)
                for n, s in enumerate(part.speakers)
            ],
        )
        for index, part in enumerate(data.parts)
    ]
    if data.room_capacity is not None and data.room_capacity < 0:
        raise EditError("A room capacity cannot be negative.", "room_capacity")
    talk.room_capacity = data.room_capacity
    talk.online_limit = data.online_limit
    talk.rsvp_open = data.rsvp_open
    talk.rsvp_closes_at = data.rsvp_closes_at
    talk.ask_affiliation = data.ask_affiliation
    talk.ask_question = data.ask_question
    return talk


@dataclass
class Saved:
    """A talk saved, and what followed for the people signed up."""

    talk: Talk
    promoted: list[Rsvp] = field(default_factory=list)  # seated from the waiting list
    told: int = 0  # told by email that the time, room or status changed


def talk_to_change(session: Session, talk_id: int) -> Talk | None:
    """The talk with its row locked for this unit of work (None when it is gone): its capacity,
    time or status may change, and no sign-up may slip in between."""
    try:
        return locks.lock_talk(session, talk_id)
    except locks.TalkGone:
        return None


def semesters(session: Session) -> list[Semester]:
    """The semesters a talk can be put in, the latest first."""
    return list(session.scalars(select(Semester).order_by(Semester.slug.desc())))


def draft_talk(session: Session, series: Series, data: TalkData, talk: Talk | None = None) -> Talk:
    """A talk as the form would make it, for a preview: the caller rolls the session back."""
    with session.no_autoflush:  # a half-filled talk must never reach the database
        return _fill_talk(session, series, data, talk)


def save_talk(session: Session, series: Series, data: TalkData, talk: Talk | None, now: datetime) -> Saved:
    """Create a talk, or change one (from `talk_to_change`). Its waiting list takes the seats
    there are now (not for a cancelled talk: nobody is coming), and the people signed up are told
    what changed for them. Nothing is committed here."""
    before = talk_changes.facts(talk) if talk is not None else None
    saved = draft_talk(session, series, data, talk)
    session.add(saved)
    change = talk_changes.record(session, saved, before, TalkCause.CREATED if talk is None else TalkCause.EDITED, now)
    return Saved(saved, change.promoted, change.told)


def set_published(session: Session, talk: Talk, published: bool, now: datetime | None = None) -> int:
    """Show or hide a talk (from `talk_to_change`); the number of people told of it."""
    before = talk_changes.facts(talk)
    talk.published = published
    cause = TalkCause.PUBLISHED if published else TalkCause.UNPUBLISHED
    return talk_changes.record(session, talk, before, cause, now or datetime.now(UTC)).told


def change_status(session: Session, talk: Talk, status: TalkStatus, now: datetime | None = None) -> int:
    """Cancel or reinstate a talk (from `talk_to_change`); the number of people told of it."""
    before = talk_changes.facts(talk)
    talk.status = status
    cause = TalkCause.CANCELLED if status == TalkStatus.CANCELLED else TalkCause.REINSTATED
    return talk_changes.record(session, talk, before, cause, now or datetime.now(UTC)).told


def signups_in_the_way(session: Session, talk: Talk) -> int:
    """The active sign-ups that keep a talk from being deleted: deleting would erase them without
    a word, while cancelling the talk tells them first. A cancelled talk has none in the way."""
    if talk.is_cancelled:
        return 0
    signed_up = signups.counts(session, talk)
    return signed_up.seated + signed_up.waiting + signed_up.online


def delete_talk(session: Session, talk: Talk, now: datetime | None = None) -> None:
    """Delete a talk (from `talk_to_change`) with its sign-ups, unless people signed up are in the way."""
    active = signups_in_the_way(session, talk)
    if active:
        raise DeleteRefused(active)
    before = talk_changes.facts(talk)
    session.delete(talk)
    talk_changes.record(session, talk, before, TalkCause.DELETED, now or datetime.now(UTC))


def set_status(talk: Talk, status: TalkStatus) -> None:
    """A new status, with a new version of the calendar event, without the reactions
    (`change_status` has them)."""
    before = talk_changes.facts(talk)
    talk.status = status
    talk_changes.raise_sequence_if_changed(talk, before)


def talks_for_organizers(session: Session, now: datetime) -> tuple[list[Talk], list[Talk]]:
    """(upcoming soonest first, past latest first), published or not."""
    upcoming = list(session.scalars(select(Talk).where(Talk.ends_at > now).order_by(Talk.starts_at)))
    past = list(session.scalars(select(Talk).where(Talk.ends_at <= now).order_by(Talk.starts_at.desc())))
    return upcoming, past


# Rooms ----------------------------------------------------------------------------------


def save_room(
    session: Session, series: Series, *, name: str, capacity: int | None, directions: str, room: Room | None = None
) -> Room:
    name = name.strip()
    if not name:
        raise EditError("A room needs a name.", "name")
    if capacity is not None and capacity < 1:
        raise EditError("A capacity is at least 1 seat (leave it empty when unknown).", "capacity")
    clash = session.scalars(
        select(Room).where(Room.series_id == series.id, func.lower(Room.name) == name.lower())
    ).first()
    if clash is not None and clash is not room:
        raise EditError(f"There is already a room called {clash.name}.", "name")
    if room is None:
        room = Room(series=series)
        session.add(room)
    room.name, room.capacity, room.directions = name, capacity, directions.strip()
    return room


def delete_room(session: Session, room: Room) -> None:
    used = session.scalar(select(func.count(Talk.id)).where(Talk.room_id == room.id)) or 0
    if used:
        raise EditError(f"{room.name} is the room of {used} talk{'s' if used > 1 else ''}; move them first.")
    if room.series.default_room is room:
        room.series.default_room = None
    session.delete(room)


# The series -------------------------------------------------------------------------------


def save_series(
    session: Session,
    series: Series,
    *,
    rsvp_domains: str = "",
    name: str,
    timezone: str,
    default_minutes: int,
    default_room_id: int | None,
    contact_email: str,
    description: str,
) -> Series:
    """Change the series' settings. A new time zone keeps every talk at its real instant."""
    if not name.strip():
        raise EditError("The series needs a name.", "name")
    if timezone not in available_timezones():
        raise EditError(f"{timezone!r} is not a time zone name such as America/Montreal.", "timezone")
    if not 5 <= default_minutes <= 24 * 60:
        raise EditError("A default length is between 5 minutes and 24 hours.", "default_minutes")
    room = session.get(Room, default_room_id) if default_room_id else None
    series.name = name.strip()
    series.timezone = timezone  # talks are stored in UTC: their instants do not move
    series.default_minutes = default_minutes
    series.default_room = room
    if contact_email.strip():
        try:
            series.contact_email = addresses.deliverable(contact_email)
        except addresses.AddressError as error:
            raise EditError(f"The contact address cannot receive email: {error}", "contact_email") from None
    else:
        series.contact_email = ""
    series.description = description.strip()
    domains = []
    for typed in list_items(rsvp_domains):
        try:
            domain = addresses.ascii_domain(typed)  # kept as addresses are, so that they compare
        except addresses.AddressError:
            raise EditError(f"{typed!r} is not a domain such as mcgill.ca.", "rsvp_domains") from None
        if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", domain):
            raise EditError(f"{typed!r} is not a domain such as mcgill.ca.", "rsvp_domains")
        domains.append(domain)
    series.rsvp_domains = ", ".join(domains)
    return series
