"""Dates and times written by hand: "Friday May 9th at 1PM", "11-12:30PM", "noon", and the start and end they give."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from services.site_import.limits import PostError
from services.site_import.names import is_tbd
from services.site_import.talk_info import START, warn

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
    re.compile(r"(?<!\d)(?P<year>\d{4})(?P<isep>[-/.])(?P<month>\d{1,2})(?P=isep)(?P<day>\d{1,2})(?!\d)"),
    # "05/03/2029", "5.3.2029": day and month told apart below.
    re.compile(r"(?<![\d/.])(?P<first>\d{1,2})(?P<sep>[./])(?P<second>\d{1,2})(?P=sep)(?P<year>\d{4})(?![\d/.])"),
)
# The end of a range of days after a date: "March 6-7", "March 30 - April 2, 2029", "6 to 8 May".
_MONTH2 = _MONTH.replace("month", "month2")
_DAY_RANGE_RE = re.compile(
    rf"\s*(?:-{{1,2}}|–|—|\bto\b|\buntil\b|\bthrough\b|\bthru\b)\s*(?:{_MONTH2}\s+)?"
    r"(?P<day2>\d{1,2})(?:st|nd|rd|th)?(?![\w:])(?!\s*(?:[ap]\.?\s?m\b|h\d|o'clock))(?:\s+(?P<month3>[A-Za-z]+\.?))?(?:,?\s+(?P<year2>\d{4}))?",
    re.I,
)
_ISO_RANGE_END_RE = re.compile(
    r"\s*(?:-{1,2}|–|—|\bto\b|\buntil\b)\s*(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?!\d)"
)
# A day before a day-month date: the "6-" of "6-7 March".
_LEADING_DAY_RE = re.compile(r"(?<!\w)(?P<day>\d{1,2})(?:st|nd|rd|th)?\s*(?:-{1,2}|–|—|\bto\b)\s*$", re.I)
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
    # "05/03/2029" could be either day first or month first: read as the separator suggests.
    ambiguous: bool = False
    # A range of days ("March 6-7, 2029"): its last day (month, day, year), and where it ends.
    last: tuple[int, int, int | None] | None = None


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
    weekday = _WEEKDAY_RE.search(text[: match.start()])
    ambiguous = False
    if "first" in match.re.groupindex:
        month_number, day, ambiguous = _numeric_month_day(int(match["first"]), int(match["second"]), match["sep"])
    else:
        month = match["month"]
        month_number = int(month) if month.isdigit() else _MONTHS[month.lower()]
        day = int(match["day"])
    found = _MonthDay(
        month=month_number,
        day=day,
        year=int(match["year"]) if match["year"] else None,
        weekday=_WEEKDAYS[weekday[1].lower()] if weekday else None,
        end=match.end(),
        ambiguous=ambiguous,
    )
    _read_day_range(text, match, found)
    return found


def _numeric_month_day(first: int, second: int, separator: str) -> tuple[int, int, bool]:
    """(month, day, ambiguous) from "05/03": a number above 12 is the day; "07.03" is day first
    (nobody writes dots month first); "05/03" is read month first and is doubtful."""
    if first > 12:
        return second, first, False
    if second > 12 or separator == ".":
        return (first, second, False) if separator != "." else (second, first, False)
    return first, second, first != second


def _read_day_range(text: str, match: re.Match[str], found: _MonthDay) -> None:
    """Extend a date into the range of days it opens or closes, if it does."""
    if "first" in match.re.groupindex:
        return
    if match.re is _DATE_PATTERNS[2]:
        if iso := _ISO_RANGE_END_RE.match(text, match.end()):
            found.last = (int(iso["month"]), int(iso["day"]), int(iso["year"]))
            found.end = iso.end()
        return
    day_first = match.re is _DATE_PATTERNS[1]
    if day_first and (leading := _LEADING_DAY_RE.search(text[: match.start()])):
        # "6-7 March 2029": the match is the last day; the range starts at the leading day.
        found.last = (found.month, found.day, found.year)
        found.day = int(leading["day"])
        return
    rest = _DAY_RANGE_RE.match(text, match.end())
    if rest is None:
        return
    after = (rest["month3"] or "").lower().rstrip(".")
    month = rest["month2"] or (after if after in _MONTHS else None)
    end_month = _MONTHS[month.lower().rstrip(".")] if month else found.month
    year = int(rest["year2"]) if rest["year2"] else None
    if found.year is None and year is not None:
        found.year = year  # "March 6-7, 2029": the year written once, after the range
    found.last = (end_month, int(rest["day2"]), year or found.year)
    found.end = rest.end()


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
        warn(
            warnings,
            START,
            f"file name says {file_date.isoformat()} but the post says {post_date.isoformat()}; using the post's date",
        )
    day = post_date or reference
    if day is None:
        raise PostError("no date: the post has no Logistics date and its file name has none")

    clock = _post_clock(logistics, warnings, tz)
    if clock is None:
        if not logistics.get("time"):
            warn(warnings, START, "the post gives no time; 12:00 used as a placeholder")
        starts_at = datetime.combine(day, _PLACEHOLDER_TIME, tzinfo=tz)
        return _When(starts_at, starts_at + timedelta(minutes=default_minutes), False)

    starts_at = datetime.combine(day, clock.start, tzinfo=tz)
    ends_at = starts_at + timedelta(minutes=default_minutes)
    if clock.end is not None:
        # "April 3rd-4th" with "9:30AM-4PM": the end is on the range's last day.
        last_day = _last_day(find_month_day(date_text), day) if post_date and date_text else None
        explicit_end = datetime.combine(last_day or day, clock.end, tzinfo=tz)
        if explicit_end > starts_at:
            ends_at = explicit_end
        else:
            warn(warnings, START, "the post's end time is not after its start; default length used")
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
        warn(warnings, START, f"the post says {text!r} but {chosen.isoformat()} is a {chosen:%A}")
    elif found.ambiguous:
        warn(warnings, START, f"the date {text!r} reads either day or month first; read as {chosen:%B} {chosen.day}")
    return chosen


def _candidate_years(found: _MonthDay, reference: date | None, semester: str | None) -> list[int]:
    if found.year is not None:
        return [found.year]
    if reference is not None:
        return [reference.year - 1, reference.year, reference.year + 1]
    if semester is not None:
        return [int(semester.rsplit("-", 1)[1])]
    return []


def _post_clock(logistics: dict[str, str], warnings: list[str], tz: ZoneInfo | None = None) -> _Clock | None:
    time_text = logistics.get("time")
    if time_text and is_tbd(time_text):
        warn(warnings, START, "the post's time is TBD; 12:00 used as a placeholder")
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
            warn(warnings, START, f"cannot read the time {time_text!r}; 12:00 used as a placeholder")
        return None
    if clock.guessed_pm:
        warn(warnings, START, f"the time in {source_text!r} has no AM/PM; read as {clock.start:%H:%M}")
    if clock.zone and clock.zone not in own_zone_names(tz):
        warn(warnings, START, f"the time is given in {clock.zone}; read as the series' local time")
    return clock


def own_zone_names(tz: ZoneInfo | None) -> set[str]:
    """How a page may name the series' own zone: "EST", "EDT", "ET", "Eastern" for Montreal,
    "CET" and "CEST" for Paris; Eastern time when no zone is known."""
    if tz is None:
        return _EASTERN_ZONES
    names = {tz.tzname(datetime(2001, month, 15)) or "" for month in (1, 7)}
    names = {name.upper() for name in names if name and name[0].isalpha()}
    # "ET" for a zone that switches between "EST" and "EDT" (North American usage).
    generic = {f"{name[0]}T" for name in names if len(name) == 3 and name[1] == "S" and f"{name[0]}DT" in names}
    if "ET" in generic:
        generic |= {"EASTERN", "EASTERN TIME"}
    if names & {"GMT", "UTC"}:
        generic |= {"GMT", "UTC"}
    return names | generic


# ---------------------------------------------------------------------------------------
# Front matter dates (Jekyll collections, Hugo, Wowchemy) and the start they give with the body

_ISO_DATETIME_RE = re.compile(
    r"^\s*(?P<date>\d{4}-\d{1,2}-\d{1,2})(?:(?:[Tt]|\s+)(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?"
    r"\s*(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?\s*$"
)


@dataclass
class FrontWhen:
    """What front matter says about when: a day, perhaps a time and the offset written with it."""

    day: date
    clock: time | None = None  # None: only the day is given (or midnight, which means the same)
    tzinfo: tzinfo | None = None  # the offset written with the time, if any
    end_day: date | None = None
    end_clock: time | None = None
    end_tzinfo: tzinfo | None = None
    all_day: bool = False
    key: str = "date"  # the front matter key it came from, for messages
    doubt: str | None = None  # why the time may not be the talk's


def read_front_datetime(value: Any) -> tuple[date, time | None, tzinfo | None] | None:
    """(day, time or None, offset or None) from a front matter value: a YAML or TOML date or
    datetime, an ISO string ("2029-03-05T15:00:00-05:00", "2029-03-05 15:00 -0500") or words
    ("Tuesday, March 5, 2029 at 3pm"). Midnight counts as no time: it is how a bare date is
    written out by most generators. None when the value holds no date."""
    if isinstance(value, datetime):
        clock = value.timetz().replace(tzinfo=None)
        return value.date(), (None if clock == time(0) else clock), value.tzinfo
    if isinstance(value, date):
        return value, None, None
    if not isinstance(value, str) or not value.strip():
        return None
    iso = _ISO_DATETIME_RE.match(value)
    if iso:
        year, month, day_number = (int(n) for n in iso["date"].split("-"))
        hour, minute, second = ([int(float(n)) for n in iso["time"].split(":")] + [0])[:3] if iso["time"] else (0, 0, 0)
        try:
            parsed = datetime(year, month, day_number, hour, minute, second, tzinfo=_iso_zone(iso["zone"]))
        except ValueError:
            raise PostError(f"the front matter date {value.strip()!r} does not exist") from None
        return read_front_datetime(parsed) if iso["time"] else (parsed.date(), None, None)
    found = find_month_day(value)
    if found is None or found.year is None:
        return None
    try:
        day = date(found.year, found.month, found.day)
    except ValueError:
        raise PostError(f"the front matter date {value.strip()!r} does not exist") from None
    clock = find_clock(value[found.end :], allow_bare_hour=False)
    return day, (clock.start if clock else None), None


def _iso_zone(zone: str | None) -> tzinfo | None:
    if not zone:
        return None
    if zone in "Zz":
        return UTC
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return timezone(-offset if zone[0] == "-" else offset)


def read_front_time(value: Any) -> _Clock | None:
    """A separate time field: "15:30", "3pm-4:30pm", a TOML time, or YAML's reading of an
    unquoted 15:30 as the number 930 (minutes, in YAML 1.1)."""
    if isinstance(value, time):
        return _Clock(value.replace(tzinfo=None), None, None, False)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        hour, minute = (value // 60, value % 60) if value < 24 * 60 else (value // 100, value % 100)
        return _Clock(time(hour, minute), None, None, False) if hour < 24 and minute < 60 else None
    if isinstance(value, str) and value.strip() and not is_tbd(value):
        return find_clock(value, allow_bare_hour=True)
    return None


def read_start(
    logistics: dict[str, str],
    front: FrontWhen | None,
    reference: date | None,
    semester: str | None,
    tz: ZoneInfo,
    default_minutes: int,
    warnings: list[str],
) -> _When:
    """The start and end of a talk from the page's body and its front matter.

    The body's date and time, written for people, win over the front matter's (which may be
    when the page was written), with a warning when they disagree; the front matter's time
    keeps its offset; without any time the talk starts at a placeholder noon, flagged.
    """
    date_text = logistics.get("date") or logistics.get("when")
    found = find_month_day(date_text) if date_text and not is_tbd(date_text) else None
    anchor = (front.day if front else None) or reference
    body_day = _post_date(date_text, anchor, semester, warnings) if date_text and found else None
    if date_text and not found and not is_tbd(date_text) and front is None and reference is None:
        raise PostError(f"cannot read the date {date_text!r}")
    if body_day and front and body_day != front.day:
        warn(
            warnings,
            START,
            f"the front matter ({front.key}) says {front.day.isoformat()} but the page says "
            f"{body_day.isoformat()}; using the page's date",
        )
    day = body_day or (front.day if front else None) or reference
    if day is None:
        raise PostError("no date: neither the front matter nor the page gives one")
    last_day = _last_day(found, day) if body_day else (front.end_day if front else None)

    clock = _post_clock(logistics, warnings, tz)
    if clock is not None:
        starts_at = datetime.combine(day, clock.start, tzinfo=tz)
        _compare_with_front(starts_at, front, tz, warnings)
        end = datetime.combine(last_day or day, clock.end, tzinfo=tz) if clock.end else None
        return _When(starts_at, _ends_at(starts_at, end, default_minutes, warnings), True)
    if front is not None and front.clock is not None and front.day == day:
        starts_at = datetime.combine(day, front.clock, tzinfo=front.tzinfo or tz).astimezone(tz)
        if front.doubt:
            warn(warnings, START, front.doubt)
        end = None
        if front.end_clock is not None:
            end = datetime.combine(front.end_day or day, front.end_clock, tzinfo=front.end_tzinfo or tz)
            end = end.astimezone(tz)
        return _When(starts_at, _ends_at(starts_at, end, default_minutes, warnings), True)
    if not logistics.get("time"):
        if front is not None and front.all_day:
            warn(warnings, START, "the talk is marked all day; 12:00 used as a placeholder: set its time")
        else:
            warn(warnings, START, "the page gives no time; 12:00 used as a placeholder")
    starts_at = datetime.combine(day, _PLACEHOLDER_TIME, tzinfo=tz)
    return _When(starts_at, starts_at + timedelta(minutes=default_minutes), False)


def _last_day(found: _MonthDay | None, day: date) -> date | None:
    if found is None or found.last is None:
        return None
    month, number, year = found.last
    try:
        last = date(year or day.year, month, number)
    except ValueError:
        return None
    return last if last > day else None


def _compare_with_front(starts_at: datetime, front: FrontWhen | None, tz: ZoneInfo, warnings: list[str]) -> None:
    if front is None or front.clock is None or front.doubt:
        return
    written = datetime.combine(front.day, front.clock, tzinfo=front.tzinfo or tz)
    if written != starts_at and front.day == starts_at.date():
        warn(
            warnings,
            START,
            f"the front matter ({front.key}) gives {written.astimezone(tz):%H:%M} but the page says "
            f"{starts_at:%H:%M}; using the page's time",
        )


def _ends_at(starts_at: datetime, end: datetime | None, default_minutes: int, warnings: list[str]) -> datetime:
    if end is None:
        return starts_at + timedelta(minutes=default_minutes)
    if end <= starts_at:
        warn(warnings, START, "the end time is not after the start; default length used")
        return starts_at + timedelta(minutes=default_minutes)
    return end
