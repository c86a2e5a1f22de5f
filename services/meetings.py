"""The online side of a talk: its meeting at a provider, and each online attendee's own link.

An organizer creates the meeting (Zoom, the fake provider of `make run`) or pastes a link (any
platform) from the talk's organizer pages. From then on it follows the talk and its sign-ups
through reactions, never inside a request's wait:

- a sign-up that follows online (online, or waiting for a seat, or in the room when the
  organizer sends links to the room too) gets a registrant, registered by a job after the
  commit (`meeting.register`); their confirmation waits for the personal link a short while,
  then goes without it (the manage page says it is on its way);
- a sign-up that stops following online (moved to the room, cancelled, erased) has its
  registration cancelled at the provider (`meeting.cancel_registration`); a registration still
  pending is cancelled before it is made;
- a talk that moves or is renamed updates the meeting (`meeting.update`); a talk cancelled or
  deleted deletes it (`meeting.delete`).

Provider calls are outbox work (services/outbox.py, handlers in services/delivery.py): retried
with backoff, given up on after three days and then shown to organizers with a retry button.
A join link is a secret: it is shown only on that attendee's manage page, email and invite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, func, inspect, select
from sqlalchemy.orm import Session

from adapters.meetings import Meeting as ProviderMeeting
from adapters.meetings import MeetingError, MeetingProvider, MeetingSpec, MeetingUnavailable
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
from services import locks, outbox, signups, talk_changes
from services.signups import Cause, SignupChange
from services.talk_changes import TalkCause, TalkChange
from services.text import one_line

# How long a confirmation waits for the personal join link before it goes without it.
LINK_WAIT = timedelta(minutes=2)
STATIC = "static"
# Providers that give each registrant a link of their own.
PERSONAL_LINKS = {"zoom", "fake"}
# Emails about a sign-up that carry its join link: held back a little for it.
CARRY_THE_LINK = {"rsvp.confirmation", "rsvp.updated", "rsvp.promoted"}


class MeetingRuleError(ValueError):
    """What an organizer asked for cannot be done; the message says why."""


# Reading -------------------------------------------------------------------------------------


def meeting_of(session: Session, talk_id: int) -> Meeting | None:
    """The talk's meeting, if it has one that still exists at the provider.

    Asked on every sign-up, where most talks have none: the look-up runs on the table (no ORM
    entity to build for "none"), and the meeting is loaded only when there is one.
    """
    if session.autoflush:
        session.flush()  # as a query on the class would: a meeting changed in this unit of work counts
    meeting_id = session.scalar(_ACTIVE_MEETING_ID, {"talk_id": talk_id})
    return None if meeting_id is None else session.get(Meeting, meeting_id)


_MEETING = Meeting.__table__
_ACTIVE_MEETING_ID = select(_MEETING.c.id).where(
    _MEETING.c.talk_id == bindparam("talk_id"), _MEETING.c.status == MeetingStatus.ACTIVE
)


def registrant_of(session: Session, rsvp_id: int) -> Registrant | None:
    return session.scalars(select(Registrant).where(Registrant.rsvp_id == rsvp_id)).first()


@dataclass(frozen=True)
class JoinLink:
    """What a sign-up's own pages and emails say about joining online."""

    url: str | None  # the link, when they may have it and it is known
    pending: bool  # a personal link is on its way
    live: bool  # the meeting has started (meeting.started) and not ended
    personal: bool = False  # the link is this person's own (not the one pasted for everyone)


def join_link(session: Session, talk: Talk, rsvp: Rsvp) -> JoinLink:
    """The link for this sign-up only: their personal one, or the pasted link for people signed up."""
    meeting = meeting_of(session, talk.id)
    if meeting is None or rsvp.status == RsvpStatus.CANCELLED:
        return JoinLink(None, False, False)
    live = meeting.live_since is not None
    if meeting.provider == STATIC:
        return JoinLink(meeting.join_url or None, False, live)
    registrant = registrant_of(session, rsvp.id)
    if registrant is None or registrant.status == RegistrantStatus.CANCELLED:
        return JoinLink(None, False, live)
    if registrant.status == RegistrantStatus.REGISTERED and registrant.join_url:
        return JoinLink(registrant.join_url, False, live, personal=True)
    return JoinLink(None, True, live)


