"""Finding talks and semesters for the public pages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, selectinload

from models import Room, ScheduleEntry, Semester, Series, Talk, TalkPart, TalkStatus
from services import locks


def get_series(session: Session, *, name: str, timezone: str, default_minutes: int, contact_email: str) -> Series:
    """The installation's series, added to the session from the configured defaults the first time.

    A new series is pending until the caller commits (`series in session.new` tells).
    """
    series = session.scalars(select(Series).order_by(Series.id).limit(1)).first()
    if series is None:
        series = Series(name=name, timezone=timezone, default_minutes=default_minutes, contact_email=contact_email)
        session.add(series)
    return series


def configured_series(session: Session, config: Mapping[str, Any]) -> Series:
    """The series, or a new one from the installation's SERIES_* settings."""
    return get_series(
        session,
        name=config["SERIES_NAME"],
        timezone=config["SERIES_TIMEZONE"],
        default_minutes=config["SERIES_DEFAULT_MINUTES"],
        contact_email=config["SERIES_CONTACT_EMAIL"],
    )


def _public_talks() -> Select[tuple[Talk]]:
    return (
        select(Talk)
        .where(Talk.published.is_(True))
        .options(
            selectinload(Talk.parts).selectinload(TalkPart.speakers),
            selectinload(Talk.room),
            selectinload(Talk.semester),
        )
    )


def talk_by_slug(session: Session, slug: str) -> Talk | None:
    return session.scalars(_public_talks().where(Talk.slug == slug).options(selectinload(Talk.sections))).first()


def talk_to_sign_up_for(session: Session, slug: str) -> Talk | None:
    """The published talk, locked for this unit of work and read in one statement with what a
    sign-up looks at and nothing else: the columns its rules read (`SIGN_UP_READS`), its series'
    time zone and allowed domains, its room's seats. Whatever else is asked of it later (a page
    with errors renders it) loads then."""
    return locks.lock_talk_by(session, _TO_SIGN_UP_FOR, {"slug": slug})


def talk_to_change(session: Session, slug: str) -> Talk | None:
    """The published talk, locked for this unit of work, read whole with its series and room."""
    return locks.lock_talk_by(session, _TO_CHANGE, {"slug": slug})


# What `signups.sign_up`, `signups.signups_open` and `signups.modes` read of a talk, its series
# and its room (tests/blueprints/test_rsvp.py holds a sign-up to the statements it needs: an
# attribute missing here would be read by a statement of its own).
SIGN_UP_READS = (
    Talk.series_id,
    Talk.slug,
    Talk.status,
    Talk.published,
    Talk.starts_at,
    Talk.room_id,
    Talk.online_platform,
    Talk.room_capacity,
    Talk.online_limit,
    Talk.rsvp_open,
    Talk.rsvp_closes_at,
    Talk.ask_affiliation,
    Talk.ask_question,
)

_PUBLISHED_BY_SLUG = (Talk.published.is_(True), Talk.slug == bindparam("slug"))
_TO_CHANGE = locks.locking_read(*_PUBLISHED_BY_SLUG)
_TO_SIGN_UP_FOR = locks.locking_read(
    *_PUBLISHED_BY_SLUG,
    only=(SIGN_UP_READS, (Series.timezone, Series.rsvp_domains), (Room.capacity,)),
)


def upcoming_talks(session: Session, now: datetime, limit: int | None = None) -> list[Talk]:
    """Published talks that have not ended yet, soonest first (cancelled ones included, marked)."""
    query = _public_talks().where(Talk.ends_at > now).order_by(Talk.starts_at)
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def next_talk(talks: list[Talk]) -> Talk | None:
    return next((talk for talk in talks if talk.status != TalkStatus.CANCELLED), None)


def all_public_talks(session: Session) -> list[Talk]:
    return list(session.scalars(_public_talks().order_by(Talk.starts_at)))


@dataclass
class ScheduleRow:
    """A line of a semester's schedule: a talk, or an entry without one."""

    day: date | None
    talk: Talk | None = None
    entry: ScheduleEntry | None = None


@dataclass
class SemesterSchedule:
    semester: Semester
    rows: list[ScheduleRow]

    @property
    def first_day(self) -> date | None:
        days = [row.day for row in self.rows if row.day]
        return min(days) if days else None

    @property
    def last_day(self) -> date | None:
        days = [row.day for row in self.rows if row.day]
        return max(days) if days else None


def semester_schedule(session: Session, semester: Semester, tz: ZoneInfo) -> SemesterSchedule:
    talks = session.scalars(_public_talks().where(Talk.semester_id == semester.id).order_by(Talk.starts_at))
    rows = [ScheduleRow(day=talk.starts_at.astimezone(tz).date(), talk=talk) for talk in talks]
    rows += [ScheduleRow(day=entry.on_date, entry=entry) for entry in semester.entries]
    # Dated rows in date order; undated notes keep their place after the row they followed.
    rows.sort(key=lambda row: (row.day or date.max, row.talk is None))
    return SemesterSchedule(semester=semester, rows=rows)


def all_schedules(session: Session, tz: ZoneInfo) -> list[SemesterSchedule]:
    semesters = session.scalars(select(Semester).options(selectinload(Semester.entries)))
    schedules = [semester_schedule(session, semester, tz) for semester in semesters]
    return sorted(schedules, key=lambda s: s.first_day or date.min, reverse=True)


def semester_by_slug(session: Session, slug: str) -> Semester | None:
    return session.scalars(select(Semester).where(Semester.slug == slug)).first()


def current_schedule(schedules: list[SemesterSchedule], today: date) -> SemesterSchedule | None:
    """The semester running today by its schedule's dates; between semesters, the next one."""
    dated = [s for s in schedules if s.first_day and s.last_day]
    for schedule in dated:
        if schedule.first_day <= today <= schedule.last_day:  # type: ignore[operator]
            return schedule
    coming = [s for s in dated if s.first_day > today]  # type: ignore[operator]
    if coming:
        return min(coming, key=lambda s: s.first_day)  # type: ignore[arg-type, return-value]
    return max(dated, key=lambda s: s.last_day, default=None)  # type: ignore[arg-type, return-value]
