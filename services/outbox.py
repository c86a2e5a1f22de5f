"""Work owed to the outside world, recorded in the same transaction as the change that owes it.

The web request commits, then hands the new messages' ids to the job queue. If that hand-off
never happens (the process dies right after the commit) or a delivery fails (the mail server
is down), the periodic sweep finds the message still owed and enqueues it again, with a
growing delay between attempts. Deliveries are idempotent: a message done is never redone.

Every message has a kind, declared once below with the handler that does its work
(services/delivery.py holds the handlers by name). A kind nobody declared is refused when it
is written, never tried and retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, inspect, or_, select, update
from sqlalchemy.orm import Session, aliased, selectinload

from models import OutboxMessage, Rsvp, Talk
from services import locks, rows

PENDING_KEY = "lectern.outbox.pending"
MAX_DELAY = timedelta(hours=6)
# 1 + 2 + ... + 256 minutes, then every six hours: about three days of attempts in all.
MAX_ATTEMPTS = 20
# While a worker sends a message, the sweep and other workers leave it alone this long.
LEASE = timedelta(minutes=10)
# A message younger than this is left to the hand-off that follows its commit.
GRACE = timedelta(seconds=30)


@dataclass(frozen=True)
class Kind:
    name: str
    handler: str  # the name under which services/delivery.py holds the handler doing this work
    label: str  # what organizers read in the list of messages given up on
    # An email to the person of the sign-up: dropped when they erase their data. Other work
    # about a sign-up (a registration to cancel at the meeting provider) outlives it.
    personal: bool = False


KINDS: dict[str, Kind] = {}


def declare(name: str, handler: str, label: str, *, personal: bool = False) -> Kind:
    kind = Kind(name, handler, label, personal)
    KINDS[name] = kind
    return kind


ATTENDEE_EMAIL = "attendee_email"
for _name, _label in (
    ("rsvp.confirmation", "Sign-up confirmation"),
    ("rsvp.manage_link", "Link to a sign-up"),
    ("rsvp.promoted", "Seat from the waiting list"),
    ("rsvp.updated", "Sign-up changed"),
    ("rsvp.cancelled", "Sign-up cancelled"),
    ("rsvp.erased", "Sign-up erased"),
    ("talk.changed", "Talk changed"),
    ("talk.cancelled", "Talk cancelled"),
    ("talk.reminder", "Reminder"),
    ("rsvp.join_link", "Join link"),
):
    declare(_name, ATTENDEE_EMAIL, f"{_label} (email)", personal=True)

# The announcement of a talk, to one of the series' mailing lists (services/announcement.py).
ANNOUNCEMENT_EMAIL = "announcement_email"
declare("announcement.email", ANNOUNCEMENT_EMAIL, "Announcement to a mailing list (email)")


# The last messages to someone who erased their data: they carry the address until sent.
ERASURE_KINDS = {"rsvp.erased", "chat.erased"}

ATTENDEE_CHAT_EMAIL = "attendee_chat_email"
for _name, _label in (
    ("chat.confirmation", "Chat booked"),
    ("chat.wishes", "Chat wishes received"),
    ("chat.moved", "Chat moved"),
    ("chat.cancelled", "Chat cancelled"),
    ("chat.not_drawn", "No chat this time"),
):
    declare(_name, ATTENDEE_CHAT_EMAIL, f"{_label} (email)", personal=True)
# After an erasure: it carries what it needs (rsvp_id, email, name, slot) in its payload.
declare("chat.erased", ATTENDEE_CHAT_EMAIL, "Chat cancelled, sign-up erased (email)")
SPEAKER_EMAIL = "speaker_email"
declare("chat.speaker_schedule", SPEAKER_EMAIL, "Chat schedule for the speaker (email)")


# Work at the meeting provider (services/meetings.py): not emails, and never dropped with a sign-up.
MEETING_WORK = "meeting_work"
for _name, _label in (
    ("meeting.register", "Registration for the online meeting"),
    ("meeting.cancel_registration", "Cancelling a registration for the online meeting"),
    ("meeting.update", "Updating the online meeting"),
    ("meeting.delete", "Deleting the online meeting"),
):
    declare(_name, MEETING_WORK, _label)


def kind_of(message: OutboxMessage) -> Kind | None:
    """The message's kind, or None for one no longer declared (written by an older version)."""
    return KINDS.get(message.kind)


