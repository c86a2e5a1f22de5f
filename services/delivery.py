"""Doing what the outbox says is owed, one handler per kind of work.

services/outbox.py declares the kinds and names each one's handler; HANDLERS below holds them
by that name. Claiming a message, leasing it while its work is done, backing off after a
failure and giving up stay here, once for every kind: a handler only does its own work and
says how it went (a `Result`). The handlers send emails: to attendees about their sign-up or their
chat with the speaker, to speakers their chat schedule, and a talk's announcement to mailing lists.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.mail import Mailer, MailError
from adapters.meetings import MeetingError, MeetingProvider, MeetingUnavailable, Registration
from models import (
    Meeting,
    MeetingStatus,
    OutboxMessage,
    Registrant,
    RegistrantStatus,
    Rsvp,
    RsvpStatus,
    Talk,
    TalkStatus,
)
from services import announcement, chat_mail, chats, mail_text, meetings, outbox
from services.locks import begin_write, each_locked
from services.signups import WALK_IN_DOMAIN, waiting_position

log = logging.getLogger(__name__)

# Messages that still make sense once the sign-up is cancelled.
STILL_DUE_AFTER_CANCEL = {"rsvp.cancelled", "talk.cancelled", "rsvp.erased"}

# Messages that only make sense before the talk starts.
NOT_AFTER_THE_START = {"rsvp.promoted"}

LinksFor = Callable[[Talk, Rsvp], mail_text.Links]
# The links in a speaker's email: to the talk, and to their schedule (speaker's name on the talk).
SpeakerLinksFor = Callable[[Talk, str], chat_mail.SpeakerLinks]
# Another host's clock may run a little ahead of this one's: a message it just wrote is due here.
CLOCK_TOLERANCE = timedelta(seconds=30)


class Outcome(enum.Enum):
    DONE = "done"
    NOTHING_TO_DO = "nothing to do"
    TRY_AGAIN = "failed, try again later"
    GIVE_UP = "failed for good"


# Run in the unit of work that records the result, e.g. to add the messages that follow.
FollowUp = Callable[[Session, OutboxMessage], None]


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    note: str  # what happened, for the log: ids and words, never an attendee's address
    error: str = ""  # why it failed, kept on the message for organizers
    then: FollowUp | None = None
    not_before: datetime | None = None  # with TRY_AGAIN: the other side said when to come back


def done(note: str = "sent", then: FollowUp | None = None) -> Result:
    return Result(Outcome.DONE, note, then=then)


def nothing_to_do(note: str) -> Result:
    return Result(Outcome.NOTHING_TO_DO, note)


def try_again(error: str, note: str = "failed, will try again", *, not_before: datetime | None = None) -> Result:
    return Result(Outcome.TRY_AGAIN, note, error, not_before=not_before)


def fail_for_good(error: str, note: str = "failed for good") -> Result:
    return Result(Outcome.GIVE_UP, note, error)


@dataclass(frozen=True)
class Tools:
    """What handlers reach the outside world with."""

    mailer: Mailer
    links_for: LinksFor
    render: mail_text.Render
    speaker_links_for: SpeakerLinksFor | None = None
    meetings: MeetingProvider | None = None  # the configured meeting provider (Zoom, the fake one)


# The work itself, run once the claim is committed, with no transaction open.
Work = Callable[[], Result]
# Called with the message claimed and locked, in the claim's unit of work (where it may add
# messages): decides at once (a Result) or returns the Work to do outside any transaction.
Handler = Callable[[Session, OutboxMessage, Tools, datetime], "Result | Work"]
Enqueue = Callable[[list[int]], None]

HANDLERS: dict[str, Handler] = {}


def deliver(
    session: Session,
    message_id: int,
    *,
    mailer: Mailer,
    links_for: LinksFor,
    render: mail_text.Render,
    now: datetime,
    enqueue: Enqueue | None = None,
    speaker_links_for: SpeakerLinksFor | None = None,
    meetings: MeetingProvider | None = None,
) -> str:
    """Do the work of one owed message; idempotent. Returns what happened, for the log.

    Three short units of work: claim the message (under the write lock, so that two workers
    given the same id cannot both take it), do the work with no transaction open, record the
    result. A transaction held open across the work would, on SQLite, fail to commit whenever
    anyone else wrote meanwhile, leaving a message that was sent marked as owed: sent twice.

    `enqueue` receives the ids of messages that can go now (added by a handler, or waiting for
    this one); without it the sweep finds them.
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
    if (first := outbox.waiting_for(message, now)) is not None:
        session.rollback()
        return f"waiting for outbox message {first.id}"
    kind = outbox.kind_of(message)
    handler = HANDLERS.get(kind.handler) if kind else None
    if handler is None:  # written by a version that knew this kind: no retry can help
        return _record(session, message, fail_for_good(f"unknown kind {message.kind!r}", "unknown kind"), now, enqueue)
    try:
        decided = handler(session, message, Tools(mailer, links_for, render, speaker_links_for, meetings), now)
    except Exception as error:  # a bug or bad data: back off instead of failing every sweep
        log.exception("outbox message %s (%s) could not be handled", message_id, message.kind)
        session.rollback()
        return _record_again(session, message_id, try_again(f"could not be handled: {error!r}"), now, enqueue)
    if isinstance(decided, Result):
        return _record(session, message, decided, now, enqueue)
    outbox.lease(message, now)
    _commit(session, outbox.take_pending_ids(session), enqueue)

    try:
        result = decided()
    except Exception as error:
        log.exception("outbox message %s (%s) failed", message_id, kind.name if kind else message.kind)
        result = try_again(repr(error))
    return _record_again(session, message_id, result, now, enqueue)


