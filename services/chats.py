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

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from models import (
    ChatAssignment,
    ChatBooking,
    ChatDraw,
    ChatRequest,
    ChatSlot,
    OutboxMessage,
    Rsvp,
    RsvpStatus,
    Talk,
    TalkStatus,
)
from services import addresses, locks, outbox, signups, talk_changes
from services.signups import Cause, SignupChange, SignupError
from services.talk_changes import TalkCause, TalkChange
from services.text import one_line

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


# Rules ----------------------------------------------------------------------------------

MAX_WISHES = 3
MAX_SLOTS_AT_ONCE = 40
MAX_MINUTES = 240
MAX_PEOPLE_PER_CHAT = 50


class Phase(StrEnum):
    """What a person can do about a talk's chats at a given moment."""

    CLOSED = "closed"
    WISHES = "wishes"  # a draw is coming: ask for up to three slots
    DRAWING = "drawing"  # the draw time has come, the draw has not run yet (a minute at most)
    FIRST_COME = "first come"  # book a free place at once


def is_open(talk: Talk, now: datetime) -> bool:
    return talk.published and not talk.is_cancelled and talk.chat_open and now < closes_at(talk)


def has_drawn(session: Session, talk: Talk) -> bool:
    return session.scalar(select(ChatDraw.id).where(ChatDraw.talk_id == talk.id)) is not None


def phase(session: Session, talk: Talk, now: datetime) -> Phase:
    if not is_open(talk, now):
        return Phase.CLOSED
    if talk.chat_assignment == ChatAssignment.DRAW and not has_drawn(session, talk):
        when = draw_at(talk)
        return Phase.WISHES if when is not None and now < when else Phase.DRAWING
    return Phase.FIRST_COME


@dataclass(frozen=True)
class SlotPlaces:
    slot: ChatSlot
    taken: int

    @property
    def left(self) -> int:
        return max(0, self.slot.capacity - self.taken)

    @property
    def full(self) -> bool:
        return self.taken >= self.slot.capacity


def slots_of(session: Session, talk_id: int) -> list[ChatSlot]:
    return list(
        session.scalars(
            select(ChatSlot)
            .where(ChatSlot.talk_id == talk_id)
            .order_by(ChatSlot.speaker_name, ChatSlot.starts_at, ChatSlot.id)
        )
    )


def places(session: Session, talk_id: int) -> list[SlotPlaces]:
    """Every slot of the talk with the places taken, by speaker, then time."""
    taken = booked_counts(session, talk_id)
    return [SlotPlaces(slot, taken.get(slot.id, 0)) for slot in slots_of(session, talk_id)]


def booking_of(session: Session, rsvp_id: int) -> ChatBooking | None:
    return session.scalars(select(ChatBooking).where(ChatBooking.rsvp_id == rsvp_id)).first()


def wishes_of(session: Session, rsvp_id: int) -> list[ChatRequest]:
    return list(session.scalars(select(ChatRequest).where(ChatRequest.rsvp_id == rsvp_id).order_by(ChatRequest.rank)))


def bookings_by_slot(session: Session, talk_id: int) -> list[tuple[ChatSlot, list[ChatBooking]]]:
    """Each slot with the people booked in it, for organizers and the speaker."""
    bookings = session.scalars(
        select(ChatBooking)
        .where(ChatBooking.talk_id == talk_id)
        .options(selectinload(ChatBooking.rsvp))
        .order_by(ChatBooking.booked_at, ChatBooking.id)
    ).all()
    by_slot: dict[int, list[ChatBooking]] = {}
    for booking in bookings:
        by_slot.setdefault(booking.slot_id, []).append(booking)
    return [(slot, by_slot.get(slot.id, [])) for slot in slots_of(session, talk_id)]


def speaker_names(talk: Talk) -> list[str]:
    """Whom chats can be with: each speaker, or one unnamed host for a talk without speakers."""
    return talk.speaker_names or [""]


def speaker_key(talk: Talk, name: str) -> str:
    """Whose chats a speaker's link shows: "" for the talk's one speaker (slots of a talk with one
    speaker carry no name), else the speaker's name, as their slots carry it."""
    return name if len(talk.speaker_names) > 1 else ""


def snapshot(slot: ChatSlot) -> dict[str, Any]:
    """A slot as an email about it needs it, kept with the message: the email says what was true
    when it was written, and the invite's SEQUENCE orders the versions."""
    return {
        "id": slot.id,
        "starts_at": slot.starts_at.astimezone(UTC).isoformat(),
        "minutes": slot.minutes,
        "place": slot.place,
        "speaker": slot.speaker_name,
    }


