"""The outbox's kinds: declared once, each done by its handler, with one backoff for all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask, render_template
from sqlalchemy import select

import jobs
from extensions import db
from models import OutboxMessage, RsvpStatus
from services import delivery, mail_text, outbox, signups
from tests.rsvp_support import make_talk
from tests.services.test_delivery import Mailer

NOW = datetime.now(UTC)


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


class Notify:
    """A handler for work that is not an attendee email: keeps whom it did it for, or fails."""

    def __init__(self, fail: bool = False) -> None:
        self.done: list[tuple[int, outbox.Recipient | None]] = []
        self.fail = fail

    def __call__(self, session: object, message: OutboxMessage, tools: delivery.Tools, now: datetime) -> delivery.Work:
        message_id, recipient = message.id, outbox.recipient_of(message)

        def work() -> delivery.Result:
            if self.fail:
                return delivery.try_again("provider unavailable")
            self.done.append((message_id, recipient))
            return delivery.done("notified")

        return work


@pytest.fixture
def notify(monkeypatch: pytest.MonkeyPatch) -> Notify:
    handler = Notify()
    monkeypatch.setitem(outbox.KINDS, "test.notify", outbox.Kind("test.notify", "test_notify", "Notification"))
    monkeypatch.setitem(delivery.HANDLERS, "test_notify", handler)
    return handler


def deliver(message_id: int, now: datetime | None = None, handed: list[int] | None = None) -> str:
    return delivery.deliver(
        db.session,
        message_id,
        mailer=Mailer(),
        links_for=jobs.links_for,
        render=render_template,
        now=now or datetime.now(UTC),
        enqueue=None if handed is None else handed.extend,
    )


def commit() -> None:
    """As a request does: what its unit of work wrote is handed over once (here, to nobody)."""
    outbox.take_pending_ids(db.session)
    db.session.commit()


def row(message_id: int) -> OutboxMessage:
    db.session.expire_all()
    found = db.session.get(OutboxMessage, message_id)
    assert found is not None
    return found


def test_an_unknown_kind_is_refused_when_written(ctx: Flask) -> None:
    talk = make_talk(seats=5)
    with pytest.raises(ValueError, match="unknown outbox message kind"):
        outbox.add(db.session, "rsvp.confirmaton", talk=talk)
    assert outbox.take_pending_ids(db.session) == []


def test_an_email_to_a_sign_up_cannot_be_sent_to_someone_else(ctx: Flask) -> None:
    talk = make_talk(seats=5)
    with pytest.raises(ValueError):
        outbox.add(db.session, "talk.changed", talk=talk, to=outbox.Recipient("speaker@example.org"))


def test_a_message_of_a_kind_no_longer_declared_is_given_up_at_once(ctx: Flask, notify: Notify) -> None:
    message = outbox.add(db.session, "test.notify", talk=make_talk(seats=5))
    commit()
    del outbox.KINDS["test.notify"]  # as after an upgrade that dropped it
    assert deliver(message.id) == "unknown kind"
    message = row(message.id)
    assert message.attempts == 0 and message.given_up_at is not None and "test.notify" in message.last_error


def test_every_attendee_email_kind_has_its_own_subject_and_words(ctx: Flask) -> None:
    talk = make_talk(seats=5)
    rsvp = signups.sign_up(db.session, talk.id, name="Ada", email="ada@example.org", mode="room", now=NOW).rsvp
    commit()
    kinds = [kind.name for kind in outbox.KINDS.values() if kind.handler == outbox.ATTENDEE_EMAIL]
    assert len(kinds) == 10 and all(outbox.KINDS[name].personal for name in kinds)
    for name in kinds:
        assert mail_text.subject(name, talk, rsvp, None)
        text = render_template("email/attendee.txt", **_email_context(name, talk, rsvp))
        assert text.split("\n")[2].strip(), f"{name} has its own opening words"


def _email_context(kind: str, talk: object, rsvp: object) -> dict[str, object]:
    links = mail_text.Links(talk_url="http://t", manage_url="http://m", domain="lectern.test")
    return {
        "kind": kind,
        "series": talk.series,  # type: ignore[attr-defined]
        "talk": talk,
        "rsvp": rsvp,
        "links": links,
        "position": None,
        "when": "",
        "payload": {},
        "statuses": RsvpStatus,
        "day": "tomorrow",
    }


def test_a_handler_for_another_kind_is_dispatched_retried_and_given_up(ctx: Flask, notify: Notify) -> None:
    message = outbox.add(db.session, "test.notify", talk=make_talk(seats=5), to=outbox.Recipient("s@example.org"))
    commit()
    notify.fail = True
    moment, delays = datetime.now(UTC), []
    for _ in range(3):
        assert deliver(message.id, now=moment) == "failed, will try again"
        due = row(message.id).next_attempt_at
        delays.append(due - moment)
        moment = due
    assert delays == [timedelta(minutes=m) for m in (1, 2, 4)]
    assert row(message.id).last_error == "provider unavailable"
    for _ in range(outbox.MAX_ATTEMPTS - 3):
        assert deliver(message.id, now=moment) == "failed, will try again"
        moment = row(message.id).next_attempt_at
    given_up = row(message.id)
    assert given_up.attempts == outbox.MAX_ATTEMPTS and given_up.done_at is not None
    assert given_up.given_up_at is not None and "gave up after 20 attempts: provider unavailable" in given_up.last_error
    assert deliver(message.id, now=moment) == "already done"
    assert outbox.given_up(db.session) == [given_up]

    notify.fail = False
    assert outbox.try_again(db.session, message.id, moment) is not None
    assert outbox.take_pending_ids(db.session) == [message.id], "handed to the queue once committed"
    commit()
    assert deliver(message.id, now=moment) == "notified"
    assert notify.done == [(message.id, outbox.Recipient("s@example.org"))]
    assert outbox.given_up(db.session) == []


def test_a_message_with_its_own_recipient_is_delivered_without_a_sign_up(ctx: Flask, notify: Notify) -> None:
    talk = make_talk(seats=5)
    message = outbox.add(db.session, "test.notify", talk=talk, to=outbox.Recipient("rosa@example.org", "Rosa"))
    commit()
    assert deliver(message.id) == "notified"
    assert notify.done == [(message.id, outbox.Recipient("rosa@example.org", "Rosa"))]
    assert row(message.id).done_at is not None


def test_a_follow_up_added_by_a_handler_is_handed_over_with_the_result(
    ctx: Flask, notify: Notify, monkeypatch: pytest.MonkeyPatch
) -> None:
    talk = make_talk(seats=5)
    rsvp = signups.sign_up(db.session, talk.id, name="Ada", email="ada@example.org", mode="online", now=NOW).rsvp
    message = outbox.add(db.session, "test.notify", rsvp=rsvp, talk=talk)
    commit()

    def registered(session: object, message: OutboxMessage, tools: object, now: datetime) -> delivery.Result:
        def then(session: object, done: OutboxMessage) -> None:
            outbox.add(db.session, "rsvp.updated", rsvp=done.rsvp, talk=done.talk)

        return delivery.done("registered", then=then)

    monkeypatch.setitem(delivery.HANDLERS, "test_notify", registered)
    handed: list[int] = []
    assert deliver(message.id, handed=handed) == "registered"
    [follow_up] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "rsvp.updated")).all()
    assert handed == [follow_up.id]


def test_a_message_waits_for_another_until_it_is_done(ctx: Flask, notify: Notify) -> None:
    talk = make_talk(seats=5)
    rsvp = signups.sign_up(db.session, talk.id, name="Ada", email="ada@example.org", mode="online", now=NOW).rsvp
    [confirmation] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.rsvp_id == rsvp.id)).all()
    # The confirmation waits for a join link fetched first.
    first = outbox.add(db.session, "test.notify", rsvp=rsvp, talk=talk)
    db.session.flush()
    confirmation.after = first
    confirmation.wait_until = NOW + timedelta(hours=1)
    commit()
    later = confirmation.created_at + outbox.GRACE + timedelta(seconds=1)

    assert deliver(confirmation.id, now=later) == f"waiting for outbox message {first.id}"
    assert row(confirmation.id).done_at is None and row(confirmation.id).attempts == 0
    assert outbox.owed(db.session, later) == [first.id], "the sweep leaves the waiting one alone"
    db.session.rollback()

    handed: list[int] = []
    assert deliver(first.id, now=later, handed=handed) == "notified"
    assert handed == [confirmation.id], "the one waiting goes as soon as the first is done"
    assert deliver(confirmation.id, now=later) == "sent"


def test_a_message_waiting_for_another_goes_after_its_time_out(ctx: Flask, notify: Notify) -> None:
    talk = make_talk(seats=5)
    first = outbox.add(db.session, "test.notify", talk=talk, to=outbox.Recipient("rosa@example.org"))
    time_out = NOW + timedelta(hours=1)
    then = outbox.add(
        db.session, "test.notify", talk=talk, to=outbox.Recipient("bo@example.org"), after=first, wait_until=time_out
    )
    commit()
    soon = then.created_at + outbox.GRACE + timedelta(seconds=1)
    assert deliver(then.id, now=soon) == f"waiting for outbox message {first.id}"
    assert outbox.owed(db.session, soon) == [first.id]
    assert outbox.owed(db.session, time_out) == [first.id, then.id], "the sweep hands it over at its time-out"
    db.session.rollback()
    assert deliver(then.id, now=time_out) == "notified"
    assert notify.done == [(then.id, outbox.Recipient("bo@example.org"))]
    assert row(first.id).done_at is None, "the first is still owed: it went without it"


def test_a_message_waiting_must_say_until_when(ctx: Flask, notify: Notify) -> None:
    talk = make_talk(seats=5)
    first = outbox.add(db.session, "test.notify", talk=talk, to=outbox.Recipient("rosa@example.org"))
    with pytest.raises(ValueError):
        outbox.add(db.session, "test.notify", talk=talk, to=outbox.Recipient("bo@example.org"), after=first)


def test_erasing_a_sign_up_keeps_the_work_that_is_not_an_email_to_them(ctx: Flask, notify: Notify) -> None:
    talk = make_talk(seats=5)
    rsvp = signups.sign_up(db.session, talk.id, name="Ada", email="ada@example.org", mode="online", now=NOW).rsvp
    registration = outbox.add(db.session, "test.notify", rsvp=rsvp, talk=talk, registrant="r-1")
    commit()
    rsvp_id = rsvp.id

    signups.delete(db.session, rsvp_id, NOW)
    commit()
    kinds = sorted(db.session.scalars(select(OutboxMessage.kind)))
    assert kinds == ["rsvp.erased", "test.notify"], "the confirmation to them is gone, the other work is not"
    kept = row(registration.id)
    assert kept.rsvp_id is None and kept.payload == {"registrant": "r-1"}
    assert deliver(registration.id) == "notified"
