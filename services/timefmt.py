"""Dates and times as people read them, in the series' zone with its abbreviation."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz)


def clock(moment: datetime) -> str:
    """'11:00 AM', '1:30 PM'."""
    return moment.strftime("%I:%M %p").lstrip("0")


def day(value: date) -> str:
    """'Monday, July 29, 2024'."""
    return f"{value:%A, %B} {value.day}, {value.year}"


def short_day(value: date) -> str:
    """'Mon, Jul 29'."""
    return f"{value:%a, %b} {value.day}"


def time_range(starts_at: datetime, ends_at: datetime, tz: ZoneInfo) -> str:
    """'11:00 AM – 12:00 PM EDT' in the series' zone."""
    start, end = local(starts_at, tz), local(ends_at, tz)
    return f"{clock(start)} – {clock(end)} {end.tzname()}"


def when(starts_at: datetime, ends_at: datetime, tz: ZoneInfo) -> str:
    """'Monday, July 29, 2024, 11:00 AM – 12:00 PM EDT'."""
    return f"{day(local(starts_at, tz).date())}, {time_range(starts_at, ends_at, tz)}"


def when_at(moment: datetime, tz: ZoneInfo) -> str:
    """'Monday, July 29, 2024, 11:00 AM EDT': a moment, not a span."""
    there = local(moment, tz)
    return f"{day(there.date())}, {clock(there)} {there.tzname()}"