def _slot_of(session: Session, talk: Talk, slot_id: int) -> ChatSlot:
    slot = session.get(ChatSlot, slot_id)
    if slot is None or slot.talk_id != talk.id:
        raise SignupError("That chat slot no longer exists. Please choose another.", "slot")
    return slot


def _taken(session: Session, slot_id: int) -> int:
    return session.scalar(select(func.count(ChatBooking.id)).where(ChatBooking.slot_id == slot_id)) or 0


def _full_error() -> SignupError:
    return SignupError("This slot is full. Please choose another.", "slot", conflict=True)


def _lock(session: Session, talk_id: int) -> Talk:
    try:
        return locks.lock_talk(session, talk_id)
    except locks.TalkGone:
        raise SignupError("This talk no longer exists.") from None


# Attendees ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingResult:
    rsvp: Rsvp
    created: bool  # False: the address was signed up already; its owner is sent their link again


def book(
    session: Session,
    talk_id: int,
    *,
    name: str,
    email: str,
    slot_ids: list[int],
    topic: str,
    now: datetime,
    affiliation: str = "",
) -> BookingResult:
    """Book a chat (first come), or ask for up to three slots (before a draw), from the booking
    page. Someone not signed up for the talk is signed up too (in the room, or on its waiting
    list: a chat does not need a seat at the talk).

    An address that is signed up already changes nothing: anyone can type anyone's address, so
    its owner is sent their manage link, where they book. Every refusal comes first, so the
    answer never tells whether an address is signed up.
    """
    talk = _lock(session, talk_id)
    now_phase = phase(session, talk, now)
    if now_phase is Phase.CLOSED:
        raise SignupError("Chat sign-up for this talk is closed.", conflict=True)
    if now_phase is Phase.DRAWING:
        raise SignupError("The draw for these chats is being made: please try again in a minute.", conflict=True)
    chosen = _chosen_slots(session, talk, slot_ids, wishes=now_phase is Phase.WISHES)
    if now_phase is Phase.FIRST_COME and _taken(session, chosen[0].id) >= chosen[0].capacity:
        raise _full_error()
    address = signups.normalise_email(email)
    existing = signups.active_rsvp(session, talk, address)
    if existing is not None:
        # Checked before signing up, which would say the same: here the email mentions the chat.
        outbox.add(session, "rsvp.manage_link", rsvp=existing, talk=talk, chat=True)
        return BookingResult(existing, created=False)
    modes = signups.modes(talk)
    mode = "room" if "room" in modes else (modes[0] if modes else "room")
    result = signups.sign_up(session, talk.id, name=name, email=address, mode=mode, now=now, affiliation=affiliation)
    rsvp = result.rsvp
    if not result.created:  # cannot happen under the lock; kept safe all the same
        return BookingResult(rsvp, created=False)
    rsvp.chat_topic = _topic(topic)
    if now_phase is Phase.WISHES:
        _write_wishes(session, talk, rsvp, chosen, now)
    else:
        _place(session, talk, rsvp, chosen[0], now)
    return BookingResult(rsvp, created=True)


def _topic(topic: str) -> str:
    return topic.strip()[:2000]


def _chosen_slots(session: Session, talk: Talk, slot_ids: list[int], *, wishes: bool) -> list[ChatSlot]:
    unique = list(dict.fromkeys(slot_ids))
    if not unique:
        raise SignupError("Please choose a slot.", "slot")
    if len(unique) > (MAX_WISHES if wishes else 1):
        raise SignupError(f"Please choose at most {MAX_WISHES} slots." if wishes else "Please choose one slot.", "slot")
    return [_slot_of(session, talk, slot_id) for slot_id in unique]


def _place(session: Session, talk: Talk, rsvp: Rsvp, slot: ChatSlot, now: datetime, *, drawn: bool = False) -> None:
    """A new booking (the slot has room: checked under the lock) and its confirmation."""
    if rsvp.chat_sequence:
        # A chat of theirs was in their calendar and was cancelled (at that SEQUENCE): the new
        # invite, with the same UID, must come after the cancellation to be taken.
        rsvp.chat_sequence += 1
    session.add(ChatBooking(slot_id=slot.id, rsvp_id=rsvp.id, talk_id=talk.id, booked_at=now, drawn=drawn))
    session.execute(delete(ChatRequest).where(ChatRequest.rsvp_id == rsvp.id))
    session.flush()
    _tell(session, "chat.confirmation", talk, rsvp, slot, drawn=drawn)
    schedule_changed(session, talk)


