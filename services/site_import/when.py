"""Dates and times written by hand: "Friday May 9th at 1PM", "11-12:30PM", "noon", and the start and end they give."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.site_import.limits import PostError
from services.site_import.names import is_tbd

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4, "sat": 5,
    "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
# Any two letters after the day: posts write "30rd" as readily as "30th".
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<year>\d{4}))?"
_DATE_PATTERNS = (
    re.compile(rf"(?<!\w){_MONTH}\s+{_DAY}(?!\w){_YEAR}", re.I),
    re.compile(rf"(?<!\w){_DAY}\s+(?:of\s+)?{_MONTH}(?!\w){_YEAR}", re.I),
    re.compile(r"(?<!\d)(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?!\d)"),
)
_WEEKDAY_RE = re.compile(r"(?<!\w)(" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) + r")\.?(?!\w)", re.I)
_TIME_RE = re.compile(
    r"(?<![\w:.])(?:(?P<noon>noon|midday)|(?P<h>\d{1,2})(?:\s*[:h.]\s*(?P<m>\d{2}))?"
    r"\s*(?P<mer>[ap]\.?\s?m\b\.?)?)(?![\w:])",
    re.I,
)
_RANGE_SEPARATOR_RE = re.compile(r"\s*(?:-{1,2}|–|—|\bto\b|\buntil\b|\btill\b)\s*", re.I)
_ZONE_RE = re.compile(
    r"\s*\(?\b(?P<zone>E[SD]?T|[CMP][SD]?T|UTC|GMT|BST|CES?T|EES?T|IST|JST|AE[SD]T|Eastern(?: Time)?)\b\)?"
)
_EASTERN_ZONES = {"ET", "EST", "EDT", "EASTERN", "EASTERN TIME"}
# Around 1 to 7 o'clock with no AM/PM the group means the afternoon: it never meets at night.
_AFTERNOON_HOURS = range(1, 8)
_PLACEHOLDER_TIME = time(12, 0)


@dataclass
class _MonthDay:
    month: int
    day: int
    year: int | None
    weekday: int | None
    end: int  # where the date ends in the text


@dataclass
class _Clock:
    start: time
    end: time | None
    zone: str | None
    guessed_pm: bool


@dataclass
class _When:
    starts_at: datetime
    ends_at: datetime
    time_known: bool


def find_month_day(text: str) -> _MonthDay | None:
    matches = [m for pattern in _DATE_PATTERNS if (m := pattern.search(text))]
    if not matches:
        return None
    match = min(matches, key=lambda m: m.start())
    month = match["month"]
    month_number = int(month) if month.isdigit() else _MONTHS[month.lower()]
    weekday = _WEEKDAY_RE.search(text[: match.start()])
    return _MonthDay(
        month=month_number,
        day=int(match["day"]),
        year=int(match["year"]) if match["year"] else None,
        weekday=_WEEKDAYS[weekday[1].lower()] if weekday else None,
        end=match.end(),
    )


def find_clock(text: str, *, allow_bare_hour: bool) -> _Clock | None:
    """The first time of day in the text, with an end time when it gives a range."""
    for match in _TIME_RE.finditer(text):
        end_match = _range_end(text, match.end())
        # A bare number is a time only where one is expected, or as the start of a
        # range whose end is clearly a time ("1-2:30 PM").
        clear_end = end_match is not None and bool(end_match["m"] or end_match["mer"])
        if not (match["noon"] or match["m"] or match["mer"] or allow_bare_hour or clear_end):
            continue
        start, end, guessed = _clock_times(match, end_match)
        if start is None:
            continue
        tail = text[(end_match or match).end() :]
        zone = _ZONE_RE.match(tail)
        return _Clock(start, end, zone["zone"].upper() if zone else None, guessed)
    return None


def _range_end(text: str, position: int) -> re.Match[str] | None:
    separator = _RANGE_SEPARATOR_RE.match(text, position)
    if separator is None:
        return None
    match = _TIME_RE.match(text, separator.end())
    return match if match and (match["noon"] or match["h"]) else None


def _clock_times(start: re.Match[str], end: re.Match[str] | None) -> tuple[time | None, time | None, bool]:
    """Start and end times from the matched numbers, filling in a missing AM/PM."""
    start_mer, end_mer = _meridiem(start), _meridiem(end)
    guessed = False
    if start_mer is None and end_mer is None and _hour(start) in _AFTERNOON_HOURS:
        start_mer, guessed = "pm", True
    if start_mer is None and end_mer is not None:
        # "1-2:30 PM" borrows PM for its start; "11-12:30PM" must not (11 PM is after 12:30 PM).
        borrowed, end_time = _to_time(start, end_mer), _to_time(end, end_mer)
        start_mer = end_mer if borrowed and end_time and borrowed < end_time else None
    start_time = _to_time(start, start_mer)
    end_time = _to_time(end, end_mer or start_mer)
    if start_time and end_time and end_time <= start_time and end_mer is None:
        end_time = _to_time(end, "pm")  # "11AM-12:30": the end is past noon
    return start_time, end_time, guessed


def _meridiem(match: re.Match[str] | None) -> str | None:
    if match is None or not match["mer"]:
        return None
    return "am" if match["mer"][0].lower() == "a" else "pm"


def _hour(match: re.Match[str]) -> int:
    return 12 if match["noon"] else int(match["h"])


def _to_time(match: re.Match[str] | None, meridiem: str | None) -> time | None:
    if match is None:
        return None
    if match["noon"]:
        return time(12, 0)
    hour, minute = int(match["h"]), int(match["m"] or 0)
    # "13:00 PM" happens; a 24-hour reading wins over a stray meridiem.
    if meridiem is not None and 1 <= hour <= 12:
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def read_when(
    logistics: dict[str, str],
    file_date: date | None,
    front: dict[str, Any],
    semester: str | None,
    tz: ZoneInfo,
    default_minutes: int,
    warnings: list[str],
) -> _When:
    date_text = logistics.get("date") or logistics.get("when")
    front_date = _front_matter_date(front.get("date"))
    reference = file_date or front_date
    post_date = _post_date(date_text, reference, semester, warnings) if date_text else None
    if post_date and file_date and post_date != file_date:
        warnings.append(
            f"file name says {file_date.isoformat()} but the post says {post_date.isoformat()}; using the post's date"
        )
    day = post_date or reference
    if day is None:
        raise PostError("no date: the post has no Logistics date and its file name has none")

    clock = _post_clock(logistics, warnings)
    if clock is None:
        if not logistics.get("time"):
            warnings.append("the post gives no time; 12:00 used as a placeholder")
        starts_at = datetime.combine(day, _PLACEHOLDER_TIME, tzinfo=tz)
        return _When(starts_at, starts_at + timedelta(minutes=default_minutes), False)

    starts_at = datetime.combine(day, clock.start, tzinfo=tz)
    ends_at = starts_at + timedelta(minutes=default_minutes)
    if clock.end is not None:
        explicit_end = datetime.combine(day, clock.end, tzinfo=tz)
        if explicit_end > starts_at:
            ends_at = explicit_end
        else:
            warnings.append("the post's end time is not after its start; default length used")
    return _When(starts_at, ends_at, True)


def _front_matter_date(value: Any) -> date | None:
    # Jekyll lets `date:` override the file name's date; YAML already parsed it.
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _post_date(text: str, reference: date | None, semester: str | None, warnings: list[str]) -> date | None:
    if is_tbd(text):
        return None
    found = find_month_day(text)
    if found is None:
        raise PostError(f"cannot read the date {text!r}")
    years = _candidate_years(found, reference, semester)
    if not years:
        raise PostError(f"the date {text!r} has no year, and neither the file name nor the semester gives one")
    try:
        candidates = [date(year, found.month, found.day) for year in years]
    except ValueError:
        raise PostError(f"the date {text!r} does not exist") from None
    # Without a written year, take the one nearest the file name (a January talk filed in December).
    chosen = min(candidates, key=lambda d: abs((d - reference).days)) if reference else candidates[0]
    if found.weekday is not None and chosen.weekday() != found.weekday:
        warnings.append(f"the post says {text!r} but {chosen.isoformat()} is a {chosen:%A}")
    return chosen


def _candidate_years(found: _MonthDay, reference: date | None, semester: str | None) -> list[int]:
    if found.year is not None:
        return [found.year]
    if reference is not None:
        return [reference.year - 1, reference.year, reference.year + 1]
    if semester is not None:
        return [int(semester.rsplit("-", 1)[1])]
    return []


def _post_clock(logistics: dict[str, str], warnings: list[str]) -> _Clock | None:
    time_text = logistics.get("time")
    if time_text and is_tbd(time_text):
        warnings.append("the post's time is TBD; 12:00 used as a placeholder")
        return None
    if time_text:
        source_text = time_text
        clock = find_clock(time_text, allow_bare_hour=True)
    else:
        # "When: Friday May 9th at 1PM": the time follows the date.
        source_text = logistics.get("when") or logistics.get("date") or ""
        found = find_month_day(source_text)
        rest = source_text[found.end :] if found else source_text
        clock = find_clock(rest, allow_bare_hour=False)
    if clock is None:
        if time_text:
            warnings.append(f"cannot read the time {time_text!r}; 12:00 used as a placeholder")
        return None
    if clock.guessed_pm:
        warnings.append(f"the time in {source_text!r} has no AM/PM; read as {clock.start:%H:%M}")
    if clock.zone and clock.zone not in _EASTERN_ZONES:
        warnings.append(f"the time is given in {clock.zone}; read as the series' local time")
    return clock
