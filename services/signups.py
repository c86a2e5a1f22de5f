"""RSVPs: seats in the room, the waiting list, online places. The state machine lives here.

Every change runs with the talk's row locked (SELECT ... FOR UPDATE on PostgreSQL, a write
transaction taken at BEGIN on SQLite), so two people clicking at once are served one after
the other: capacity is never checked by counting and then inserting in separate steps.

States: SEATED (a seat in the room), WAITING (in line for a seat, may follow online
meanwhile), ONLINE, CANCELLED, and "erased" (the row is gone). A seat that frees up goes at
once to the first in line.

Every change of a sign-up's state goes through `_transition`, which writes it and then calls
the reactions registered with `on_signup_change`, in the same unit of work: today's are the
attendee's email and seating the next in line (both at the end of this module).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import Insert, bindparam, case, func, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from models import ACTIVE_RSVP, Rsvp, RsvpStatus, Series, Talk, TalkStatus, active_meeting_id_of
from services import addresses, locks, outbox, rows
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


def _lock_talk(session: Session, talk_id: int) -> Talk:
    try:
        return locks.lock_talk(session, talk_id)
    except locks.TalkGone:
        raise SignupError("This talk no longer exists.") from None


# Changes and their reactions ------------------------------------------------------------

ERASED: Literal["erased"] = "erased"  # the state after an erasure: the row is gone


class Cause(StrEnum):
    """Why a sign-up changed."""

    SIGNED_UP = "signed up"
    WALKED_IN = "walked in"  # added at the door by an organizer, seated and checked in
    PROMOTED = "promoted"  # a seat freed up and went to the first in line
    SWITCHED_MODE = "switched mode"  # the attendee moved between the room and online
    CANCELLED = "cancelled"  # by the attendee, or by an organizer (details: by_organizer)
    MOVED = "moved"  # an organizer moved the sign-up between the lists
    ERASED = "erased"  # the attendee erased their data
    PURGED = "purged"  # the retention period after the talk is over
    CHECKED_IN = "checked in"
    CHECK_IN_UNDONE = "check-in undone"


@dataclass(frozen=True)
class SignupChange:
    """One change of one sign-up, as its reactions see it, once written (not yet committed).

    An erased sign-up is deleted from the session already; its object keeps its fields.
    """

    session: Session
    rsvp: Rsvp
    talk: Talk
    before: RsvpStatus | None  # None: the sign-up is new
    after: RsvpStatus | Literal["erased"]
    cause: Cause
    now: datetime
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def frees_seat(self) -> bool:
        return self.before == RsvpStatus.SEATED and self.after != RsvpStatus.SEATED


SignupHandler = Callable[[SignupChange], None]
_signup_handlers: list[SignupHandler] = []
CHANGES_KEY = "lectern.signups.changes"  # in session.info: changes whose reactions are under way


def on_signup_change(handler: SignupHandler) -> SignupHandler:
    """Call `handler` after every change of a sign-up, in the same unit of work.

    Handlers run in the order they were registered. One that raises aborts the change: the
    exception reaches the caller, whose unit of work is rolled back, so nothing is half-written.
    """
    if handler not in _signup_handlers:
        _signup_handlers.append(handler)
    return handler


def remove_signup_handler(handler: SignupHandler) -> None:
    if handler in _signup_handlers:
        _signup_handlers.remove(handler)


# Called just before an erased sign-up's row is deleted (with the database's cascade taking
# what hangs on it, a chat booking say), for what must be read before it is gone.
ErasingHandler = Callable[[Session, Talk, Rsvp, Cause, datetime], None]
_erasing_handlers: list[ErasingHandler] = []


def on_signup_erasing(handler: ErasingHandler) -> ErasingHandler:
    """Call `handler(session, talk, rsvp, cause, now)` before a sign-up is erased or purged."""
    if handler not in _erasing_handlers:
        _erasing_handlers.append(handler)
    return handler


def _transition(
    session: Session,
    talk: Talk,
    rsvp: Rsvp,
    to: RsvpStatus | Literal["erased"],
    cause: Cause,
    now: datetime,
    *,
    new: bool = False,
    **details: Any,
) -> SignupChange:
    """Write one change of a sign-up's state, then call the reactions registered for it.

    A change of state (not a check-in, not a new or erased sign-up) is a new version of the
    attendee's invite: its sequence grows. An erasure also drops what the outbox still owed them.
    """
    before = None if new else rsvp.status
    if to == ERASED:
        for erasing in list(_erasing_handlers):
            erasing(session, talk, rsvp, cause, now)
        outbox.forget_rsvp(session, rsvp)
        session.delete(rsvp)
    elif to != before:
        if before is not None:
            rsvp.sequence += 1
        if rsvp.status != to:  # a new sign-up is written with its state: nothing more to write
            rsvp.status = to
    session.flush()
    change = SignupChange(session, rsvp, talk, before, to, cause, now, details)
    _react(session, change)
    return change


def _react(session: Session, change: SignupChange) -> None:
    """Call the handlers, change after change in the order the changes happened.

    A change made by a reaction (the promotion a cancellation frees) waits until every handler
    has seen the change that caused it, so each handler sees the changes in order.
    """
    queue: list[SignupChange] = session.info.setdefault(CHANGES_KEY, [])
    queue.append(change)
    if len(queue) > 1:
        return  # a reaction made this change: the loop below, further up, gets to it
    try:
        while queue:
            for handler in list(_signup_handlers):
                handler(queue[0])
            queue.pop(0)
    finally:
        queue.clear()  # after a failure, nothing is left for the next unit of work


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


# Built once, on the table: the statements every sign-up runs under the talk's lock. (Building
# a statement costs about as much as running it, and one on the mapped class costs the ORM's
# work on top; the count and the id need none of it.)
_RSVP = Rsvp.__table__
_COUNT = select(func.count(_RSVP.c.id)).where(
    _RSVP.c.talk_id == bindparam("talk_id"), _RSVP.c.status == bindparam("status")
)
# The talk's seats taken, as the database keeps them (`Talk.seats_taken`, up to date with this
# transaction's own flushed changes): no count, whatever the number of sign-ups.
_TALK = Talk.__table__
_SEATS_TAKEN = select(_TALK.c.seats_taken).where(_TALK.c.id == bindparam("seat_talk"))
_ACTIVE_ID = select(_RSVP.c.id).where(
    _RSVP.c.talk_id == bindparam("talk_id"),
    _RSVP.c.email == bindparam("email"),
    _RSVP.c.status != RsvpStatus.CANCELLED,
)


def _count(session: Session, talk: Talk, status: RsvpStatus) -> int:
    return session.scalar(_COUNT, {"talk_id": talk.id, "status": status}) or 0


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
    rsvp_id = session.scalar(_ACTIVE_ID, {"talk_id": talk.id, "email": email})
    return None if rsvp_id is None else session.get(Rsvp, rsvp_id)


def _has_free_seat(session: Session, talk: Talk) -> bool:
    seats = talk.seats
    return seats is None or (session.scalar(_SEATS_TAKEN, {"seat_talk": talk.id}) or 0) < seats


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
    new = Rsvp(
        talk_id=talk.id,
        talk=talk,
        email=address,
        name=name[:200],
        affiliation=one_line(affiliation)[:300] if talk.ask_affiliation else "",
        question=question.strip()[:4000] if talk.ask_question else "",
        queued_at=now,
        token_nonce=secrets.token_hex(8),
        sequence=0,
    )
    # One statement writes the sign-up, unless the address has one (the one-active-sign-up
    # index: no row then), and for the room works out its state from the talk's seats taken
    # (kept by the database's triggers), read in the same statement. The talk is locked, so they
    # cannot change before the commit; on PostgreSQL the statement's snapshot is taken after
    # the lock was granted.
    # It also returns the talk's meeting, read in its snapshot (after the lock: one read with
    # the locked talk would have been taken before waiting for it), for the reactions.
    if mode == "room" and talk.seats is not None:
        written = rows.insert_returning(
            session,
            new,
            _insert_statement(session, seat_if_free=True),
            computed=("status",),
            params={"seat_talk": talk.id, "seats": talk.seats, "meeting_talk": talk.id},
        )
    else:
        new.status = RsvpStatus.SEATED if mode == "room" else RsvpStatus.ONLINE
        statement = _insert_statement(session, seat_if_free=False)
        written = rows.insert_returning(session, new, statement, params={"meeting_talk": talk.id})
    if written is None:
        # Already signed up: the owner is sent their link again, and nothing changes.
        existing = active_rsvp(session, talk, address)
        if existing is None:
            raise RuntimeError("the unique index refused a sign-up for an address not signed up")
        outbox.add(session, "rsvp.manage_link", rsvp=existing, talk=talk)
        return SignupResult(existing, created=False)
    rsvp, (meeting_id,) = written
    set_committed_value(talk, "active_meeting_id", meeting_id)  # services/meetings.py reads it
    _transition(session, talk, rsvp, rsvp.status, Cause.SIGNED_UP, now, new=True)
    return SignupResult(rsvp, created=True)


# A seat while the seats taken are fewer than the talk's seats, else the waiting list.
_SEATED_OR_WAITING = case(
    (_SEATS_TAKEN.scalar_subquery() < bindparam("seats"), literal(RsvpStatus.SEATED.value)),
    else_=literal(RsvpStatus.WAITING.value),
)


def _build_insert(dialect: Any, *, seat_if_free: bool) -> Insert:
    statement = dialect.insert(_RSVP)
    if seat_if_free:
        statement = statement.values(status=_SEATED_OR_WAITING)
    statement = statement.on_conflict_do_nothing(
        index_elements=[_RSVP.c.talk_id, _RSVP.c.email], index_where=text(ACTIVE_RSVP)
    )
    meeting = active_meeting_id_of(bindparam("meeting_talk"))
    if seat_if_free:
        return statement.returning(_RSVP.c.id, _RSVP.c.status, meeting)
    return statement.returning(_RSVP.c.id, meeting)


_INSERTS = {
    (dialect.dialect.name, seat_if_free): _build_insert(dialect, seat_if_free=seat_if_free)
    for dialect in (sqlite, postgresql)
    for seat_if_free in (False, True)
}


def _insert_statement(session: Session, *, seat_if_free: bool) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING on the one-active-sign-up index, RETURNING the new id
    (and, with `seat_if_free`, the state it worked out: seated or waiting), then the id of the
    talk's meeting."""
    return _INSERTS[(session.get_bind().dialect.name, seat_if_free)]


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
        _transition(session, talk, first, RsvpStatus.SEATED, Cause.PROMOTED, now)
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