def _tell(session: Session, kind: str, talk: Talk, rsvp: Rsvp, slot: ChatSlot, **payload: Any) -> None:
    """An email about this person's chat in `slot`, with the invite's SEQUENCE as it stands now."""
    outbox.add(session, kind, rsvp=rsvp, talk=talk, slot=snapshot(slot), sequence=rsvp.chat_sequence, **payload)


def _write_wishes(session: Session, talk: Talk, rsvp: Rsvp, slots: list[ChatSlot], now: datetime) -> None:
    session.execute(delete(ChatRequest).where(ChatRequest.rsvp_id == rsvp.id))
    session.flush()
    for rank, slot in enumerate(slots, start=1):
        session.add(ChatRequest(talk_id=talk.id, rsvp_id=rsvp.id, slot_id=slot.id, rank=rank, asked_at=now))
    session.flush()
    when = draw_at(talk)
    outbox.add(
        session,
        "chat.wishes",
        rsvp=rsvp,
        talk=talk,
        wishes=[snapshot(slot) for slot in slots],
        draw_at=when.astimezone(UTC).isoformat() if when else None,
    )


def choose_slot(
    session: Session, rsvp_id: int, slot_id: int, now: datetime, *, by_organizer: bool = False, topic: str | None = None
) -> ChatBooking:
    """Book a slot for a sign-up, or move its booking there: in one step, never two bookings or none.

    Attendees (from their manage link) while chat sign-up is open and first come; organizers at
    any time. Nobody, organizers included, fills a slot beyond its places.
    """
    talk, rsvp = signups.locked_rsvp(session, rsvp_id)
    if rsvp.status == RsvpStatus.CANCELLED:
        raise SignupError("This sign-up was cancelled; sign up again from the talk's page.")
    if not by_organizer:
        now_phase = phase(session, talk, now)
        if now_phase is Phase.WISHES:
            raise SignupError("Slots are given by a draw: choose the slots you would like instead.", conflict=True)
        if now_phase is not Phase.FIRST_COME:
            raise SignupError("Chat sign-up for this talk is closed.", conflict=True)
    slot = _slot_of(session, talk, slot_id)
    if topic is not None:
        rsvp.chat_topic = _topic(topic)
    booking = booking_of(session, rsvp.id)
    if booking is not None and booking.slot_id == slot.id:
        return booking
    if _taken(session, slot.id) >= slot.capacity:
        raise _full_error()
    if booking is None:
        _place(session, talk, rsvp, slot, now)
        return booking_of(session, rsvp.id)  # type: ignore[return-value]
    booking.slot_id = slot.id
    booking.booked_at = now
    rsvp.chat_sequence += 1
    session.flush()
    session.expire(booking, ["slot"])
    _tell(session, "chat.moved", talk, rsvp, slot, by_organizer=by_organizer)
    schedule_changed(session, talk)
    return booking


def set_wishes(session: Session, rsvp_id: int, slot_ids: list[int], now: datetime, *, topic: str | None = None) -> None:
    """Before a draw, from the manage link: the slots wished for, first choice first."""
    talk, rsvp = signups.locked_rsvp(session, rsvp_id)
    if rsvp.status == RsvpStatus.CANCELLED:
        raise SignupError("This sign-up was cancelled; sign up again from the talk's page.")
    if phase(session, talk, now) is not Phase.WISHES:
        raise SignupError("The time to ask for slots is over.", conflict=True)
    slots = _chosen_slots(session, talk, slot_ids, wishes=True)
    if topic is not None:
        rsvp.chat_topic = _topic(topic)
    _write_wishes(session, talk, rsvp, slots, now)


def withdraw_wishes(session: Session, rsvp_id: int, now: datetime) -> None:
    talk, rsvp = signups.locked_rsvp(session, rsvp_id)
    if phase(session, talk, now) is not Phase.WISHES:
        raise SignupError("The time to ask for slots is over.", conflict=True)
    session.execute(delete(ChatRequest).where(ChatRequest.rsvp_id == rsvp.id))


def cancel_booking(session: Session, rsvp_id: int, now: datetime, *, by_organizer: bool = False) -> bool:
    """Cancel the chat alone (the sign-up for the talk stays). False when there was none."""
    talk, rsvp = signups.locked_rsvp(session, rsvp_id)
    booking = booking_of(session, rsvp.id)
    if booking is None:
        return False
    if not by_organizer and now >= booking.slot.starts_at:
        raise SignupError("This chat has started, so it can no longer be cancelled.", conflict=True)
    _free(session, talk, rsvp, booking, reason="by_organizer" if by_organizer else "by_attendee")
    return True


