"""Doing what the outbox says is owed: today, attendee emails."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.mail import Mailer, MailError
from models import OutboxMessage, Rsvp, RsvpStatus, Talk, TalkStatus
from services import mail_text, outbox
from services.signups import WALK_IN_DOMAIN, begin_write, waiting_position

log = logging.getLogger(__name__)

# Messages that still make sense once the sign-up is cancelled.
STILL_DUE_AFTER_CANCEL = {"rsvp.cancelled", "talk.cancelled", "rsvp.erased"}

# Messages that only make sense before the talk starts.
NOT_AFTER_THE_START = {"rsvp.promoted"}

LinksFor = Callable[[Talk, Rsvp], mail_text.Links]
# Another host's clock may run a little ahead of this one's: a message it just wrote is due here.
CLOCK_TOLERANCE = timedelta(seconds=30)


def deliver(
    session: Session,
    message_id: int,
    *,
    mailer: Mailer,
    links_for: LinksFor,
    render: mail_text.Render,
    now: datetime,
) -> str:
    """Send one owed message; idempotent. Returns what happened, for the log.

    Three short units of work: claim the message (under the write lock, so that two workers
    given the same id cannot both take it), send with no transaction open, record the result.
    A transaction held open across the send would, on SQLite, fail to commit whenever anyone
    else wrote meanwhile, leaving a message that was sent marked as owed: sent twice.
    """
    begin_write(session)
    message = session.scalars(
        select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update(skip_locked=True)
    ).first()
    if message is None:
        session.rollback()
        return "gone or being sent by another worker"
    if message.done_at is not None:
        session.rollback()
        return "already done"
    if message.next_attempt_at > now + CLOCK_TOLERANCE:
        session.rollback()
        return "not due: being sent by another worker, or waiting to be tried again"
    rsvp, talk = message.rsvp, message.talk
    if rsvp is None and talk is not None and message.kind == "rsvp.erased" and message.payload:
        rsvp = erased_attendee(message, talk, now)
    if rsvp is None or talk is None:
        outbox.mark_done(message, now)
        session.commit()
        return "nothing to send: the sign-up was erased"
    if not reachable(rsvp.email):
        outbox.mark_done(message, now)
        session.commit()
        return "nothing to send: a walk-in without an address"
    if rsvp.status == RsvpStatus.CANCELLED and message.kind not in STILL_DUE_AFTER_CANCEL:
        # Written before the person cancelled (a backlog, a mail server that was down): it would
        # now say the wrong thing. Their cancellation message is the one that goes out.
        outbox.mark_done(message, now)
        session.commit()
        return "superseded: the sign-up was cancelled since"
    if message.kind in NOT_AFTER_THE_START and now >= talk.starts_at:
        # Written before the talk (a mail server that was down): a seat offered now would mislead.
        outbox.mark_done(message, now)
        session.commit()
        return "superseded: the talk has started"
    try:
        email = mail_text.compose(
            message.kind,
            series=talk.series,
            talk=talk,
            rsvp=rsvp,
            links=links_for(talk, rsvp),
            position=waiting_position(session, rsvp),
            render=render,
            now=now,
            payload=message.payload,
        )
    except Exception as error:  # a bug or bad data: back off instead of failing every sweep
        log.exception("email %s for outbox message %s could not be written", message.kind, message_id)
        outbox.mark_failed(message, f"could not be written: {error!r}", now)
        session.commit()
        return "failed to compose, will try again"
    kind, rsvp_id = message.kind, rsvp.id
    outbox.lease(message, now)
    session.commit()

    try:
        mailer.send(email)
    except MailError as error:
        _write_again(session)
        message = session.get(OutboxMessage, message_id)
        if message is not None:
            outbox.mark_failed(message, str(error), now)
        session.commit()
        # Ids only: the log never holds an attendee's address.
        log.warning("email %s (outbox message %s, sign-up %s) not sent: %s", kind, message_id, rsvp_id, error)
        return "failed, will try again"
    _write_again(session)
    message = session.get(OutboxMessage, message_id)
    if message is not None:  # erased while it was being sent
        outbox.mark_done(message, now)
    session.commit()
    return "sent"


def erased_attendee(message: OutboxMessage, talk: Talk, now: datetime) -> Rsvp:
    """The erased sign-up as its last message needs it, rebuilt from that message alone (never saved)."""
    data = message.payload
    return Rsvp(
        id=data["rsvp_id"],
        talk_id=talk.id,
        talk=talk,
        email=data["email"],
        name=data["name"],
        status=RsvpStatus.CANCELLED,
        sequence=data["sequence"],
        token_nonce="",
        queued_at=now,
    )


def _write_again(session: Session) -> None:
    """A new unit of work under the write lock, ending any read begun meanwhile (nothing is pending:
    the claim was committed), whose stale snapshot SQLite would refuse to write from."""
    session.rollback()
    begin_write(session)


def reachable(address: str) -> bool:
    """Walk-ins added at the door without an address get a placeholder that is never mailed."""
    return not address.endswith(WALK_IN_DOMAIN)


def queue_reminders(session: Session, now: datetime, ahead: timedelta = timedelta(hours=24)) -> int:
    """A reminder to everyone signed up for a talk that starts within a day; once per talk and date.

    A talk moved to a later day after its reminder went out gets a new one for its new date.
    """
    begin_write(session)
    soon = session.scalars(
        select(Talk).where(
            Talk.starts_at > now,
            Talk.starts_at <= now + ahead,
            Talk.status != TalkStatus.CANCELLED,
            Talk.published.is_(True),
        )
    ).all()
    count = 0
    for talk in soon:
        if talk.reminder_sent_at is not None and talk.reminder_sent_at >= talk.starts_at - ahead:
            continue
        people = session.scalars(select(Rsvp).where(Rsvp.talk_id == talk.id, Rsvp.status != RsvpStatus.CANCELLED))
        for rsvp in people:
            if reachable(rsvp.email):
                outbox.add(session, "talk.reminder", rsvp=rsvp, talk=talk)
                count += 1
        talk.reminder_sent_at = now
    return count


def purge_attendee_data(session: Session, now: datetime, keep: timedelta) -> int:
    """Erase the sign-ups of talks that ended longer ago than the retention period."""
    begin_write(session)
    old = session.scalars(select(Rsvp).join(Talk).where(Talk.ends_at < now - keep)).all()
    for rsvp in old:
        outbox.forget_rsvp(session, rsvp)
        session.delete(rsvp)
    return len(old)
