"""Chats with the speaker: short in-person slots after the talk, each for a few people.

A booking belongs to the person's sign-up for the talk (one person, one manage link): booking
without a sign-up signs them up too, and a sign-up that is cancelled or erased frees its chat.
One booking per sign-up, enforced by the database (a unique sign-up id); a slot's places are
counted under the talk's lock (services/locks.py), as seats are, so a slot is never overbooked.

Two ways to give out places, per talk: first come, first served (a booking takes a place at
once), or a draw: until the draw time people ask for up to three slots in order of preference;
then `run_draw` places them in a seeded random order (`draw`), records the seed, what it was
given and what it decided, and tells everyone. Places left after the draw go first come.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import ChatAssignment, ChatBooking, ChatSlot, Talk

# Without a draw time of its own, a draw runs this long before the talk starts.
DEFAULT_DRAW_AHEAD = timedelta(days=1)


@dataclass(frozen=True)
class ChatSummary:
    """What an announcement or a talk page says about a talk's chats."""

    slots: int  # how many chats
    places: int  # how many people in all
    assignment: ChatAssignment
    closes_at: datetime  # when chat sign-up closes
    draw_at: datetime | None  # with a draw: when it runs


def closes_at(talk: Talk) -> datetime:
    """When chat sign-up closes: the organizer's time, else when the talk starts."""
    return talk.chat_closes_at or talk.starts_at


def draw_at(talk: Talk) -> datetime | None:
    """With a draw, when it runs (never after chat sign-up closes); None without one."""
    if talk.chat_assignment != ChatAssignment.DRAW:
        return None
    return min(talk.chat_draw_at or talk.starts_at - DEFAULT_DRAW_AHEAD, closes_at(talk))


def summary(session: Session, talk: Talk) -> ChatSummary | None:
    """None when the talk has no chat slots."""
    count, places = session.execute(
        select(func.count(ChatSlot.id), func.coalesce(func.sum(ChatSlot.capacity), 0)).where(
            ChatSlot.talk_id == talk.id
        )
    ).one()
    if not count:
        return None
    return ChatSummary(count, places, talk.chat_assignment, closes_at(talk), draw_at(talk))


def booked_counts(session: Session, talk_id: int) -> dict[int, int]:
    """Places taken per slot id."""
    return dict(
        session.execute(
            select(ChatBooking.slot_id, func.count(ChatBooking.id))
            .where(ChatBooking.talk_id == talk_id)
            .group_by(ChatBooking.slot_id)
        ).all()
    )