def set_topic(session: Session, rsvp_id: int, topic: str, now: datetime) -> None:
    """From the manage link: what the person would like to talk about, until their chat starts."""
    talk, rsvp = signups.locked_rsvp(session, rsvp_id)
    if rsvp.status == RsvpStatus.CANCELLED:
        raise SignupError("This sign-up was cancelled; sign up again from the talk's page.")
    booking = booking_of(session, rsvp.id)
    if booking is None and not wishes_of(session, rsvp.id):
        raise SignupError("You have no chat booked.", conflict=True)
    if booking is not None and now >= booking.slot.starts_at:
        raise SignupError("This chat has started, so its topic can no longer change.", conflict=True)
    topic = _topic(topic)
    if topic == rsvp.chat_topic:
        return
    rsvp.chat_topic = topic
    if booking is not None:  # the speaker's schedule shows it
        schedule_changed(session, talk)


def _free(session: Session, talk: Talk, rsvp: Rsvp, booking: ChatBooking, *, reason: str) -> None:
    slot = booking.slot
    session.delete(booking)
    rsvp.chat_sequence += 1
    session.flush()
    _tell(session, "chat.cancelled", talk, rsvp, slot, reason=reason)
    schedule_changed(session, talk)


# Organizers -------------------------------------------------------------------------------


def _check_slot_values(minutes: int, capacity: int, place: str) -> None:
    if not 1 <= minutes <= MAX_MINUTES:
        raise SignupError(f"A chat lasts between 1 and {MAX_MINUTES} minutes.", "minutes")
    if not 1 <= capacity <= MAX_PEOPLE_PER_CHAT:
        raise SignupError(f"A chat has between 1 and {MAX_PEOPLE_PER_CHAT} people.", "capacity")
    if len(place) > 200:
        raise SignupError("The place can be at most 200 characters long.", "place")


def _speaker(talk: Talk, speaker_name: str) -> str:
    names = talk.speaker_names
    if len(names) <= 1:
        return ""  # one speaker (or none): the slots are theirs, whatever their name becomes
    if speaker_name not in names:
        raise SignupError("Please choose which speaker these chats are with.", "speaker")
    return speaker_name


def add_slots(
    session: Session,
    talk_id: int,
    *,
    first_starts_at: datetime | None,
    count: int,
    minutes: int,
    capacity: int,
    place: str | None,
    speaker_name: str = "",
    now: datetime,
) -> list[ChatSlot]:
    """A run of `count` slots back to back, from `first_starts_at` (default: when the talk ends),
    in `place` (default: the talk's room)."""
    talk = _lock(session, talk_id)
    if not 1 <= count <= MAX_SLOTS_AT_ONCE:
        raise SignupError(f"Add between 1 and {MAX_SLOTS_AT_ONCE} chats at a time.", "count")
    place = one_line(place or "") or (talk.room.name if talk.room else "")
    _check_slot_values(minutes, capacity, place)
    speaker = _speaker(talk, speaker_name)
    start = first_starts_at or talk.ends_at
    slots = [
        ChatSlot(
            talk_id=talk.id,
            speaker_name=speaker,
            starts_at=start + timedelta(minutes=minutes * n),
            minutes=minutes,
            capacity=capacity,
            place=place,
            sequence=0,
        )
        for n in range(count)
    ]
    session.add_all(slots)
    session.flush()
    schedule_changed(session, talk)
    return slots


def update_slot(
    session: Session,
    slot_id: int,
    *,
    starts_at: datetime,
    minutes: int,
    capacity: int,
    place: str,
    now: datetime,
) -> int:
    """Change a slot; the people booked are told when its time or place changed. Returns how many."""
    talk_id = session.scalar(select(ChatSlot.talk_id).where(ChatSlot.id == slot_id))
    if talk_id is None:
        raise SignupError("This chat slot no longer exists.")
    talk = _lock(session, talk_id)
    slot = _slot_of(session, talk, slot_id)
    place = one_line(place)
    _check_slot_values(minutes, capacity, place)
    people = bookings_in(session, slot.id)
    if capacity < len(people):
        raise SignupError(
            f"{len(people)} people are booked in this chat: move or cancel some before giving it fewer places.",
            "capacity",
        )
    moved = (slot.starts_at, slot.minutes, slot.place) != (starts_at, minutes, place)
    slot.starts_at, slot.minutes, slot.capacity, slot.place = starts_at, minutes, capacity, place
    session.flush()
    if not moved:
        return 0
    slot.sequence += 1
    _tell_moved(session, talk, slot, people)
    schedule_changed(session, talk)
    return len(people)


