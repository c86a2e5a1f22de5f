"""Chat bookings under a burst, through real HTTP against gunicorn (2 sync workers), as in
production: CSRF on, rate limits on. On SQLite (a temporary file) and on PostgreSQL (a throwaway
database); a backend that is not reachable is skipped, or fails the run under CI=true.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import Engine, text

from tests.concurrency import live
from tests.concurrency import test_rsvp_burst as rsvp_burst
from tests.concurrency.test_rsvp_burst import all_at_once, lectern, open_forms, statuses  # noqa: F401 (fixture)

CHAT_PATH = f"/talks/{live.TALK_SLUG}/chat"


@dataclass
class Live:
    server: live.Server
    engine: Engine

    def talk_id(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT id FROM talk WHERE slug = :s"), {"s": live.TALK_SLUG}).scalar_one()

    def fresh_slots(self, count: int, places: int) -> list[int]:
        """The talk with no sign-ups and `count` new chat slots of `places` places each."""
        talk_id = self.talk_id()
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "DELETE FROM outbox_message WHERE talk_id = :t"
                    " OR rsvp_id IN (SELECT id FROM rsvp WHERE talk_id = :t)"
                ),
                {"t": talk_id},
            )
            conn.execute(text("DELETE FROM chat_booking WHERE talk_id = :t"), {"t": talk_id})
            conn.execute(text("DELETE FROM chat_request WHERE talk_id = :t"), {"t": talk_id})
            conn.execute(text("DELETE FROM chat_slot WHERE talk_id = :t"), {"t": talk_id})
            conn.execute(text("DELETE FROM rsvp WHERE talk_id = :t"), {"t": talk_id})
            ends_at = conn.execute(text("SELECT ends_at FROM talk WHERE id = :t"), {"t": talk_id}).scalar_one()
            for n in range(count):
                conn.execute(
                    text(
                        "INSERT INTO chat_slot (talk_id, speaker_name, starts_at, minutes, capacity, place, sequence)"
                        " VALUES (:t, '', :at, 10, :places, 'Lounge', 0)"
                    ),
                    {"t": talk_id, "at": _later(ends_at, 10 * n), "places": places},
                )
            return list(
                conn.execute(text("SELECT id FROM chat_slot WHERE talk_id = :t ORDER BY id"), {"t": talk_id}).scalars()
            )

    def bookings(self) -> list[tuple[str, int]]:
        """(email, slot id) of every booking of the talk."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT rsvp.email, chat_booking.slot_id FROM chat_booking"
                    " JOIN rsvp ON rsvp.id = chat_booking.rsvp_id WHERE chat_booking.talk_id = :t"
                ),
                {"t": self.talk_id()},
            )
            return [(email, slot) for email, slot in rows]

    def signed_up(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    text("SELECT email FROM rsvp WHERE talk_id = :t AND status != 'cancelled'"), {"t": self.talk_id()}
                ).scalars()
            )


def _later(value: object, minutes: int) -> object:
    """The talk's end plus some minutes, as the database returned it (a datetime, or SQLite's text)."""
    if isinstance(value, str):
        return (datetime.fromisoformat(value) + timedelta(minutes=minutes)).isoformat(sep=" ")
    return value + timedelta(minutes=minutes)  # type: ignore[operator]


@pytest.fixture(scope="module")
def chats_live(lectern: rsvp_burst.Live) -> Live:  # noqa: F811 (the fixture imported above)
    """The RSVP burst's server on each backend (its `lectern` fixture), seen from the chats' side."""
    return Live(lectern.server, lectern.engine)


def book(form: live.RsvpForm, *, email: str, slot: int) -> requests.Response:
    """The booking form, posted from a browser session that has its CSRF token."""
    return form.http.post(
        form.server.url(CHAT_PATH),
        data={
            "csrf_token": form.token,
            "name": f"Person {email}",
            "email": email,
            "slot": str(slot),
            "topic": "",
            "website": "",
        },
        allow_redirects=False,
        timeout=120,
    )


def accepted(response: requests.Response) -> bool:
    return response.status_code == 303


def test_300_simultaneous_bookings_for_10_slots_of_2_give_exactly_20(chats_live: Live) -> None:
    site = chats_live
    slots = site.fresh_slots(10, 2)
    run = uuid.uuid4().hex[:8]
    emails = [f"chat-{run}-{i}@example.org" for i in range(300)]
    forms = open_forms(site.server, len(emails))

    responses = all_at_once(
        [
            lambda form=form, email=email, i=i: book(form, email=email, slot=slots[i % len(slots)])
            for i, (form, email) in enumerate(zip(forms, emails, strict=True))
        ]
    )

    assert sum(accepted(r) for r in responses) == 20, statuses(responses)
    refused = [r for r in responses if not accepted(r)]
    assert {r.status_code for r in refused} == {409}, statuses(responses)
    assert all("This slot is full" in r.text for r in refused), "everyone else is told, in words"
    booked = site.bookings()
    assert len(booked) == 20
    assert Counter(slot for _, slot in booked) == dict.fromkeys(slots, 2), "two in every slot, none over"
    accepted_emails = {email for email, r in zip(emails, responses, strict=True) if accepted(r)}
    assert {email for email, _ in booked} == accepted_emails, "every accepted booking is stored"
    assert set(site.signed_up()) == accepted_emails, "a refused booking signs nobody up"


def test_the_same_email_twice_at_once_gives_one_booking(chats_live: Live) -> None:
    site = chats_live
    slots = site.fresh_slots(10, 2)
    emails = [f"twice-{uuid.uuid4().hex[:8]}@example.org" for _ in range(5)]
    forms = open_forms(site.server, 2 * len(emails))

    # Each email from two browsers at the same moment, for two different slots.
    attempts = [(forms[2 * i + k], email, slots[(2 * i + k) % 10]) for i, email in enumerate(emails) for k in (0, 1)]
    responses = all_at_once(
        [lambda form=form, email=email, slot=slot: book(form, email=email, slot=slot) for form, email, slot in attempts]
    )

    assert all(accepted(r) for r in responses), statuses(responses)
    booked = site.bookings()
    assert Counter(email for email, _ in booked) == dict.fromkeys(emails, 1)
    assert Counter(site.signed_up()) == dict.fromkeys(emails, 1)
