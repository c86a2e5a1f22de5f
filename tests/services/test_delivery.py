"""Delivering what the outbox owes: once, even with two workers, a busy database or bad data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from flask import Flask, render_template
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import jobs
from adapters.mail import MailError
from extensions import db
from models import OutboxMessage, Rsvp, Talk
from services import delivery, mail_text, outbox, signups
from tests.rsvp_support import make_talk

NOW = datetime.now(UTC)  # when people sign up; deliveries happen at the real time


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


class Mailer:
    """Keeps what it sends; `during` runs inside the send, as something happening meanwhile."""

    def __init__(self, during: Callable[[], object] | None = None, fail: bool = False) -> None:
        self.sent: list[EmailMessage] = []
        self.during, self.fail = during, fail

    def send(self, message: EmailMessage) -> None:
        during, self.during = self.during, None  # once
        if during is not None:
            during()
        if self.fail:
            raise MailError("connection refused")
        self.sent.append(message)


def deliver(message_id: int, mailer: Mailer, session: Session | None = None, now: datetime | None = None) -> str:
    return delivery.deliver(
        session or db.session,
        message_id,
        mailer=mailer,
        links_for=jobs.links_for,
        render=render_template,
        now=now or datetime.now(UTC),
    )


def signed_up(email: str = "ada@example.org") -> tuple[Talk, Rsvp, int]:
    talk = make_talk(seats=5)
    result = signups.sign_up(db.session, talk.id, name="Ada", email=email, mode="room", now=NOW)
    db.session.commit()
    [message_id] = db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.rsvp_id == result.rsvp.id))
    return talk, result.rsvp, message_id


def row(message_id: int) -> OutboxMessage:
    db.session.expire_all()
    found = db.session.get(OutboxMessage, message_id)
    assert found is not None
    return found


def test_a_message_is_sent_once(ctx: Flask) -> None:
    _, _, message_id = signed_up()
    mailer = Mailer()
    assert deliver(message_id, mailer) == "sent"
    assert deliver(message_id, mailer) == "already done"
    assert len(mailer.sent) == 1
    assert row(message_id).done_at is not None


def test_a_write_by_someone_else_during_the_send_does_not_undo_it(ctx: Flask) -> None:
    """On SQLite a transaction kept open across the send could not commit after another write."""
    talk, _, message_id = signed_up()
    talk_id = talk.id

    def someone_signs_up() -> None:
        with Session(db.engine) as other:
            signups.sign_up(other, talk_id, name="Bob", email="bob@example.org", mode="room", now=NOW)
            other.commit()

    mailer = Mailer(during=someone_signs_up)
    assert deliver(message_id, mailer) == "sent"
    assert row(message_id).done_at is not None, "marked done: the sweep will not send it again"
    assert len(mailer.sent) == 1


def test_a_second_worker_given_the_same_message_sends_nothing(ctx: Flask) -> None:
    _, _, message_id = signed_up()
    results = []
    second = Mailer()

    def another_worker() -> None:
        with Session(db.engine) as other:
            results.append(deliver(message_id, second, session=other))

    first = Mailer(during=another_worker)
    assert deliver(message_id, first) == "sent"
    assert results and results[0].startswith("not due")
    assert (len(first.sent), len(second.sent)) == (1, 0)


def test_a_worker_that_died_while_sending_is_taken_over_after_its_lease(ctx: Flask) -> None:
    _, _, message_id = signed_up()
    message = row(message_id)
    claimed_at = message.created_at + timedelta(seconds=1)
    outbox.lease(message, claimed_at)  # claimed by a worker that never came back
    db.session.commit()
    assert outbox.owed(db.session, claimed_at + timedelta(minutes=1)) == []
    later = claimed_at + outbox.LEASE + timedelta(seconds=1)
    assert outbox.owed(db.session, later) == [message_id]
    db.session.rollback()
    mailer = Mailer()
    assert deliver(message_id, mailer, now=later) == "sent"
    assert len(mailer.sent) == 1


def test_a_failed_send_is_tried_again_later_with_growing_delays(ctx: Flask) -> None:
    _, _, message_id = signed_up()
    mailer = Mailer(fail=True)
    moment, delays = datetime.now(UTC), []
    for _ in range(4):
        assert deliver(message_id, mailer, now=moment) == "failed, will try again"
        due = row(message_id).next_attempt_at
        delays.append(due - moment)
        assert deliver(message_id, mailer, now=moment + timedelta(seconds=10)).startswith("not due")
        moment = due
    assert delays == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert row(message_id).attempts == 4
    assert "connection refused" in row(message_id).last_error


def test_a_message_that_cannot_be_written_backs_off_instead_of_failing_every_sweep(
    ctx: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, message_id = signed_up()

    def broken(*args: object, **kwargs: object) -> EmailMessage:
        raise KeyError("no such template variable")

    monkeypatch.setattr(mail_text, "compose", broken)
    mailer = Mailer()
    assert deliver(message_id, mailer) == "failed to compose, will try again"
    message = row(message_id)
    assert message.done_at is None and message.attempts == 1 and message.next_attempt_at > message.created_at
    assert "no such template variable" in message.last_error
    assert mailer.sent == []


def test_an_erasure_during_the_send_is_respected(ctx: Flask) -> None:
    _, rsvp, message_id = signed_up()
    rsvp_id = rsvp.id

    def erased_meanwhile() -> None:
        with Session(db.engine) as other:
            signups.delete(other, rsvp_id, NOW)
            other.commit()

    assert deliver(message_id, Mailer(during=erased_meanwhile)) == "sent"
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message_id) is None
    assert db.session.get(Rsvp, rsvp_id) is None


def test_walk_ins_without_an_address_are_never_mailed(ctx: Flask) -> None:
    talk = make_talk(seats=5)
    walk_in = signups.add_walk_in(db.session, talk.id, name="Grace", email="", now=NOW)
    db.session.commit()
    assert signups.notify_talk_changed(db.session, talk, "room") == 0
    forced = outbox.add(db.session, "talk.changed", rsvp=walk_in, talk=talk, what="room")
    db.session.commit()
    mailer = Mailer()
    assert deliver(forced.id, mailer).startswith("nothing to send")
    assert mailer.sent == []
    assert row(forced.id).done_at is not None


def test_commit_and_dispatch_hands_over_only_committed_messages(ctx: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    talk = make_talk(seats=5)
    handed: list[list[int]] = []
    monkeypatch.setattr(jobs, "dispatch", handed.append)
    signups.sign_up(db.session, talk.id, name="Ada", email="ada@example.org", mode="room", now=NOW)
    jobs.commit_and_dispatch()
    [ids] = handed
    owed = db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.done_at.is_(None))).all()
    assert ids == list(owed) and len(ids) == 1
    jobs.commit_and_dispatch()
    assert handed[-1] == [], "handed over once"


def test_the_sweep_skips_fresh_messages_and_those_not_due(ctx: Flask) -> None:
    _, _, message_id = signed_up()
    created = row(message_id).created_at
    assert outbox.owed(db.session, created + outbox.GRACE / 2) == []
    assert outbox.owed(db.session, created + outbox.GRACE) == [message_id]
    db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id).values(next_attempt_at=created + timedelta(hours=1))
    )
    db.session.commit()
    assert outbox.owed(db.session, created + timedelta(minutes=59)) == []
    assert outbox.owed(db.session, created + timedelta(hours=1)) == [message_id]


@pytest.mark.parametrize(
    ("talk_at", "sent_at", "word"),
    [
        (datetime(2031, 3, 14, 11, 30), datetime(2031, 3, 13, 11, 40), "Tomorrow"),
        (datetime(2031, 3, 14, 18, 0), datetime(2031, 3, 14, 8, 0), "Today"),
        (datetime(2031, 3, 14, 0, 30), datetime(2031, 3, 13, 23, 0), "Tomorrow"),  # local dates, not UTC's
    ],
)
def test_the_reminder_says_today_or_tomorrow_in_the_series_zone(
    ctx: Flask, talk_at: datetime, sent_at: datetime, word: str
) -> None:
    tz = ZoneInfo("America/Montreal")
    talk = make_talk(seats=5, starts_at=talk_at.replace(tzinfo=tz))
    now = sent_at.replace(tzinfo=tz)
    signups.sign_up(db.session, talk.id, name="Ada", email="ada@example.org", mode="room", now=now)
    db.session.commit()
    assert delivery.queue_reminders(db.session, now) == 1
    db.session.commit()
    [reminder_id] = db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == "talk.reminder"))
    mailer = Mailer()
    assert deliver(reminder_id, mailer, now=now) == "sent"
    [email] = mailer.sent
    assert email["Subject"] == f"{word}: “Talk a-talk”"
    assert f"the talk you signed up for is {word.lower()}." in email.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_messages_of_a_rolled_back_unit_of_work_are_not_handed_over(ctx: Flask) -> None:
    talk = make_talk(seats=5)
    signups.sign_up(db.session, talk.id, name="Ada", email="ada@example.org", mode="room", now=NOW)
    db.session.flush()
    db.session.rollback()
    signups.sign_up(db.session, talk.id, name="Bob", email="bob@example.org", mode="room", now=NOW)
    ids = outbox.take_pending_ids(db.session)
    db.session.commit()
    owed = db.session.scalars(select(OutboxMessage)).all()
    assert [message.id for message in owed] == ids
    assert [message.rsvp.email for message in owed] == ["bob@example.org"]


def test_a_message_refused_for_days_is_given_up_with_its_reason() -> None:
    from datetime import UTC, datetime

    from models import OutboxMessage
    from services import outbox

    message = OutboxMessage(kind="rsvp.confirmation", attempts=0, payload={})
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    for _ in range(outbox.MAX_ATTEMPTS - 1):
        outbox.mark_failed(message, "550 mailbox unavailable", moment)
        assert message.done_at is None
    outbox.mark_failed(message, "550 mailbox unavailable", moment)
    assert message.done_at == moment
    assert "gave up" in message.last_error and "550" in message.last_error


def test_a_seat_offered_before_the_talk_is_not_mailed_once_it_has_started(ctx: Flask) -> None:
    talk = make_talk(seats=1)
    holder = signups.sign_up(db.session, talk.id, name="Ada", email="ada@example.org", mode="room", now=NOW).rsvp
    signups.sign_up(db.session, talk.id, name="Bo", email="bo@example.org", mode="room", now=NOW)
    signups.cancel(db.session, holder.id, NOW)
    db.session.commit()
    [promoted] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "rsvp.promoted")).all()

    mailer = Mailer()  # the mail server was down until after the talk began
    assert deliver(promoted.id, mailer, now=talk.starts_at + timedelta(minutes=1)) == "superseded: the talk has started"
    assert mailer.sent == []
    assert db.session.get(OutboxMessage, promoted.id).done_at is not None, "nothing left owed"
