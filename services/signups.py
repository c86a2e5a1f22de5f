"""RSVPs: seats in the room, the waiting list, online places. The state machine lives here.

Every change runs with the talk's row locked (SELECT ... FOR UPDATE on PostgreSQL, a write
transaction taken at BEGIN on SQLite), so two people clicking at once are served one after
the other: capacity is never checked by counting and then inserting in separate steps.

States: SEATED (a seat in the room), WAITING (in line for a seat, may follow online
meanwhile), ONLINE, CANCELLED. A seat that frees up goes at once to the first in line.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Rsvp, RsvpStatus, Series, Talk, TalkStatus
from services import addresses, locks, outbox
from services.text import list_items, one_line

# Walk-ins added without an address get one at this reserved domain (RFC 2606): never mailed.
WALK_IN_DOMAIN = "@walk-in.invalid"


class SignupError(ValueError):
    """Something the person can fix or must know; the message is for them.

    `conflict` marks a refusal caused by the talk's state (closed, full), not by what was typed.
    """

    def __init__(self, message: str, field: str | None = None, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.conflict = conflict


@dataclass
class SignupResult:
    rsvp: Rsvp
    created: bool  # False: this email already had an RSVP, which was left as it was


@dataclass
class Counts:
    seated: int
    waiting: int
    online: int
    seats: int | None

    @property
    def overflow(self) -> int:
        """People seated beyond the current capacity (it was lowered below them)."""
        return max(0, self.seated - self.seats) if self.seats is not None else 0


# Locking --------------------------------------------------------------------------------

# Kept here for the outbox's deliveries, which take the write lock through this module.
begin_write = locks.begin_write


def _lock_talk(session: Session, talk_id: int) -> Talk:
    try:
        return locks.lock_talk(session, talk_id)
    except locks.TalkGone:
        raise SignupError("This talk no longer exists.") from None


# Rules ----------------------------------------------------------------------------------


def normalise_email(email: str) -> str:
    """The address as kept and mailed (services/addresses.py): one person, one address."""
    try:
        return addresses.deliverable(email)
    except addresses.AddressError:
        raise SignupError("Please enter a valid email address, like name@example.org.", "email") from None


def allowed_domains(series: Series) -> list[str]:
    """The domains listed in the settings, separated by commas, spaces or line breaks."""
    return [d.lower().lstrip("@.") for d in list_items(series.rsvp_domains) if d.strip("@.")]


def domain_allowed(email: str, domains: list[str]) -> bool:
    """An exact domain or one of its subdomains; never a mere substring (evilmcgill.ca is not mcgill.ca)."""
    if not domains:
        return True
    host = email.rsplit("@", 1)[1]
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def signups_open(talk: Talk, now: datetime) -> bool:
    return (
        talk.published
        and talk.status != TalkStatus.CANCELLED
        and talk.rsvp_open
        and now < talk.signup_deadline
        and (talk.room is not None or bool(talk.online_platform))
    )


def modes(talk: Talk) -> list[str]:
    """What a person may choose: the room only when the talk has one, online when it is streamed."""
    choices = []
    if talk.room is not None:
        choices.append("room")
    if talk.online_platform:
        choices.append("online")
    return choices


# Counting ---------------------------------------------------------------------------------


def _count(session: Session, talk: Talk, status: RsvpStatus) -> int:
    return session.scalar(select(func.count(Rsvp.id)).where(Rsvp.talk_id == talk.id, Rsvp.status == status)) or 0


def counts(session: Session, talk: Talk) -> Counts:
    rows = dict(
        session.execute(
            select(Rsvp.status, func.count(Rsvp.id)).where(Rsvp.talk_id == talk.id).group_by(Rsvp.status)
        ).all()
    )
    return Counts(
        seated=rows.get(RsvpStatus.SEATED, 0),
        waiting=rows.get(RsvpStatus.WAITING, 0),
        online=rows.get(RsvpStatus.ONLINE, 0),
        seats=talk.seats,
    )


def rsvp_of(session: Session, talk: Talk, rsvp_id: int) -> Rsvp | None:
    """A sign-up to this talk; None when there is none by that number, or it is another talk's."""
    rsvp = session.get(Rsvp, rsvp_id)
    return rsvp if rsvp is not None and rsvp.talk_id == talk.id else None