def public_link(session: Session, talk: Talk) -> str | None:
    """A pasted link the organizers chose to show to anyone; never a provider's meeting link."""
    meeting = meeting_of(session, talk.id)
    if meeting is not None and meeting.provider == STATIC and meeting.link_public:
        return meeting.join_url or None
    return None


def is_live(session: Session, talk: Talk) -> bool:
    meeting = meeting_of(session, talk.id)
    return meeting is not None and meeting.live_since is not None


def registrant_counts(session: Session, meeting: Meeting) -> dict[RegistrantStatus, int]:
    """How many of the meeting's registrations are made, on their way, cancelled."""
    counts = dict.fromkeys(RegistrantStatus, 0)
    rows = session.execute(
        select(Registrant.status, func.count()).where(Registrant.meeting_id == meeting.id).group_by(Registrant.status)
    )
    for status, count in rows:
        counts[RegistrantStatus(status)] = count
    return counts


@dataclass(frozen=True)
class GivenUp:
    """A registration Lectern stopped trying, and whose it was (None: the sign-up is erased)."""

    message: OutboxMessage
    rsvp: Rsvp | None


def registrations_given_up(session: Session, talk_id: int) -> list[GivenUp]:
    """The talk's registrations Lectern stopped trying (the provider refused them), latest first."""
    messages = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.talk_id == talk_id,
            OutboxMessage.kind == "meeting.register",
            OutboxMessage.given_up_at.is_not(None),
        )
        .order_by(OutboxMessage.given_up_at.desc(), OutboxMessage.id.desc())
        .limit(200)
    )
    found = []
    for message in messages:
        registrant = session.get(Registrant, message.payload.get("registrant") or 0)
        found.append(GivenUp(message, registrant.rsvp if registrant is not None else None))
    return found


# The meeting ---------------------------------------------------------------------------------