def locked_rsvp(session: Session, rsvp_id: int) -> tuple[Talk, Rsvp]:
    """A sign-up and its talk, read again under the talk's lock (for changes that hang on it)."""
    return _locked_rsvp(session, rsvp_id)


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
        to = RsvpStatus.SEATED if _has_free_seat(session, talk) else RsvpStatus.WAITING
        rsvp.queued_at = now  # a new request for a seat joins the end of the line
    elif mode == "online" and wants_room:
        # Someone waiting already counts against the online places; someone seated does not.
        if rsvp.status == RsvpStatus.SEATED and not _online_has_room(session, talk):
            raise SignupError("The online places for this talk are all taken.", "mode", conflict=True)
        to = RsvpStatus.ONLINE
    else:
        return rsvp
    _transition(session, talk, rsvp, to, Cause.SWITCHED_MODE, now)
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
    _transition(session, talk, rsvp, RsvpStatus.CANCELLED, Cause.CANCELLED, now, by_organizer=by_organizer)
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
    _transition(session, talk, rsvp, ERASED, Cause.ERASED, now)


def purge_attendee_data(session: Session, now: datetime, keep: timedelta) -> int:
    """Erase the sign-ups of talks that ended longer ago than the retention period."""
    locks.begin_write(session)
    # Locked: a second consumer running this job at the same moment waits, then finds them gone.
    old = session.scalars(
        locks.each_locked(
            select(Rsvp).join(Talk).where(Talk.ends_at < now - keep),
            Rsvp,
        )
    ).all()
    for rsvp in old:
        _transition(session, rsvp.talk, rsvp, ERASED, Cause.PURGED, now)
    return len(old)


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
    _transition(session, talk, rsvp, status, Cause.MOVED, now)
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
        _check_in(session, talk, existing, now, undo=False)
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
    _transition(session, talk, rsvp, RsvpStatus.SEATED, Cause.WALKED_IN, now, new=True)
    return rsvp