def _record(session: Session, message: OutboxMessage, result: Result, now: datetime, enqueue: Enqueue | None) -> str:
    """Record how the work went, in the open unit of work, and commit it."""
    if result.outcome in (Outcome.DONE, Outcome.NOTHING_TO_DO):
        outbox.mark_done(message, now)
    elif result.outcome == Outcome.TRY_AGAIN:
        outbox.mark_failed(message, result.error, now, not_before=result.not_before)
    else:
        outbox.give_up(message, result.error, now)
    if result.then is not None:
        result.then(session, message)
    ids = outbox.take_pending_ids(session)
    if message.done_at is not None:
        ids += outbox.waiting_on(session, message.id)
    _commit(session, ids, enqueue)
    return result.note


def _record_again(session: Session, message_id: int, result: Result, now: datetime, enqueue: Enqueue | None) -> str:
    """Record the result in a new unit of work (the claim was committed or rolled back)."""
    _write_again(session)
    message = session.get(OutboxMessage, message_id)
    if message is None or message.done_at is not None:  # erased meanwhile, or done by another worker
        session.commit()
        return result.note
    return _record(session, message, result, now, enqueue)


def _commit(session: Session, ids: list[int], enqueue: Enqueue | None) -> None:
    session.commit()
    if ids and enqueue is not None:
        enqueue(ids)


def attendee_email(session: Session, message: OutboxMessage, tools: Tools, now: datetime) -> Result | Work:
    """An email to the person of a sign-up, about it or its talk, with their calendar invite."""
    rsvp, talk = message.rsvp, message.talk
    if rsvp is None and talk is not None and message.kind == "rsvp.erased" and message.payload:
        rsvp = erased_attendee(message, talk, now)
    if rsvp is None or talk is None:
        return nothing_to_do("nothing to send: the sign-up was erased")
    if not reachable(rsvp.email):
        return nothing_to_do("nothing to send: a walk-in without an address")
    if rsvp.status == RsvpStatus.CANCELLED and message.kind not in STILL_DUE_AFTER_CANCEL:
        # Written before the person cancelled (a backlog, a mail server that was down): it would
        # now say the wrong thing. Their cancellation message is the one that goes out.
        return nothing_to_do("superseded: the sign-up was cancelled since")
    if message.kind in NOT_AFTER_THE_START and now >= talk.starts_at:
        # Written before the talk (a mail server that was down): a seat offered now would mislead.
        return nothing_to_do("superseded: the talk has started")
    try:
        email = mail_text.compose(
            message.kind,
            series=talk.series,
            talk=talk,
            rsvp=rsvp,
            links=tools.links_for(talk, rsvp),
            position=waiting_position(session, rsvp),
            render=tools.render,
            now=now,
            payload=message.payload,
            chat=chat_mail.booked_chat(session, talk, rsvp) if message.kind == "talk.reminder" else None,
        )
    except Exception as error:  # a bug or bad data: back off instead of failing every sweep
        return _not_written(message, error)
    return _sender(tools, email, message, f"sign-up {rsvp.id}")


HANDLERS[outbox.ATTENDEE_EMAIL] = attendee_email


def _not_written(message: OutboxMessage, error: Exception) -> Result:
    log.exception("email %s for outbox message %s could not be written", message.kind, message.id)
    return try_again(f"could not be written: {error!r}", "failed to compose, will try again")