def waiting_position(session: Session, rsvp: Rsvp) -> int | None:
    """1 for the first in line; None when not waiting."""
    if rsvp.status != RsvpStatus.WAITING:
        return None
    ahead = session.scalar(
        select(func.count(Rsvp.id)).where(
            Rsvp.talk_id == rsvp.talk_id,
            Rsvp.status == RsvpStatus.WAITING,
            (Rsvp.queued_at < rsvp.queued_at) | ((Rsvp.queued_at == rsvp.queued_at) & (Rsvp.id < rsvp.id)),
        )
    )
    return (ahead or 0) + 1


def active_rsvp(session: Session, talk: Talk, email: str) -> Rsvp | None:
    return session.scalars(
        select(Rsvp).where(Rsvp.talk_id == talk.id, Rsvp.email == email, Rsvp.status != RsvpStatus.CANCELLED)
    ).first()


def _has_free_seat(session: Session, talk: Talk) -> bool:
    seats = talk.seats
    return seats is None or _count(session, talk, RsvpStatus.SEATED) < seats


def _online_has_room(session: Session, talk: Talk) -> bool:
    if talk.online_limit is None:
        return True
    in_line = _count(session, talk, RsvpStatus.WAITING)  # they may follow online too
    return _count(session, talk, RsvpStatus.ONLINE) + in_line < talk.online_limit


# Changes ----------------------------------------------------------------------------------


def sign_up(
    session: Session,
    talk_id: int,
    *,
    name: str,
    email: str,
    mode: str,
    now: datetime,
    affiliation: str = "",
    question: str = "",
) -> SignupResult:
    """Add an RSVP, or find the one this email already has (which is never changed from here:
    anyone can type anyone's email; the owner gets their manage link again instead)."""
    talk = _lock_talk(session, talk_id)
    address = normalise_email(email)
    name = one_line(name)
    if not name:
        raise SignupError("Please enter your name.", "name")
    domains = allowed_domains(talk.series)
    if not domain_allowed(address, domains):
        listed = ", ".join(domains)
        raise SignupError(f"Sign-up is open to addresses at {listed}. Please use your address there.", "email")
    if not signups_open(talk, now):
        raise SignupError("Sign-up for this talk is closed.", conflict=True)
    if mode not in modes(talk):
        raise SignupError("Please choose how you will attend.", "mode")
    # Every refusal comes before the look-up of the address, so that what the person typing sees
    # depends on the talk and on what they typed, never on whether the address is signed up.
    if mode == "online" and not _online_has_room(session, talk):
        raise SignupError("The online places for this talk are all taken.", "mode", conflict=True)
    existing = active_rsvp(session, talk, address)
    if existing is not None:
        outbox.add(session, "rsvp.manage_link", rsvp=existing, talk=talk)
        return SignupResult(existing, created=False)
    if mode == "room":
        status = RsvpStatus.SEATED if _has_free_seat(session, talk) else RsvpStatus.WAITING
    else:
        status = RsvpStatus.ONLINE
    rsvp = Rsvp(
        talk=talk,
        email=address,
        name=name[:200],
        affiliation=one_line(affiliation)[:300] if talk.ask_affiliation else "",
        question=question.strip()[:4000] if talk.ask_question else "",
        status=status,
        queued_at=now,
        token_nonce=secrets.token_hex(8),
        sequence=0,
    )
    try:
        # Added inside the savepoint: begin_nested() flushes what is pending before it opens
        # the savepoint, so an INSERT pending before it would fail outside it and abort the
        # whole unit of work (on PostgreSQL) instead of just the savepoint.
        with session.begin_nested():
            session.add(rsvp)
            session.flush()
    except IntegrityError:
        # The unique index caught a second active RSVP for this email: treat it as a repeat.
        # (Rolling the savepoint back has taken `rsvp` out of the session.)
        existing = active_rsvp(session, talk, address)
        if existing is None:
            raise
        outbox.add(session, "rsvp.manage_link", rsvp=existing, talk=talk)
        return SignupResult(existing, created=False)
    outbox.add(session, "rsvp.confirmation", rsvp=rsvp, talk=talk)
    return SignupResult(rsvp, created=True)


def fill_seats(session: Session, talk: Talk, now: datetime) -> list[Rsvp]:
    """Give free seats to the first in line, in order; each promoted person is told.

    Only before the talk starts: a seat that frees up during or after it is no use to anyone,
    and "A seat is yours" for a talk that is over would only mislead.
    """
    promoted: list[Rsvp] = []
    if now >= talk.starts_at:
        return promoted
    while _has_free_seat(session, talk):
        first = session.scalars(
            select(Rsvp)
            .where(Rsvp.talk_id == talk.id, Rsvp.status == RsvpStatus.WAITING)
            .order_by(Rsvp.queued_at, Rsvp.id)
            .limit(1)
            .execution_options(populate_existing=True)  # its sequence may have moved since it was loaded
        ).first()
        if first is None:
            break
        first.status = RsvpStatus.SEATED
        first.sequence += 1
        session.flush()
        outbox.add(session, "rsvp.promoted", rsvp=first, talk=talk)
        promoted.append(first)
    return promoted