def bookings_in(session: Session, slot_id: int) -> list[ChatBooking]:
    return list(
        session.scalars(
            select(ChatBooking)
            .where(ChatBooking.slot_id == slot_id)
            .options(selectinload(ChatBooking.rsvp))
            .order_by(ChatBooking.id)
        )
    )


def _tell_moved(session: Session, talk: Talk, slot: ChatSlot, people: list[ChatBooking], **payload: Any) -> None:
    for booking in people:
        booking.rsvp.chat_sequence += 1
        _tell(session, "chat.moved", talk, booking.rsvp, slot, by_organizer=True, **payload)


def delete_slot(session: Session, slot_id: int, now: datetime) -> int:
    """Delete a slot; the people booked in it are told their chat is cancelled. Returns how many."""
    talk_id = session.scalar(select(ChatSlot.talk_id).where(ChatSlot.id == slot_id))
    if talk_id is None:
        return 0
    talk = _lock(session, talk_id)
    slot = _slot_of(session, talk, slot_id)
    people = bookings_in(session, slot.id)
    for booking in people:
        _free(session, talk, booking.rsvp, booking, reason="slot_deleted")
    session.execute(delete(ChatRequest).where(ChatRequest.slot_id == slot.id))
    session.delete(slot)
    session.flush()
    schedule_changed(session, talk)
    return len(people)


def set_options(
    session: Session,
    talk_id: int,
    *,
    assignment: ChatAssignment,
    closes: datetime | None,
    draw_time: datetime | None,
    prefer_new: bool,
    is_open: bool,
    now: datetime,
) -> Talk:
    """How places are given out and until when. The way cannot change once people have used it."""
    talk = _lock(session, talk_id)
    if assignment != talk.chat_assignment:
        if has_drawn(session, talk):
            raise SignupError("The draw has been made: the way chats are given out can no longer change.", "assignment")
        if assignment == ChatAssignment.DRAW and session.scalar(
            select(func.count(ChatBooking.id)).where(ChatBooking.talk_id == talk.id)
        ):
            raise SignupError(
                "People have booked chats already: cancel their bookings before switching to a draw.", "assignment"
            )
        if assignment == ChatAssignment.FIRST_COME and session.scalar(
            select(func.count(ChatRequest.id)).where(ChatRequest.talk_id == talk.id)
        ):
            raise SignupError("People have asked for slots in the draw: run the draw, or keep it.", "assignment")
    if closes is not None and closes > talk.ends_at + timedelta(days=1):
        raise SignupError("Chat sign-up must close by the day after the talk.", "closes")
    if draw_time is not None and assignment == ChatAssignment.DRAW and draw_time > (closes or talk.starts_at):
        raise SignupError("The draw must be made before chat sign-up closes.", "draw_at")
    talk.chat_assignment = assignment
    talk.chat_closes_at = closes
    talk.chat_draw_at = draw_time if assignment == ChatAssignment.DRAW else None
    talk.chat_prefer_new = prefer_new
    talk.chat_open = is_open
    session.flush()
    if not is_open or now >= closes_at(talk):
        queue_speaker_schedules_for(session, talk, now)
    return talk


def set_speaker_email(session: Session, talk_id: int, speaker_name: str, email: str) -> None:
    talk = _lock(session, talk_id)
    if speaker_name not in speaker_names(talk):
        raise SignupError("That speaker is not on this talk.", "speaker")
    emails = dict(talk.chat_speaker_emails or {})
    if email.strip():
        try:
            emails[speaker_name] = addresses.deliverable(email)
        except addresses.AddressError:
            raise SignupError("Please enter a valid email address, like name@example.org.", "email") from None
    else:
        emails.pop(speaker_name, None)
    talk.chat_speaker_emails = emails


# The draw ---------------------------------------------------------------------------------