def check_in(session: Session, rsvp_id: int, now: datetime, *, undo: bool = False) -> Rsvp:
    rsvp = session.get(Rsvp, rsvp_id)
    if rsvp is None or rsvp.status == RsvpStatus.CANCELLED:
        raise SignupError("This sign-up no longer exists.")
    _check_in(session, rsvp.talk, rsvp, now, undo=undo)
    return rsvp


def _check_in(session: Session, talk: Talk, rsvp: Rsvp, now: datetime, *, undo: bool) -> None:
    """Arrived (or not, after all): the state stays, so the invite does not change; a no-op is no change."""
    checked_in_at = None if undo else (rsvp.checked_in_at or now)
    if checked_in_at == rsvp.checked_in_at:
        return
    rsvp.checked_in_at = checked_in_at
    _transition(session, talk, rsvp, rsvp.status, Cause.CHECK_IN_UNDONE if undo else Cause.CHECKED_IN, now)


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


# Today's reactions to sign-up changes -------------------------------------------------------


def email_the_attendee(change: SignupChange) -> None:
    """What the attendee is told of a change, through the outbox (sent after the commit)."""
    session, rsvp, talk = change.session, change.rsvp, change.talk
    if change.cause is Cause.SIGNED_UP:
        outbox.add(session, "rsvp.confirmation", rsvp=rsvp, talk=talk)
    elif change.cause is Cause.PROMOTED:
        outbox.add(session, "rsvp.promoted", rsvp=rsvp, talk=talk)
    elif change.cause is Cause.SWITCHED_MODE:
        outbox.add(session, "rsvp.updated", rsvp=rsvp, talk=talk)
    elif change.cause is Cause.MOVED:
        outbox.add(session, "rsvp.updated", rsvp=rsvp, talk=talk, by_organizer=True)
    elif change.cause is Cause.CANCELLED:
        by_organizer = bool(change.details.get("by_organizer", False))
        outbox.add(session, "rsvp.cancelled", rsvp=rsvp, talk=talk, by_organizer=by_organizer)
    elif (
        change.cause is Cause.ERASED
        and change.before != RsvpStatus.CANCELLED
        and not rsvp.email.endswith(WALK_IN_DOMAIN)
    ):
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


def seat_the_next_in_line(change: SignupChange) -> None:
    """A seat that frees up goes to the first in line (fill_seats: only before the talk starts).

    An organizer's move also looks at the line: someone put in line while a seat is free takes it.
    """
    if change.frees_seat or change.cause is Cause.MOVED:
        fill_seats(change.session, change.talk, change.now)


on_signup_change(email_the_attendee)
on_signup_change(seat_the_next_in_line)