def _sender(tools: Tools, email: EmailMessage, message: OutboxMessage, about: str) -> Work:
    """The work of sending a written email, to run outside any transaction."""
    kind, message_id = message.kind, message.id

    def send() -> Result:
        try:
            tools.mailer.send(email)
        except MailError as error:
            # Ids only: the log never holds an attendee's address.
            log.warning("email %s (outbox message %s, %s) not sent: %s", kind, message_id, about, error)
            return try_again(str(error))
        return done("sent")

    return send


# Messages about a chat that still make sense once the sign-up is cancelled.
CHAT_CANCELLATIONS = {"chat.cancelled", "chat.erased"}
# Messages about a chat booked, which a cancelled chat makes wrong.
CHAT_BOOKED = {"chat.confirmation", "chat.moved"}


def attendee_chat_email(session: Session, message: OutboxMessage, tools: Tools, now: datetime) -> Result | Work:
    """An email to the person of a sign-up about their chat with the speaker, with its own invite."""
    rsvp, talk = message.rsvp, message.talk
    if message.kind == "chat.erased":
        if talk is None or not message.payload:
            return nothing_to_do("nothing to send: the talk was deleted")
        rsvp = erased_attendee(message, talk, now)
    if rsvp is None or talk is None:
        return nothing_to_do("nothing to send: the sign-up was erased")
    if not reachable(rsvp.email):
        return nothing_to_do("nothing to send: a walk-in without an address")
    if rsvp.status == RsvpStatus.CANCELLED and message.kind not in CHAT_CANCELLATIONS:
        return nothing_to_do("superseded: the sign-up was cancelled since")
    if message.kind in CHAT_BOOKED and chats.booking_of(session, rsvp.id) is None:
        # Written before the chat was cancelled: its cancellation is the message that goes out.
        return nothing_to_do("superseded: the chat was cancelled since")
    try:
        email = chat_mail.compose(
            message.kind,
            series=talk.series,
            talk=talk,
            rsvp=rsvp,
            links=tools.links_for(talk, rsvp),
            payload=message.payload,
            render=tools.render,
            now=now,
            still_open=chat_mail.open_slots(session, talk, now) if message.kind == "chat.not_drawn" else None,
        )
    except Exception as error:  # a bug or bad data: back off instead of failing every sweep
        return _not_written(message, error)
    return _sender(tools, email, message, f"sign-up {rsvp.id}")


HANDLERS[outbox.ATTENDEE_CHAT_EMAIL] = attendee_chat_email


def speaker_email(session: Session, message: OutboxMessage, tools: Tools, now: datetime) -> Result | Work:
    """A speaker's chat schedule as it is when sent, with the link to their page when one is made."""
    talk, to = message.talk, outbox.recipient_of(message)
    if talk is None or to is None:
        return nothing_to_do("nothing to send: the talk was deleted")
    if tools.speaker_links_for is None:
        return try_again("this worker cannot make the speaker's links")
    speaker = str(message.payload.get("speaker") or "")
    try:
        email = chat_mail.compose_speaker_schedule(
            series=talk.series,
            talk=talk,
            to_name=to.name,
            to_email=to.email,
            schedule=chat_mail.speaker_schedule(session, talk, speaker, now),
            updated=bool(message.payload.get("updated")),
            links=tools.speaker_links_for(talk, speaker),
            render=tools.render,
            now=now,
        )
    except Exception as error:  # a bug or bad data: back off instead of failing every sweep
        return _not_written(message, error)
    return _sender(tools, email, message, f"talk {talk.id}")


HANDLERS[outbox.SPEAKER_EMAIL] = speaker_email


def announcement_email(session: Session, message: OutboxMessage, tools: Tools, now: datetime) -> Result | Work:
    """A talk's announcement to one mailing list, as the organizer previewed and sent it."""
    talk, to = message.talk, outbox.recipient_of(message)
    if talk is None or to is None:
        return nothing_to_do("nothing to send: the talk was deleted")
    if reason := announcement.superseded(talk, now):
        # Written before (a mail server that was down): a list would now be told something wrong.
        return nothing_to_do(reason)
    try:
        email = announcement.compose(talk.series, to=to.email, payload=message.payload, now=now)
    except Exception as error:  # a bug or bad data: back off instead of failing every sweep
        return _not_written(message, error)
    return _sender(tools, email, message, f"talk {talk.id}")


HANDLERS[outbox.ANNOUNCEMENT_EMAIL] = announcement_email