def spec_for(talk: Talk, *, waiting_room: bool) -> MeetingSpec:
    minutes = max(1, int((talk.ends_at - talk.starts_at).total_seconds() // 60))
    speakers = ", ".join(talk.speaker_names)
    return MeetingSpec(
        topic=one_line(talk.title)[:200],
        starts_at=talk.starts_at.astimezone(UTC),
        minutes=minutes,
        timezone=talk.series.timezone,
        agenda=f"{talk.series.name}: {speakers}"[:2000] if speakers else one_line(talk.series.name),
        waiting_room=waiting_room,
    )


def synced_facts(talk: Talk) -> dict[str, Any]:
    """What the provider is told about the talk: when it changes, the meeting is updated."""
    return {
        "topic": one_line(talk.title)[:200],
        "starts_at": talk.starts_at.astimezone(UTC).isoformat(),
        "minutes": max(1, int((talk.ends_at - talk.starts_at).total_seconds() // 60)),
    }


def create_at_provider(provider: MeetingProvider, spec: MeetingSpec) -> ProviderMeeting:
    """Create the meeting at the provider, called with no transaction open (the wait is Zoom's).

    A create that timed out may have happened all the same: the provider is asked for a meeting
    with this topic and start before anyone tries again, so one click never makes two meetings.
    Raises MeetingError with words for the organizer.
    """
    try:
        return provider.create_meeting(spec)
    except MeetingUnavailable as error:
        try:
            found = provider.find_meeting(spec)
        except MeetingError:
            found = None
        if found is not None:
            return found
        raise error from None


def save_created(
    session: Session,
    talk_id: int,
    created: ProviderMeeting,
    *,
    provider: str,
    waiting_room: bool,
    links_for_room: bool,
    now: datetime,
) -> Meeting:
    """Keep the meeting just created, and register everyone already signed up to follow online.

    Should the talk have got a meeting meanwhile (a double click, two organizers), the new one is
    deleted at the provider and the first one kept: nothing half-made is left behind.
    """
    try:
        talk = locks.lock_talk(session, talk_id)
    except locks.TalkGone:
        _delete_at_provider(session, provider, created.id)  # the talk went while Zoom made it
        raise
    existing = meeting_of(session, talk.id)
    if existing is not None:
        _delete_at_provider(session, provider, created.id)
        return existing
    _let_go_of_gone(session, talk.id)
    meeting = Meeting(
        talk_id=talk.id,
        provider=provider,
        external_id=str(created.id),
        join_url=created.join_url or "",
        start_url=created.start_url or "",
        password=created.password or "",
        status=MeetingStatus.ACTIVE,
        waiting_room=waiting_room,
        links_for_room=links_for_room,
        link_public=False,
        synced=synced_facts(talk),
    )
    session.add(meeting)
    session.flush()
    for rsvp in _active_signups(session, talk):
        keep_in_step(session, talk, rsvp, now)
    return meeting


def set_static_link(session: Session, talk_id: int, url: str, *, public: bool, now: datetime) -> Meeting:
    """A link pasted by an organizer (Google Meet, Teams, a Zoom link made by hand), shown to anyone
    or only to people signed up. Replaces an earlier pasted link; not a provider's meeting."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or any(c.isspace() for c in url) or len(url) > 2000:
        raise MeetingRuleError("Please paste the meeting's full address, starting with https://.")
    talk = locks.lock_talk(session, talk_id)
    meeting = meeting_of(session, talk.id)
    if meeting is not None and meeting.provider != STATIC:
        raise MeetingRuleError("This talk has a meeting made by Lectern: delete it first to use another link.")
    if meeting is None:
        _let_go_of_gone(session, talk.id)
        meeting = Meeting(talk_id=talk.id, provider=STATIC, external_id="", status=MeetingStatus.ACTIVE, synced={})
        session.add(meeting)
    meeting.join_url = url
    meeting.link_public = public
    session.flush()
    return meeting


def remove(session: Session, talk_id: int, now: datetime) -> bool:
    """The organizer removes the talk's meeting: deleted at the provider, registrations with it."""
    talk = locks.lock_talk(session, talk_id)
    meeting = meeting_of(session, talk.id)
    if meeting is None:
        return False
    _retire(session, meeting)
    meeting.talk_id = None  # removed on purpose: the talk has no meeting, not one gone missing
    session.flush()
    return True


def last_meeting(session: Session, talk_id: int) -> Meeting | None:
    """The talk's meeting, active or gone (deleted in Zoom, or with the talk's cancellation)."""
    return session.scalars(select(Meeting).where(Meeting.talk_id == talk_id)).first()


def _let_go_of_gone(session: Session, talk_id: int) -> None:
    """A talk holds one meeting row: a gone one lets go of the talk before a new one is made."""
    for gone_meeting in session.scalars(
        select(Meeting).where(Meeting.talk_id == talk_id, Meeting.status == MeetingStatus.GONE)
    ):
        gone_meeting.talk_id = None
    session.flush()


def set_links_for_room(session: Session, talk_id: int, on: bool, now: datetime) -> None:
    """Send join links to people in the room too (or no longer): registrations follow."""
    talk = locks.lock_talk(session, talk_id)
    meeting = meeting_of(session, talk.id)
    if meeting is None:
        raise MeetingRuleError("This talk has no meeting yet.")
    meeting.links_for_room = on
    session.flush()
    for rsvp in _active_signups(session, talk):
        keep_in_step(session, talk, rsvp, now)


def _active_signups(session: Session, talk: Talk) -> list[Rsvp]:
    return list(
        session.scalars(
            select(Rsvp).where(Rsvp.talk_id == talk.id, Rsvp.status != RsvpStatus.CANCELLED).order_by(Rsvp.id)
        )
    )


def _retire(session: Session, meeting: Meeting) -> None:
    """Stop using a meeting: delete it at its provider (a pasted link needs nothing)."""
    meeting.status = MeetingStatus.GONE
    meeting.live_since = None
    for registrant in session.scalars(select(Registrant).where(Registrant.meeting_id == meeting.id)):
        registrant.status = RegistrantStatus.CANCELLED
    if meeting.provider != STATIC and meeting.external_id:
        _delete_at_provider(session, meeting.provider, meeting.external_id, meeting_row=meeting.id)
    session.flush()


def _delete_at_provider(session: Session, provider: str, external_id: str, meeting_row: int | None = None) -> None:
    # No talk on the message: it must outlive a talk being deleted.
    outbox.add(session, "meeting.delete", provider=provider, external_id=str(external_id), meeting=meeting_row)


# Registrants --------------------------------------------------------------------------------


def wants_link(meeting: Meeting, rsvp: Rsvp | None) -> bool:
    """Whether this sign-up should have a personal link: online, or waiting for a seat (they may
    follow online meanwhile), or in the room when the organizers send links to the room too."""
    if rsvp is None or meeting.status != MeetingStatus.ACTIVE or meeting.provider not in PERSONAL_LINKS:
        return False
    if rsvp.status in (RsvpStatus.ONLINE, RsvpStatus.WAITING):
        return True
    return rsvp.status == RsvpStatus.SEATED and meeting.links_for_room


def _meeting_of_read(session: Session, talk: Talk) -> Meeting | None:
    """`meeting_of`, answered by the id a sign-up's INSERT returned with the new sign-up
    (`Talk.active_meeting_id`, set by services/signups.py), unless this unit of work has touched
    a meeting since."""
    state = inspect(talk)
    if "active_meeting_id" not in state.dict or _has_meetings(session):
        return meeting_of(session, talk.id)
    meeting_id = state.dict["active_meeting_id"]
    return None if meeting_id is None else session.get(Meeting, meeting_id)


def _has_meetings(session: Session) -> bool:
    actual = locks.actual_session(session)
    return any(key[0] is Meeting for key in actual.identity_map) or any(isinstance(obj, Meeting) for obj in actual.new)


def keep_in_step(session: Session, talk: Talk, rsvp: Rsvp | None, now: datetime, *, erased: Rsvp | None = None) -> None:
    """Register or cancel this sign-up's registration so that it matches what they now follow."""
    meeting = _meeting_of_read(session, talk)
    if meeting is None:
        return
    subject = rsvp or erased
    if subject is None:
        return
    registrant = registrant_of(session, subject.id)
    wanted = wants_link(meeting, rsvp)
    if wanted and (registrant is None or registrant.status == RegistrantStatus.CANCELLED):
        if registrant is None or registrant.meeting_id != meeting.id:
            if registrant is not None:
                session.delete(registrant)
                session.flush()
            registrant = Registrant(meeting_id=meeting.id, rsvp_id=subject.id)
            session.add(registrant)
        registrant.status = RegistrantStatus.PENDING
        registrant.registrant_id = ""
        registrant.join_url = ""
        session.flush()
        work = outbox.add(session, "meeting.register", talk=talk, registrant=registrant.id)
        outbox.hold_back(session, subject, CARRY_THE_LINK, after=work, wait_until=now + LINK_WAIT)
    elif not wanted and registrant is not None and registrant.status != RegistrantStatus.CANCELLED:
        if registrant.status == RegistrantStatus.REGISTERED and registrant.registrant_id:
            _cancel_at_provider(session, meeting, registrant)
        # A pending one is never made: its job finds it cancelled.
        registrant.status = RegistrantStatus.CANCELLED
        session.flush()


def _cancel_at_provider(session: Session, meeting: Meeting, registrant: Registrant) -> None:
    outbox.add(
        session,
        "meeting.cancel_registration",
        provider=meeting.provider,
        external_id=meeting.external_id,
        registrant_id=registrant.registrant_id,
        email=registrant.rsvp.email if registrant.rsvp is not None else "",
    )


# What the outbox's jobs record -----------------------------------------------------------------


def registered(session: Session, registrant_id: int, registration_id: str, join_url: str) -> None:
    """The provider registered them: keep the link, unless they stopped following online meanwhile,
    in which case the registration just made is cancelled at once."""
    registrant = session.get(Registrant, registrant_id)
    if registrant is None:
        return
    registrant.registrant_id = registration_id
    if registrant.status == RegistrantStatus.PENDING:
        registrant.status = RegistrantStatus.REGISTERED
        registrant.join_url = join_url
    else:
        _cancel_at_provider(session, registrant.meeting, registrant)


def link_known(session: Session, registrant_id: int, work_id: int) -> None:
    """A personal link is known: the messages that waited for it go with it; if none is still
    waiting (they timed out, or nothing was owed: the meeting was made after the sign-up), the
    person is sent the link on its own."""
    registrant = session.get(Registrant, registrant_id)
    if registrant is None or registrant.status != RegistrantStatus.REGISTERED or registrant.rsvp is None:
        return
    still_waiting = session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.after_id == work_id, OutboxMessage.done_at.is_(None)).limit(1)
    )
    if still_waiting is None:
        outbox.add(session, "rsvp.join_link", rsvp=registrant.rsvp, talk=registrant.rsvp.talk)


def meeting_deleted(session: Session, meeting_row: int | None) -> None:
    meeting = session.get(Meeting, meeting_row) if meeting_row else None
    if meeting is not None:
        meeting.status = MeetingStatus.GONE
        meeting.live_since = None


# Webhooks ----------------------------------------------------------------------------------


def by_external_id(session: Session, provider: str, external_id: str) -> Meeting | None:
    return session.scalars(
        select(Meeting).where(Meeting.provider == provider, Meeting.external_id == str(external_id))
    ).first()


def started(session: Session, meeting: Meeting, at: datetime) -> None:
    if meeting.status == MeetingStatus.ACTIVE and meeting.live_since is None:
        meeting.live_since = at


def ended(session: Session, meeting: Meeting) -> None:
    meeting.live_since = None


def gone(session: Session, meeting: Meeting) -> None:
    """Deleted in Zoom by someone: organizers see it; nobody is registered any more."""
    meeting.status = MeetingStatus.GONE
    meeting.live_since = None
    for registrant in session.scalars(select(Registrant).where(Registrant.meeting_id == meeting.id)):
        registrant.status = RegistrantStatus.CANCELLED


def recording_ready(session: Session, meeting: Meeting, url: str) -> None:
    if url.startswith("https://"):
        meeting.recording_url = url[:2000]


def publish_recording(session: Session, talk_id: int) -> None:
    talk = locks.lock_talk(session, talk_id)
    meeting = session.scalars(select(Meeting).where(Meeting.talk_id == talk.id)).first()
    if meeting is None or not meeting.recording_url:
        raise MeetingRuleError("There is no recording to publish yet.")
    talk.recording_url = meeting.recording_url


# Reactions ---------------------------------------------------------------------------------


def follow_the_sign_up(change: SignupChange) -> None:
    if change.after == signups.ERASED:
        return  # handled before the row went (below)
    keep_in_step(change.session, change.talk, change.rsvp, change.now)


def before_erasure(session: Session, talk: Talk, rsvp: Rsvp, cause: Cause, now: datetime) -> None:
    keep_in_step(session, talk, None, now, erased=rsvp)


def follow_the_talk(change: TalkChange) -> None:
    """A deleted or cancelled talk deletes its meeting; a moved or renamed one updates it."""
    session = change.session
    if change.cause is TalkCause.DELETED:
        for orphan in session.scalars(
            select(Meeting).where(Meeting.talk_id.is_(None), Meeting.status == MeetingStatus.ACTIVE)
        ):
            _retire(session, orphan)
        return
    talk = change.talk
    meeting = meeting_of(session, talk.id)
    if meeting is None:
        return
    if talk.status == TalkStatus.CANCELLED:
        _retire(session, meeting)
        return
    if meeting.provider != STATIC and meeting.synced != synced_facts(talk):
        outbox.add(session, "meeting.update", talk=talk, meeting=meeting.id)


signups.on_signup_change(follow_the_sign_up)
signups.on_signup_erasing(before_erasure)
talk_changes.on_talk_change(follow_the_talk)