def seat_waiting_lists(session: Session, room_id: int, now: datetime) -> list[Rsvp]:
    """A room with more seats: its upcoming talks that use the room's capacity seat their waiting lists."""
    promoted: list[Rsvp] = []
    upcoming = session.scalars(
        select(Talk.id).where(Talk.room_id == room_id, Talk.room_capacity.is_(None), Talk.ends_at > now)
    ).all()
    for talk_id in upcoming:
        talk = _lock_talk(session, talk_id)
        if not talk.is_cancelled:
            promoted += fill_seats(session, talk, now)
    return promoted


def _locked_rsvp(session: Session, rsvp_id: int) -> tuple[Talk, Rsvp]:
    talk_id = session.scalar(select(Rsvp.talk_id).where(Rsvp.id == rsvp_id))
    if talk_id is None:
        raise SignupError("This sign-up no longer exists.")
    talk = _lock_talk(session, talk_id)
    # Read again under the lock: the copy loaded before it (the manage page's) may be stale,
    # e.g. a waiting person promoted meanwhile by someone else's cancellation.
    rsvp = session.get(Rsvp, rsvp_id, populate_existing=True)
    if rsvp is None:
        raise SignupError("This sign-up no longer exists.")
    return talk, rsvp


def change_mode(session: Session, rsvp_id: int, mode: str, now: datetime) -> Rsvp:
    """The attendee switches between the room and online, from their manage link."""
    talk, rsvp = _locked_rsvp(session, rsvp_id)
    if rsvp.status == RsvpStatus.CANCELLED:
        raise SignupError("This sign-up was cancelled; sign up again from the talk's page.")
    if now >= talk.starts_at:
        raise SignupError("The talk has started; your sign-up can no longer change.")
    if mode not in modes(talk):
        raise SignupError("This talk cannot be followed that way.", "mode")
    wants_room = rsvp.status in (RsvpStatus.SEATED, RsvpStatus.WAITING)
    if mode == "room" and not wants_room:
        rsvp.status = RsvpStatus.SEATED if _has_free_seat(session, talk) else RsvpStatus.WAITING
        rsvp.queued_at = now  # a new request for a seat joins the end of the line
    elif mode == "online" and wants_room:
        was_seated = rsvp.status == RsvpStatus.SEATED
        # Someone waiting already counts against the online places; someone seated does not.
        if was_seated and not _online_has_room(session, talk):
            raise SignupError("The online places for this talk are all taken.", "mode", conflict=True)
        rsvp.status = RsvpStatus.ONLINE
        session.flush()
        if was_seated:
            fill_seats(session, talk, now)
    else:
        return rsvp
    rsvp.sequence += 1
    session.flush()
    outbox.add(session, "rsvp.updated", rsvp=rsvp, talk=talk)
    return rsvp


def cancel(session: Session, rsvp_id: int, now: datetime, *, by_organizer: bool = False) -> Rsvp:
    """Cancel a sign-up. Attendees may until the talk starts; organizers may at any time (their
    lists, after the fact), but from the start on nobody is promoted in its place."""
    talk, rsvp = _locked_rsvp(session, rsvp_id)
    if rsvp.status == RsvpStatus.CANCELLED:
        return rsvp
    if not by_organizer and now >= talk.starts_at:
        raise SignupError(
            "The talk has started, so this sign-up can no longer be cancelled. "
            "You can still erase it (see “Your data”).",
            conflict=True,
        )
    was_seated = rsvp.status == RsvpStatus.SEATED
    rsvp.status = RsvpStatus.CANCELLED
    rsvp.sequence += 1
    session.flush()
    outbox.add(session, "rsvp.cancelled", rsvp=rsvp, talk=talk, by_organizer=by_organizer)
    if was_seated:
        fill_seats(session, talk, now)
    return rsvp


def new_manage_link(session: Session, rsvp_id: int) -> Rsvp:
    """Retire every link to this sign-up (one was forwarded, say) and email the owner a new one."""
    talk, rsvp = _locked_rsvp(session, rsvp_id)
    rsvp.token_nonce = secrets.token_hex(8)
    outbox.add(session, "rsvp.manage_link", rsvp=rsvp, talk=talk, renewed=True)
    return rsvp


