"""Work owed to the outside world, recorded in the same transaction as the change that owes it.

The web request commits, then hands the new messages' ids to the job queue. If that hand-off
never happens (the process dies right after the commit) or a delivery fails (the mail server
is down), the periodic sweep finds the message still owed and enqueues it again, with a
growing delay between attempts. Deliveries are idempotent: a message done is never redone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import OutboxMessage, Rsvp, Talk

PENDING_KEY = "lectern.outbox.pending"
MAX_DELAY = timedelta(hours=6)
# 1 + 2 + ... + 256 minutes, then every six hours: about three days of attempts in all.
MAX_ATTEMPTS = 20
# While a worker sends a message, the sweep and other workers leave it alone this long.
LEASE = timedelta(minutes=10)
# A message younger than this is left to the hand-off that follows its commit.
GRACE = timedelta(seconds=30)


def add(
    session: Session, kind: str, *, rsvp: Rsvp | None = None, talk: Talk | None = None, **payload: Any
) -> OutboxMessage:
    message = OutboxMessage(kind=kind, rsvp=rsvp, talk=talk, payload=payload, attempts=0)
    session.add(message)
    session.info.setdefault(PENDING_KEY, []).append(message)
    return message


def take_pending_ids(session: Session) -> list[int]:
    """Ids of the messages this unit of work wrote, to enqueue once it is committed (once).

    Call it after a flush and before the commit: reading ids afterwards would reload each
    message from the database, and one erased in the same unit of work is no longer there.
    """
    session.flush()
    pending = session.info.pop(PENDING_KEY, [])
    # A message added by a unit of work that was rolled back is no longer in the session.
    return [message.id for message in pending if message in session and message.id is not None]


def forget_rsvp(session: Session, rsvp: Rsvp) -> None:
    """An attendee erased their data: nothing more is sent to them."""
    session.execute(delete(OutboxMessage).where(OutboxMessage.rsvp_id == rsvp.id))


def owed(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Messages still owed whose next attempt is due (past the grace period of a fresh one)."""
    return list(
        session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.done_at.is_(None),
                OutboxMessage.next_attempt_at <= now,
                OutboxMessage.created_at <= now - GRACE,
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )


def lease(message: OutboxMessage, now: datetime) -> None:
    """Claim a message for one send. Should the worker die while sending, it is owed again later."""
    message.next_attempt_at = now + LEASE


def mark_done(message: OutboxMessage, now: datetime) -> None:
    message.done_at = now
    message.last_error = ""
    _forget_personal_data(message)


def _forget_personal_data(message: OutboxMessage) -> None:
    """The last message to someone who erased their sign-up holds their address until it is done."""
    if message.kind == "rsvp.erased":
        message.payload = {}


def mark_failed(message: OutboxMessage, error: str, now: datetime) -> None:
    """Try again later: 1, 2, 4, 8... minutes, at most six hours apart; give up after three days."""
    message.attempts += 1
    if message.attempts >= MAX_ATTEMPTS:
        # A message refused this long will not go through: stop, keeping the reason for organizers.
        message.done_at = now
        message.last_error = f"gave up after {message.attempts} attempts: {error}"[:2000]
        _forget_personal_data(message)
        return
    delay = min(timedelta(minutes=2 ** (message.attempts - 1)), MAX_DELAY)
    message.next_attempt_at = now + delay
    message.last_error = error[:2000]