def draw(inputs: dict[str, Any], seed: str) -> dict[str, Any]:
    """Place people in slots: a pure function of what it is given and the seed.

    `inputs`: {"slots": {slot id: places}, "wishes": {sign-up id: [slot ids, first choice
    first]}, "later": [sign-up ids to place after the others]}. Ids may be ints or strings.

    People are put in a random order drawn from the seed (those in "later" after the others,
    each part in its drawn order). Then, in that order, each person is given a place if the
    people before them can keep theirs (possibly in another of their wished slots): this gives
    a chat to as many people as possible, and when not everyone can have one, those earlier in
    the order first. Last, in the same order, each person placed gets the best-ranked slot they
    can have while everyone placed keeps a place.
    """
    capacity = {int(k): int(v) for k, v in inputs["slots"].items()}
    wishes = {int(k): [int(s) for s in v if int(s) in capacity] for k, v in inputs["wishes"].items()}
    later = {int(k) for k in inputs.get("later", [])}
    people = sorted(wishes)
    random.Random(seed).shuffle(people)
    order = [p for p in people if p not in later] + [p for p in people if p in later]

    placed: list[int] = []
    for person in order:
        if _matching([*placed, person], wishes, capacity, {}) is not None:
            placed.append(person)
    fixed: dict[int, int] = {}
    for person in order:
        if person not in placed:
            continue
        for slot in wishes[person]:
            trial = {**fixed, person: slot}
            if _matching(placed, wishes, capacity, trial) is not None:
                fixed[person] = slot
                break
    return {
        "order": order,
        "placed": {str(person): fixed[person] for person in order if person in fixed},
        "unplaced": [person for person in order if person not in fixed],
    }


def _matching(
    people: list[int], wishes: dict[int, list[int]], capacity: dict[int, int], fixed: dict[int, int]
) -> dict[int, int] | None:
    """A placement of every one of `people` in a wished slot within its places, honouring `fixed`
    (person: slot); None when there is none. Augmenting paths (Kuhn's algorithm)."""
    left = dict(capacity)
    assigned: dict[int, int] = {}
    holders: dict[int, list[int]] = {slot: [] for slot in capacity}
    for person, slot in fixed.items():
        if left.get(slot, 0) <= 0:
            return None
        left[slot] -= 1
        assigned[person] = slot
    for person in people:
        if person in fixed:
            continue
        if not _augment(person, wishes, left, holders, assigned, set(), fixed):
            return None
    return assigned


def _augment(
    person: int,
    wishes: dict[int, list[int]],
    left: dict[int, int],
    holders: dict[int, list[int]],
    assigned: dict[int, int],
    seen: set[int],
    fixed: dict[int, int],
) -> bool:
    for slot in wishes[person]:
        if slot in seen:
            continue
        seen.add(slot)
        if left[slot] > 0:
            left[slot] -= 1
            holders[slot].append(person)
            assigned[person] = slot
            return True
        for other in list(holders[slot]):
            if other not in fixed and _augment(other, wishes, left, holders, assigned, seen, fixed):
                holders[slot].remove(other)
                # `other` moved on and took a place elsewhere; their place here is this person's.
                holders[slot].append(person)
                assigned[person] = slot
                return True
    return False


def draw_inputs(session: Session, talk: Talk) -> dict[str, Any]:
    """What the draw is given: the slots' places and the wishes of the people still signed up."""
    capacity = {str(place.slot.id): place.left for place in places(session, talk.id)}
    rows = session.execute(
        select(ChatRequest.rsvp_id, ChatRequest.slot_id)
        .join(Rsvp, Rsvp.id == ChatRequest.rsvp_id)
        .where(ChatRequest.talk_id == talk.id, Rsvp.status != RsvpStatus.CANCELLED)
        .order_by(ChatRequest.rsvp_id, ChatRequest.rank)
    ).all()
    wishes: dict[str, list[int]] = {}
    for rsvp_id, slot_id in rows:
        wishes.setdefault(str(rsvp_id), []).append(slot_id)
    later = (
        sorted(int(r) for r in had_a_chat_this_semester(session, talk, [int(r) for r in wishes]))
        if (talk.chat_prefer_new)
        else []
    )
    return {"slots": capacity, "wishes": wishes, "later": later}


def had_a_chat_this_semester(session: Session, talk: Talk, rsvp_ids: list[int]) -> set[int]:
    """Those of these sign-ups whose address had a chat at another talk of the series this semester."""
    if not rsvp_ids or talk.semester_id is None:
        return set()
    emails = dict(session.execute(select(Rsvp.id, Rsvp.email).where(Rsvp.id.in_(rsvp_ids))).all())
    earlier = set(
        session.scalars(
            select(Rsvp.email)
            .join(ChatBooking, ChatBooking.rsvp_id == Rsvp.id)
            .join(Talk, Talk.id == ChatBooking.talk_id)
            .where(Talk.semester_id == talk.semester_id, Talk.id != talk.id, Rsvp.email.in_(emails.values()))
        )
    )
    return {rsvp_id for rsvp_id, email in emails.items() if email in earlier}


