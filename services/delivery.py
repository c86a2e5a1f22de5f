"""Doing what the outbox says is owed: today, attendee emails."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.mail import MailError, Mailer
from models import OutboxMessage, Rsvp, RsvpStatus, Talk, TalkStatus
from services import mail_text, outbox
from services.signups import waiting_position

log = logging.getLogger(__name__)

LinksFor = Callable[[Talk, Rsvp], mail_text.Links]


def deliver(
    session: Session,
    message_id: int,
    *,
    mailer: Mailer,
    links_for: LinksFor,
    render: mail_text.Render,
    now: datetime,
) -> str:
    """Send one owed message; idempotent. Returns what happened, for the log."""
    message = session.scalars(
        select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update(skip_locked=True)
    ).first()
    if message is None:
        return "gone or being sent by another worker"
    if message.done_at is not None:
        return "already done"
    rsvp, talk = message.rsvp, message.talk
    if rsvp is None or talk is None:
        outbox.mark_done(message, now)
        session.commit()
        return "nothing to send: the sign-up was erased"
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
    try:
        mailer.send(email)
    except MailError as error:
        outbox.mark_failed(message, str(error), now)
        session.commit()
        log.warning("email %s to %s not sent (attempt %s): %s", message.kind, rsvp.email, message.attempts, error)
        return "failed, will try again"
    outbox.mark_done(message, now)
    session.commit()
    return "sent"


def queue_reminders(session: Session, now: datetime, ahead: timedelta = timedelta(hours=24)) -> int:
    """A reminder to everyone signed up for a talk that starts within a day; once per talk."""
    talks = session.scalars(
        select(Talk).where(
            Talk.starts_at > now,
            Talk.starts_at <= now + ahead,
            Talk.reminder_sent_at.is_(None),
            Talk.status != TalkStatus.CANCELLED,
            Talk.published.is_(True),
        )
    ).all()
    count = 0
    for talk in talks:
        people = session.scalars(select(Rsvp).where(Rsvp.talk_id == talk.id, Rsvp.status != RsvpStatus.CANCELLED))
        for rsvp in people:
            outbox.add(session, "talk.reminder", rsvp=rsvp, talk=talk)
            count += 1
        talk.reminder_sent_at = now
    return count


def purge_attendee_data(session: Session, now: datetime, keep: timedelta) -> int:
    """Erase the sign-ups of talks that ended longer ago than the retention period."""
    old = session.scalars(select(Rsvp).join(Talk).where(Talk.ends_at < now - keep)).all()
    for rsvp in old:
        outbox.forget_rsvp(session, rsvp)
        session.delete(rsvp)
    return len(old)
