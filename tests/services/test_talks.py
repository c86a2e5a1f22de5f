"""Which semester is current, from the schedule's own dates."""

from __future__ import annotations

from datetime import date

from models import Semester
from services.talks import ScheduleRow, SemesterSchedule, current_schedule


def schedule(slug: str, *days: date) -> SemesterSchedule:
    return SemesterSchedule(Semester(slug=slug, name=slug), [ScheduleRow(day=d) for d in days])


SUMMER = schedule("summer-2024", date(2024, 4, 18), date(2024, 8, 26))
FALL = schedule("fall-2024", date(2024, 9, 13), date(2024, 11, 29))


def test_the_semester_running_today_is_current() -> None:
    assert current_schedule([SUMMER, FALL], date(2024, 10, 1)) is FALL


def test_between_semesters_the_next_one_is_current() -> None:
    # September 1st is fall by the calendar, but summer ended and fall has not started: show fall.
    assert current_schedule([SUMMER, FALL], date(2024, 9, 1)) is FALL


def test_a_semester_running_late_is_still_current() -> None:
    # August 26th is in summer's schedule even though a calendar would call late August "fall".
    assert current_schedule([SUMMER, FALL], date(2024, 8, 26)) is SUMMER


def test_after_the_last_semester_the_latest_one_is_shown() -> None:
    assert current_schedule([SUMMER, FALL], date(2025, 6, 1)) is FALL


def test_no_schedule_means_no_current_semester() -> None:
    assert current_schedule([], date(2025, 6, 1)) is None