def run_draw(session: Session, talk_id: int, now: datetime, *, seed: str | None = None) -> ChatDraw | None:
    """Make the talk's draw (once): place people, record seed, inputs and result, tell everyone."""
    talk = _lock(session, talk_id)
    if talk.chat_assignment != ChatAssignment.DRAW:
        return None
    existing = session.scalars(select(ChatDraw).where(ChatDraw.talk_id == talk.id)).first()
    if existing is not None:
        return existing
    inputs = draw_inputs(session, talk)
    seed = seed or secrets.token_hex(16)
    result = draw(inputs, seed)
    record = ChatDraw(talk_id=talk.id, seed=seed, ran_at=now, inputs=inputs, result=result)
    session.add(record)
    session.flush()
    rsvps = {r.id: r for r in session.scalars(select(Rsvp).where(Rsvp.id.in_([int(p) for p in result["order"]])))}
    for person in result["order"]:
        rsvp = rsvps[int(person)]
        slot_id = result["placed"].get(str(person))
        if slot_id is not None:
            _place(session, talk, rsvp, session.get(ChatSlot, slot_id), now, drawn=True)  # type: ignore[arg-type]
        else:
            session.execute(delete(ChatRequest).where(ChatRequest.rsvp_id == rsvp.id))
            outbox.add(session, "chat.not_drawn", rsvp=rsvp, talk=talk)
    return record


def verify(record: ChatDraw) -> bool:
    """The draw run again from its recorded inputs and seed gives the recorded result."""
    return draw(record.inputs, record.seed) == record.result


def draw_of(session: Session, talk_id: int) -> ChatDraw | None:
    return session.scalars(select(ChatDraw).where(ChatDraw.talk_id == talk_id)).first()


def wish_counts(session: Session, talk_id: int) -> dict[int, list[int]]:
    """Before a draw, for organizers: per slot id, how many asked for it first, second, third."""
    counts: dict[int, list[int]] = {}
    rows = session.execute(
        select(ChatRequest.slot_id, ChatRequest.rank, func.count(ChatRequest.id))
        .where(ChatRequest.talk_id == talk_id, ChatRequest.rank <= MAX_WISHES)
        .group_by(ChatRequest.slot_id, ChatRequest.rank)
    ).all()
    for slot_id, rank, count in rows:
        counts.setdefault(slot_id, [0] * MAX_WISHES)[rank - 1] = count
    return counts


def due_draws(session: Session, now: datetime) -> list[int]:
    """Talks whose draw time has come and whose draw has not been made."""
    candidates = session.scalars(
        select(Talk).where(
            Talk.chat_assignment == ChatAssignment.DRAW,
            Talk.ends_at > now - timedelta(days=1),
            ~select(ChatDraw.id).where(ChatDraw.talk_id == Talk.id).exists(),
            select(ChatSlot.id).where(ChatSlot.talk_id == Talk.id).exists(),
        )
    ).all()
    return [talk.id for talk in candidates if (when := draw_at(talk)) is not None and when <= now]


# The speaker's schedule ------------------------------------------------------------------


def speaker_link_nonce(session: Session, talk_id: int, *, revoke: bool = False) -> str:
    """A new nonce for the speaker's link (the old link stops working), or none at all (revoked)."""
    talk = _lock(session, talk_id)
    talk.chat_link_nonce = "" if revoke else secrets.token_hex(8)
    return talk.chat_link_nonce


def schedule_for(session: Session, talk: Talk, speaker_name: str) -> list[tuple[ChatSlot, list[ChatBooking]]]:
    """A speaker's chats with the people booked: the slots with their name, and those not tied to
    one speaker (a talk with one speaker, slots made before a second was added); "" = every slot."""
    everyone = bookings_by_slot(session, talk.id)  # by speaker, then time
    if not speaker_name:
        return everyone
    theirs = [(slot, people) for slot, people in everyone if slot.speaker_name in (speaker_name, "")]
    return sorted(theirs, key=lambda item: (item[0].starts_at, item[0].id))


def queue_speaker_schedules_for(session: Session, talk: Talk, now: datetime, *, updated: bool = False) -> int:
    """Email each speaker with an address their schedule (once when chat sign-up closes; again,
    marked as updated, after each change), unless one is still on its way."""
    if not talk.chat_speaker_emails or not session.scalar(select(ChatSlot.id).where(ChatSlot.talk_id == talk.id)):
        return 0
    pending = {
        message.recipient_email
        for message in session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.talk_id == talk.id,
                OutboxMessage.kind == "chat.speaker_schedule",
                OutboxMessage.done_at.is_(None),
            )
        )
    }
    count = 0
    for name, email in sorted(talk.chat_speaker_emails.items()):
        if email in pending or name not in speaker_names(talk):
            continue
        outbox.add(
            session, "chat.speaker_schedule", talk=talk, to=outbox.Recipient(email, name), speaker=name, updated=updated
        )
        count += 1
    if talk.chat_schedule_sent_at is None:
        talk.chat_schedule_sent_at = now
    return count