def delete(session: Session, rsvp_id: int, now: datetime) -> None:
    """The attendee erases their sign-up altogether (privacy); a seat it held goes to the next in line."""
    talk, rsvp = _locked_rsvp(session, rsvp_id)
    was_seated = rsvp.status == RsvpStatus.SEATED
    outbox.forget_rsvp(session, rsvp)
    if rsvp.status != RsvpStatus.CANCELLED and not rsvp.email.endswith(WALK_IN_DOMAIN):
        # Their calendar still holds the event: one last message takes it out. It carries only
        # what that needs, and is emptied once sent.
        outbox.add(
            session,
            "rsvp.erased",
            talk=talk,
            rsvp_id=rsvp.id,
            email=rsvp.email,
            name=rsvp.name,
            sequence=rsvp.sequence + 1,
        )
    session.delete(rsvp)
    session.flush()
    if was_seated:
        fill_seats(session, talk, now)


def move(session: Session, rsvp_id: int, status: RsvpStatus, now: datetime) -> Rsvp:
    """An organizer moves someone between the lists. Seating someone may exceed capacity on purpose."""
    talk, rsvp = _locked_rsvp(session, rsvp_id)
    if status == rsvp.status:
        return rsvp
    if status == RsvpStatus.CANCELLED:
        return cancel(session, rsvp_id, now, by_organizer=True)
    if rsvp.status == RsvpStatus.CANCELLED and active_rsvp(session, talk, rsvp.email) is not None:
        raise SignupError(f"{rsvp.email} has signed up again since; change that sign-up instead.")
    if status == RsvpStatus.WAITING:
        rsvp.queued_at = now
        if rsvp.status != RsvpStatus.SEATED and _has_free_seat(session, talk):
            status = RsvpStatus.SEATED  # nobody waits while a seat is free
    rsvp.status = status
    rsvp.sequence += 1
    session.flush()
    outbox.add(session, "rsvp.updated", rsvp=rsvp, talk=talk, by_organizer=True)
    # A seat freed, or someone put in line while a seat is free: the first in line takes it.
    fill_seats(session, talk, now)
    return rsvp


def set_capacity(
    session: Session, talk_id: int, seats: int | None, online_limit: int | None, now: datetime
) -> list[Rsvp]:
    """New limits for a talk. Raising seats promotes people in line; lowering moves nobody out."""
    talk = _lock_talk(session, talk_id)
    talk.room_capacity = seats
    talk.online_limit = online_limit
    session.flush()
    return fill_seats(session, talk, now)


def add_walk_in(session: Session, talk_id: int, *, name: str, email: str, now: datetime) -> Rsvp:
    """Someone at the door: seated and checked in at once (the room has them, whatever the count)."""
    talk = _lock_talk(session, talk_id)
    name = one_line(name)
    if not name:
        raise SignupError("Please enter the person's name.", "name")
    address = normalise_email(email) if email.strip() else f"walk-in-{secrets.token_hex(6)}{WALK_IN_DOMAIN}"
    existing = active_rsvp(session, talk, address)
    if existing is not None:
        existing.checked_in_at = existing.checked_in_at or now
        return existing
    rsvp = Rsvp(
        talk=talk,
        email=address,
        name=name[:200],
        status=RsvpStatus.SEATED,
        queued_at=now,
        token_nonce=secrets.token_hex(8),
        walk_in=True,
        checked_in_at=now,
        sequence=0,
    )
    session.add(rsvp)
    session.flush()
    return rsvp


def check_in(session: Session, rsvp_id: int, now: datetime, *, undo: bool = False) -> Rsvp:
    rsvp = session.get(Rsvp, rsvp_id)
    if rsvp is None or rsvp.status == RsvpStatus.CANCELLED:
        raise SignupError("This sign-up no longer exists.")
    rsvp.checked_in_at = None if undo else (rsvp.checked_in_at or now)
    return rsvp


def notify_talk_changed(session: Session, talk: Talk, what: str) -> int:
    """Tell everyone signed up that the talk moved, changed room or was cancelled (with a new invite)."""
    kind = "talk.cancelled" if talk.status == TalkStatus.CANCELLED else "talk.changed"
    people = [
        rsvp
        for rsvp in session.scalars(
            select(Rsvp).where(Rsvp.talk_id == talk.id, Rsvp.status != RsvpStatus.CANCELLED).order_by(Rsvp.id)
        )
        if not rsvp.email.endswith(WALK_IN_DOMAIN)
    ]
    for rsvp in people:
        outbox.add(session, kind, rsvp=rsvp, talk=talk, what=what)
    return len(people)