@dataclass(frozen=True)
class Recipient:
    """Whom a message is for when it is not the sign-up it is about (a speaker, say)."""

    email: str
    name: str = ""


def add(
    session: Session,
    kind: str,
    *,
    rsvp: Rsvp | None = None,
    talk: Talk | None = None,
    to: Recipient | None = None,
    after: OutboxMessage | None = None,
    wait_until: datetime | None = None,
    **payload: Any,
) -> OutboxMessage:
    """Record a message owed. `after`: another message to be done first, waited for until
    `wait_until` at most, after which this one goes anyway."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox message kind {kind!r}")
    if to is not None and KINDS[kind].personal:
        raise ValueError(f"{kind!r} goes to the person of its sign-up, never to another recipient")
    if (after is None) != (wait_until is None):
        raise ValueError("a message that waits for another needs a time after which it goes anyway")
    # Written at once, in one statement: a message is always the last thing a change writes,
    # and the unit of work's flush would cost several times the INSERT itself.
    for linked in (rsvp, talk, after):
        if linked is not None and not inspect(linked).has_identity:
            session.add(linked)
            session.flush()  # a new sign-up, talk or message gets its id first
            break
    message = rows.insert(
        session,
        OutboxMessage(
            kind=kind,
            rsvp_id=_id(rsvp),
            rsvp=rsvp,
            talk_id=_id(talk),
            talk=talk,
            payload=payload,
            attempts=0,
            recipient_email=to.email if to else None,
            recipient_name=to.name if to else None,
            after_id=_id(after),
            after=after,
            wait_until=wait_until,
        ),
        _INSERT,
    )
    _pending(session).append(message)
    return message


_INSERT = rows.insert_statement(OutboxMessage)


def _id(obj: Any) -> int | None:
    """The row's id, from the session's identity map (never a reload of an expired object)."""
    return None if obj is None else inspect(obj).identity[0]


def _pending(session: Session) -> list[OutboxMessage]:
    """The messages the current unit of work wrote: a new list for each unit of work, so that
    what one that was rolled back wrote is never handed over."""
    root = locks.actual_session(session).get_transaction()
    held = session.info.get(PENDING_KEY)
    if held is None or held[0] is not root:
        held = session.info[PENDING_KEY] = (root, [])
    return held[1]


def hold_back(session: Session, rsvp: Rsvp, kinds: set[str], *, after: OutboxMessage, wait_until: datetime) -> None:
    """Messages about this sign-up written in this unit of work, of these kinds, wait for `after`
    (a confirmation for the join link a job fetches first) until `wait_until` at most."""
    for message in _pending(session):
        if message.kind in kinds and message.rsvp_id == _id(rsvp) and message.after_id is None:
            message.after_id = _id(after)
            message.wait_until = wait_until


def recipient_of(message: OutboxMessage) -> Recipient | None:
    """Whom the message is for: its own recipient, else the person of its sign-up (if still there)."""
    if message.recipient_email:
        return Recipient(message.recipient_email, message.recipient_name or "")
    if message.rsvp is not None:
        return Recipient(message.rsvp.email, message.rsvp.name)
    return None


def take_pending_ids(session: Session) -> list[int]:
    """Ids of the messages this unit of work wrote, to enqueue once it is committed (once).

    Call it after a flush and before the commit: reading ids afterwards would reload each
    message from the database, and one erased in the same unit of work is no longer there.
    """
    session.flush()
    held = session.info.pop(PENDING_KEY, None)
    if held is None or held[0] is not locks.actual_session(session).get_transaction():
        return []  # nothing written, or only by a unit of work that was rolled back
    # Ids from the identity, not the attribute: a message deleted since (its sign-up erased)
    # would raise on reloading, and the delivery of a gone message does nothing.
    keys = [inspect(message).identity for message in held[1] if message in session]
    return [key[0] for key in keys if key is not None]


def forget_rsvp(session: Session, rsvp: Rsvp) -> None:
    """An attendee erased their data: nothing more is sent to them.

    Other work owed about the sign-up (not an email to them) is kept, no longer tied to it, so
    that deleting the sign-up does not take it along.
    """
    personal = [kind.name for kind in KINDS.values() if kind.personal]
    mine = OutboxMessage.rsvp_id == rsvp.id
    session.execute(delete(OutboxMessage).where(mine, OutboxMessage.kind.in_(personal)))
    session.execute(update(OutboxMessage).where(mine).values(rsvp_id=None))


def waiting_for(message: OutboxMessage, now: datetime) -> OutboxMessage | None:
    """The message this one still waits for, if any and if its time-out has not come."""
    if message.after is None or message.after.done_at is not None:
        return None
    if message.wait_until is not None and message.wait_until <= now:
        return None
    return message.after


def waiting_on(session: Session, message_id: int) -> list[int]:
    """Messages owed that were waiting for this one, now done: they can go."""
    return list(
        session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.after_id == message_id, OutboxMessage.done_at.is_(None))
            .order_by(OutboxMessage.id)
        )
    )


def owed(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Messages still owed whose next attempt is due (past the grace period of a fresh one),
    except those waiting for another message still owed, until their time-out."""
    first = aliased(OutboxMessage)
    first_owed = exists().where(first.id == OutboxMessage.after_id, first.done_at.is_(None))
    return list(
        session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.done_at.is_(None),
                OutboxMessage.next_attempt_at <= now,
                OutboxMessage.created_at <= now - GRACE,
                or_(OutboxMessage.after_id.is_(None), OutboxMessage.wait_until <= now, ~first_owed),
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
    if message.kind in ERASURE_KINDS:
        message.payload = {}


def mark_failed(message: OutboxMessage, error: str, now: datetime, *, not_before: datetime | None = None) -> None:
    """Try again later: 1, 2, 4, 8... minutes, at most six hours apart; give up after three days.
    `not_before`: the other side said when to come back (a 429's Retry-After)."""
    message.attempts += 1
    if message.attempts >= MAX_ATTEMPTS:
        # A message refused this long will not go through: stop, keeping the reason for organizers.
        give_up(message, f"gave up after {message.attempts} attempts: {error}", now)
        return
    delay = min(timedelta(minutes=2 ** (message.attempts - 1)), MAX_DELAY)
    message.next_attempt_at = max(now + delay, not_before) if not_before else now + delay
    message.last_error = error[:2000]


def give_up(message: OutboxMessage, error: str, now: datetime) -> None:
    """Stop trying (the work cannot succeed as it stands); organizers see it with its reason."""
    message.done_at = now
    message.given_up_at = now
    message.last_error = error[:2000]
    _forget_personal_data(message)


def given_up(session: Session, limit: int = 200) -> list[OutboxMessage]:
    """Messages Lectern stopped trying, the latest first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.given_up_at.is_not(None))
            .options(selectinload(OutboxMessage.talk), selectinload(OutboxMessage.rsvp))
            .order_by(OutboxMessage.given_up_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def try_again(session: Session, message_id: int, now: datetime) -> OutboxMessage | None:
    """An organizer asks for a message given up on to be tried again now, with a fresh count of
    attempts; it is handed to the queue with the unit of work's other messages."""
    message = session.scalars(
        select(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.given_up_at.is_not(None))
    ).first()
    if message is None:
        return None
    message.done_at = None
    message.given_up_at = None
    message.attempts = 0
    message.next_attempt_at = now
    _pending(session).append(message)
    return message
