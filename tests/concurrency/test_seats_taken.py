"""The triggers that keep each talk's seats taken, on PostgreSQL (tests/services/test_seats_taken.py
runs the same walk through on SQLite)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from extensions import db
from tests.services.test_seats_taken import walk_through


def test_the_seats_taken_are_the_seated_sign_ups_after_every_kind_of_change(pg_app: Flask) -> None:
    walk_through()


def test_the_migrations_leave_the_triggers_that_keep_the_seats_taken(pg_app: Flask) -> None:
    names = db.session.scalars(
        sa.text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'rsvp'::regclass AND NOT tgisinternal")
    ).all()
    assert sorted(names) == ["rsvp_seat_changed", "rsvp_seat_freed", "rsvp_seat_taken"]