def meeting_work(session: Session, message: OutboxMessage, tools: Tools, now: datetime) -> Result | Work:
    """A call to the meeting provider: register someone, cancel a registration, update or delete
    a meeting. Refusals that retrying cannot fix are given up on at once, with Zoom's reason in
    words for organizers; outages are tried again, not before the provider said."""
    provider = tools.meetings
    data = message.payload
    target = _meeting_for(session, message)
    if target is None:
        return nothing_to_do("no longer needed: the meeting or the registration is gone")
    wanted = data.get("provider") or target.provider
    if provider is None or getattr(provider, "name", wanted) != wanted:
        return fail_for_good(f"the meeting is at {wanted!r}, but Lectern is not configured for it")

    def call(action: Callable[[], object], then: FollowUp | None = None, note: str = "done") -> Work:
        def work() -> Result:
            try:
                action()
            except MeetingUnavailable as error:
                return try_again(str(error), not_before=error.retry_after)
            except MeetingError as error:
                return fail_for_good(str(error))
            return done(note, then=then)

        return work

    if message.kind == "meeting.register":
        registrant = session.get(Registrant, data["registrant"])
        if registrant is None or registrant.status != RegistrantStatus.PENDING or registrant.rsvp is None:
            return nothing_to_do("no longer wanted: the sign-up stopped following online")
        external_id, email = target.external_id, registrant.rsvp.email
        first, last = _first_and_last(registrant.rsvp.name)
        row, message_id = registrant.id, message.id
        made: list[Registration] = []

        def record(session: Session, _message: OutboxMessage) -> None:
            meetings.registered(session, row, made[0].registrant_id, made[0].join_url)
            meetings.link_known(session, row, message_id)

        return call(lambda: made.append(provider.register(external_id, email, first, last)), record, "registered")
    if message.kind == "meeting.cancel_registration":
        external_id, registrant_id, email = data["external_id"], data["registrant_id"], data.get("email", "")
        return call(lambda: provider.cancel_registration(external_id, registrant_id, email), note="cancelled")
    if message.kind == "meeting.update":
        talk = message.talk
        if talk is None or not target.external_id:
            return nothing_to_do("nothing to update: the talk or its meeting is gone")
        spec = meetings.spec_for(talk, waiting_room=target.waiting_room)
        facts, row, external_id = meetings.synced_facts(talk), target.id, target.external_id

        def synced(session: Session, _message: OutboxMessage) -> None:
            meeting = session.get(Meeting, row)
            if meeting is not None:
                meeting.synced = facts

        return call(lambda: provider.update_meeting(external_id, spec), synced, "updated")
    if message.kind == "meeting.delete":
        external_id, row = data["external_id"], data.get("meeting")
        return call(
            lambda: provider.delete_meeting(external_id),
            lambda session, _message: meetings.meeting_deleted(session, row),
            "deleted",
        )
    return fail_for_good(f"no meeting work called {message.kind!r}")


def _meeting_for(session: Session, message: OutboxMessage) -> Meeting | None:
    """The meeting the work is about (still there, or for a deletion, what the message says)."""
    data = message.payload
    if message.kind == "meeting.register":
        registrant = session.get(Registrant, data.get("registrant"))
        meeting = registrant.meeting if registrant is not None else None
        return meeting if meeting is not None and meeting.status == MeetingStatus.ACTIVE else None
    if message.kind == "meeting.update":
        meeting = session.get(Meeting, data.get("meeting"))
        return meeting if meeting is not None and meeting.status == MeetingStatus.ACTIVE else None
    # A deletion or a cancellation carries what it needs: the talk or the sign-up may be gone.
    return Meeting(provider=data.get("provider", ""), external_id=str(data.get("external_id", "")))


def _first_and_last(name: str) -> tuple[str, str]:
    """Zoom needs a first name; the rest of the name, if any, is the last."""
    first, _, last = name.strip().partition(" ")
    return (first or "Guest")[:64], last.strip()[:64]


HANDLERS[outbox.MEETING_WORK] = meeting_work


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
    # Each talk locked (in one order) and read as it is once locked: a second consumer running
    # this job at the same moment waits, then sees the reminder marked sent and skips the talk.
    soon = session.scalars(
        each_locked(
            select(Talk).where(
                Talk.starts_at > now,
                Talk.starts_at <= now + ahead,
                Talk.status != TalkStatus.CANCELLED,
                Talk.published.is_(True),
            ),
            Talk,
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
