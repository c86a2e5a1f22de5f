"""Two job consumers run the same periodic job at the same moment: each message is owed once.

Every consumer runs the periodic jobs (Huey schedules them in each consumer process), so two
consumers on two hosts run `send_reminders` and `send_speaker_schedules` in the same minute. On
PostgreSQL each run locks the talks it writes for; the second run waits for the first to commit
and then finds the talk done. Each run here holds its unit of work open until the other has had
its chance to write too (or could not, because it waits on the lock), so without the lock both
would write their messages and both commit.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from extensions import db
from models import OutboxMessage, Rsvp, Speaker
from services import chats, delivery, signups
from tests.rsvp_support import make_talk

NOW = datetime.now(UTC).replace(microsecond=0)
# How long a run keeps its unit of work open for the other run to write too. A run blocked on
# the lock never arrives; the wait then ends and the first run commits (correct either way).
OVERLAP = 3.0


def run_twice_at_once(job: Callable[[Session], int]) -> list[int]:
    """`job` in two threads, each with its own connection, overlapping as two consumers would."""
    engine = db.engine
    arrived = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def consumer() -> None:
        try:
            with Session(engine) as session:
                count = job(session)
                # Both have written, neither committed (unless one waits on the lock).
                with contextlib.suppress(threading.BrokenBarrierError):
                    arrived.wait(OVERLAP)
                session.commit()
                counts.append(count)
        except BaseException as error:  # reported in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=consumer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return counts


def owed(kind: str) -> list[str]:
    rows = db.session.execute(
        select(func.coalesce(OutboxMessage.recipient_email, ""), OutboxMessage.rsvp_id).where(
            OutboxMessage.kind == kind
        )
    )
    return sorted(f"{email}{rsvp_id or ''}" for email, rsvp_id in rows)


def test_two_consumers_sending_reminders_at_once_owe_one_reminder_each(pg_app: Flask) -> None:
    talk = make_talk(10, starts_at=NOW + timedelta(hours=5))
    for i in range(4):
        signups.sign_up(db.session, talk.id, name=f"P{i}", email=f"p{i}@example.org", mode="room", now=NOW)
    db.session.commit()

    counts = run_twice_at_once(lambda session: delivery.queue_reminders(session, NOW))

    assert sorted(counts) == [0, 4]
    reminders = owed("talk.reminder")
    assert len(reminders) == 4 and len(set(reminders)) == 4


def test_two_consumers_sending_speaker_schedules_at_once_owe_one_schedule_each(pg_app: Flask) -> None:
    talk = make_talk(10, starts_at=NOW + timedelta(days=2))
    talk.parts[0].speakers.append(Speaker(position=0, name="Grace Hopper"))
    db.session.commit()
    slots = chats.add_slots(
        db.session, talk.id, first_starts_at=None, count=2, minutes=15, capacity=2, place=None, now=NOW
    )
    db.session.commit()
    chats.set_speaker_email(db.session, talk.id, "Grace Hopper", "grace@example.org")
    chats.book(db.session, talk.id, name="Ada", email="ada@example.org", slot_ids=[slots[0].id], topic="", now=NOW)
    db.session.commit()
    closed = talk.starts_at  # chat sign-up closes when the talk starts

    counts = run_twice_at_once(lambda session: chats.queue_closed_schedules(session, closed))

    assert sorted(counts) == [0, 1]
    assert owed("chat.speaker_schedule") == ["grace@example.org"]


def test_two_consumers_purging_old_sign_ups_at_once_both_finish(pg_app: Flask) -> None:
    talk = make_talk(10, starts_at=NOW - timedelta(days=1))
    for i in range(4):
        signups.sign_up(
            db.session, talk.id, name=f"P{i}", email=f"p{i}@example.org", mode="room", now=NOW - timedelta(days=2)
        )
    db.session.commit()
    later = NOW + timedelta(days=200)

    counts = run_twice_at_once(lambda session: signups.purge_attendee_data(session, later, keep=timedelta(days=180)))

    assert sorted(counts) == [0, 4], "one erased them; the other found them gone, and did not fail"
    assert db.session.scalar(select(func.count(Rsvp.id))) == 0
