"""Changes to a talk, in one place: what they mean for the people signed up, and who reacts.

Whoever changes a talk (an organizer's edit or button, an import, a deletion) takes its facts
before (`facts`), makes the change, then calls `record`. `record` compares before and after,
raises the talk's calendar SEQUENCE once when something in the attendees' calendars changed
(the time, the room, the status), and calls the reactions registered with `on_talk_change`,
in the same unit of work. Today's reactions (at the end of this module) tell the people signed
up, and give the seats there are now to the waiting list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from models import Room, Rsvp, Talk, TalkStatus
from services import signups


class TalkCause(StrEnum):
    """Why a talk changed."""

    CREATED = "created"
    EDITED = "edited"
    IMPORTED = "imported"  # a new or re-imported post
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"
    CANCELLED = "cancelled"
    REINSTATED = "reinstated"
    DELETED = "deleted"


@dataclass(frozen=True)
class Facts:
    """What a talk is for the people signed up: what their calendar invite holds."""

    starts_at: datetime
    ends_at: datetime
    room: Room | None
    status: TalkStatus


def facts(talk: Talk) -> Facts:
    return Facts(talk.starts_at, talk.ends_at, talk.room, talk.status)


def attendee_change(before: Facts, after: Facts) -> str | None:
    """What changed for the people signed up, in words for their email; None if nothing did."""
    if before.status != after.status and after.status == TalkStatus.CANCELLED:
        return "cancelled"
    changes = []
    if (before.starts_at, before.ends_at) != (after.starts_at, after.ends_at):
        changes.append("the time")
    if before.room is not after.room:
        changes.append("the room")
    if before.status != after.status:
        changes.append("its status")
    return " and ".join(changes) or None


def raise_sequence_if_changed(talk: Talk, before: Facts) -> str | None:
    """A new version of the talk's calendar event when something in it changed; what changed."""
    what = attendee_change(before, facts(talk))
    if what:
        talk.sequence += 1
    return what


@dataclass
class TalkChange:
    """One change of one talk, as its reactions see it, once written (not yet committed).

    `before` is None for a new talk, `after` None for a deleted one. Reactions record what
    followed in `told` and `promoted`, for the organizer's page and the import report.
    """

    session: Session
    talk: Talk
    before: Facts | None
    after: Facts | None
    cause: TalkCause
    now: datetime
    what: str | None  # what changed for the people signed up, in words; None if nothing did
    told: int = 0
    promoted: list[Rsvp] = field(default_factory=list)


TalkHandler = Callable[[TalkChange], None]
_talk_handlers: list[TalkHandler] = []


def on_talk_change(handler: TalkHandler) -> TalkHandler:
    """Call `handler` after every change of a talk, in the same unit of work.

    Handlers run in the order they were registered; one that raises aborts the change (the
    caller's unit of work is rolled back).
    """
    if handler not in _talk_handlers:
        _talk_handlers.append(handler)
    return handler


def remove_talk_handler(handler: TalkHandler) -> None:
    if handler in _talk_handlers:
        _talk_handlers.remove(handler)


def record(session: Session, talk: Talk, before: Facts | None, cause: TalkCause, now: datetime) -> TalkChange:
    """A talk was created, changed or deleted (`session.delete` already called): raise its
    SEQUENCE once if the attendees' calendars must change, then call the reactions."""
    after = None if cause is TalkCause.DELETED else facts(talk)
    what = None
    if before is not None and after is not None:
        what = raise_sequence_if_changed(talk, before)
    session.flush()
    change = TalkChange(session, talk, before, after, cause, now, what)
    for handler in list(_talk_handlers):
        handler(change)
    return change


# Today's reactions to talk changes --------------------------------------------------------

# The changes after which the waiting list takes the seats there are now (the talk may have a
# new capacity or a bigger room).
SEAT_CHANGING = {TalkCause.CREATED, TalkCause.EDITED, TalkCause.IMPORTED}


def tell_people_signed_up(change: TalkChange) -> None:
    """Everyone signed up is emailed a new invite (or a cancellation) when their calendar changes."""
    if change.what:
        change.told = signups.notify_talk_changed(change.session, change.talk, change.what)


def seat_the_waiting_list(change: TalkChange) -> None:
    """After an edit or an import the first in line take any free seats (not for a cancelled talk)."""
    if change.cause in SEAT_CHANGING and not change.talk.is_cancelled:
        change.promoted = signups.fill_seats(change.session, change.talk, change.now)


on_talk_change(tell_people_signed_up)
on_talk_change(seat_the_waiting_list)