def schedule_changed(session: Session, talk: Talk) -> None:
    """After chat sign-up closed and the speakers got their schedule, a change sends it again."""
    if talk.chat_schedule_sent_at is not None:
        queue_speaker_schedules_for(session, talk, datetime.now(UTC), updated=True)


def queue_closed_schedules(session: Session, now: datetime) -> int:
    """The periodic job: talks whose chat sign-up has closed send their speakers the schedule."""
    locks.begin_write(session)
    # Each talk locked (in one order) and read as it is once locked: a second consumer running
    # this job at the same moment waits, then finds the schedule marked sent and skips the talk.
    talks = session.scalars(
        locks.each_locked(
            select(Talk).where(
                Talk.chat_schedule_sent_at.is_(None),
                Talk.ends_at > now - timedelta(days=1),
                select(ChatSlot.id).where(ChatSlot.talk_id == Talk.id).exists(),
            ),
            Talk,
        )
    ).all()
    count = 0
    for talk in talks:
        if talk.chat_schedule_sent_at is None and not is_open(talk, now) and not talk.is_cancelled:
            count += queue_speaker_schedules_for(session, talk, now)
    return count


# Reactions -------------------------------------------------------------------------------


def free_the_chat(change: SignupChange) -> None:
    """A cancelled sign-up frees its chat (and drops its wishes); the person is told."""
    if change.after != RsvpStatus.CANCELLED:
        return
    session = change.session
    session.execute(delete(ChatRequest).where(ChatRequest.rsvp_id == change.rsvp.id))
    booking = booking_of(session, change.rsvp.id)
    if booking is not None:
        _free(session, change.talk, change.rsvp, booking, reason="signup_cancelled")


def free_the_chat_of_the_erased(session: Session, talk: Talk, rsvp: Rsvp, cause: Cause, now: datetime) -> None:
    """Before an erased sign-up is deleted (its booking with it): one last message takes the chat
    out of their calendar, carrying only what that needs (emptied once sent)."""
    booking = booking_of(session, rsvp.id)
    if booking is None:
        return
    slot = booking.slot
    session.delete(booking)
    session.flush()
    if cause is Cause.ERASED and now < slot.starts_at and not rsvp.email.endswith(signups.WALK_IN_DOMAIN):
        outbox.add(
            session,
            "chat.erased",
            talk=talk,
            rsvp_id=rsvp.id,
            email=rsvp.email,
            name=rsvp.name,
            slot=snapshot(slot),
            sequence=rsvp.chat_sequence + 1,
        )
    schedule_changed(session, talk)


def follow_the_talk(change: TalkChange) -> None:
    """A talk that moves takes its chats along; a cancelled talk cancels them in people's
    calendars (the bookings stay, should it be reinstated); a reinstated one puts them back."""
    if change.before is None or change.after is None:
        return
    session, talk = change.session, change.talk
    shift = change.after.starts_at - change.before.starts_at
    if change.cause is TalkCause.CANCELLED or (change.what == "cancelled"):
        for slot, people in bookings_by_slot(session, talk.id):
            for booking in people:
                booking.rsvp.chat_sequence += 1
                _tell(session, "chat.cancelled", talk, booking.rsvp, slot, reason="talk_cancelled")
        return
    reinstated = change.before.status == TalkStatus.CANCELLED and change.after.status != TalkStatus.CANCELLED
    if not shift and not reinstated:
        return
    for slot, people in bookings_by_slot(session, talk.id):
        if shift:
            slot.starts_at = slot.starts_at + shift
            slot.sequence += 1
        _tell_moved(session, talk, slot, people, reason="talk_moved" if shift else "talk_reinstated")
    if shift:
        if talk.chat_closes_at is not None:
            talk.chat_closes_at = talk.chat_closes_at + shift
        if talk.chat_draw_at is not None:
            talk.chat_draw_at = talk.chat_draw_at + shift
    session.flush()
    schedule_changed(session, talk)


signups.on_signup_change(free_the_chat)
signups.on_signup_erasing(free_the_chat_of_the_erased)
talk_changes.on_talk_change(follow_the_talk)
