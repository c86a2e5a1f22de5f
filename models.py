"""Lectern's data: a series, its rooms, semesters, talks and schedule.

Times are stored in UTC. Local times exist only at the edges (forms, pages, import), converted
with the series' IANA zone.
"""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored as UTC on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ChatAssignment(enum.StrEnum):
    FIRST_COME = "first_come"  # a booking takes a place at once
    DRAW = "draw"  # people ask for up to three slots; a seeded draw assigns them at the draw time


class TalkStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class EntryKind(enum.StrEnum):
    """What a schedule row without a talk stands for."""

    BREAK = "break"
    CONFERENCE = "conference"
    TBD = "tbd"
    CANCELLED = "cancelled"
    NOTE = "note"


class Series(Base):
    __tablename__ = "series"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="America/Montreal")
    default_minutes: Mapped[int] = mapped_column(Integer, default=60)
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    default_room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id", use_alter=True))
    # Who may RSVP: email domains, comma-separated ("mcgill.ca, mila.quebec"); empty means anyone.
    rsvp_domains: Mapped[str] = mapped_column(Text, default="")
    # The announcement email: the mailing lists it goes to, and its template ("" = Lectern's own).
    announce_lists: Mapped[str] = mapped_column(Text, default="", server_default="")
    announce_template: Mapped[str] = mapped_column(Text, default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    rooms: Mapped[list[Room]] = relationship(
        back_populates="series", order_by="Room.name", foreign_keys="Room.series_id"
    )
    default_room: Mapped[Room | None] = relationship(foreign_keys=[default_room_id], post_update=True)


class Room(Base):
    __tablename__ = "room"
    __table_args__ = (UniqueConstraint("series_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"))
    name: Mapped[str] = mapped_column(String(120))
    capacity: Mapped[int | None] = mapped_column(Integer)
    directions: Mapped[str] = mapped_column(Text, default="")

    series: Mapped[Series] = relationship(back_populates="rooms", foreign_keys=[series_id])


class Semester(Base):
    __tablename__ = "semester"
    __table_args__ = (UniqueConstraint("series_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"))
    slug: Mapped[str] = mapped_column(String(64))  # "summer-2024"
    name: Mapped[str] = mapped_column(String(120))  # "Summer 2024"
    intro_md: Mapped[str] = mapped_column(Text, default="")

    talks: Mapped[list[Talk]] = relationship(back_populates="semester", order_by="Talk.starts_at")
    entries: Mapped[list[ScheduleEntry]] = relationship(
        back_populates="semester", order_by="ScheduleEntry.position", cascade="all, delete-orphan"
    )


class Talk(Base):
    __tablename__ = "talk"

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"))
    semester_id: Mapped[int | None] = mapped_column(ForeignKey("semester.id"))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    status: Mapped[TalkStatus] = mapped_column(
        Enum(TalkStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=TalkStatus.SCHEDULED,
    )
    published: Mapped[bool] = mapped_column(default=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"))
    online_platform: Mapped[str | None] = mapped_column(String(60))
    intro_md: Mapped[str] = mapped_column(Text, default="")
    paper_url: Mapped[str | None] = mapped_column(String(2000))
    slides_url: Mapped[str | None] = mapped_column(String(2000))
    recording_url: Mapped[str | None] = mapped_column(String(2000))
    links: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # [{"label", "url"}]
    images: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Where an imported talk came from: the post's file name (without a "@commit" suffix),
    # its path as given, and a digest of its text to tell "unchanged" from "updated".
    source_key: Mapped[str | None] = mapped_column(String(300), index=True)
    source_path: Mapped[str | None] = mapped_column(String(1000))
    source_digest: Mapped[str | None] = mapped_column(String(64))
    # Incremented on every change that matters to attendees (calendar SEQUENCE).
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # Sign-ups. Seats come from the room unless the talk sets its own number.
    room_capacity: Mapped[int | None] = mapped_column(Integer)
    online_limit: Mapped[int | None] = mapped_column(Integer)  # None: unlimited
    # Sign-ups seated now. Kept by the database's triggers on `rsvp` (migration 0010), never
    # written from here; deferred, so that nobody reads a copy older than the transaction's writes.
    seats_taken: Mapped[int] = mapped_column(Integer, server_default="0", deferred=True)
    rsvp_open: Mapped[bool] = mapped_column(default=True)
    rsvp_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: when the talk starts
    ask_affiliation: Mapped[bool] = mapped_column(default=False)
    ask_question: Mapped[bool] = mapped_column(default=False)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the announcement last sent
    # Chats with the speaker (services/chats.py).
    chat_assignment: Mapped[ChatAssignment] = mapped_column(
        Enum(ChatAssignment, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=ChatAssignment.FIRST_COME,
        server_default="first_come",
    )
    chat_open: Mapped[bool] = mapped_column(default=True)  # False: closed by hand
    chat_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: when the talk starts
    chat_draw_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: a day before the talk
    # A draw places people who had a chat with a speaker of the series this semester after the others.
    chat_prefer_new: Mapped[bool] = mapped_column(default=False)
    # Part of the speaker's link to their chat schedule; a new one revokes the old link ("" = none made).
    chat_link_nonce: Mapped[str] = mapped_column(String(32), default="", server_default="")
    chat_schedule_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where each speaker's chat schedule is emailed: {speaker's name: address}.
    chat_speaker_emails: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    series: Mapped[Series] = relationship()
    semester: Mapped[Semester | None] = relationship(back_populates="talks")
    room: Mapped[Room | None] = relationship()
    parts: Mapped[list[TalkPart]] = relationship(
        back_populates="talk", order_by="TalkPart.position", cascade="all, delete-orphan"
    )
    sections: Mapped[list[TalkSection]] = relationship(
        back_populates="talk", order_by="TalkSection.position", cascade="all, delete-orphan"
    )

    @property
    def speakers(self) -> list[Speaker]:
        return [speaker for part in self.parts for speaker in part.speakers]

    @property
    def speaker_names(self) -> list[str]:
        return [speaker.name for speaker in self.speakers]

    @property
    def affiliation(self) -> str | None:
        """The speakers' affiliations as one line, each named once, in order."""
        seen: list[str] = []
        for speaker in self.speakers:
            if speaker.affiliation and speaker.affiliation not in seen:
                seen.append(speaker.affiliation)
        return " and ".join(seen) or None

    @property
    def is_cancelled(self) -> bool:
        return self.status == TalkStatus.CANCELLED

    @property
    def seats(self) -> int | None:
        """Seats in the room for this talk; None when nobody has counted them (no limit)."""
        if self.room_capacity is not None:
            return self.room_capacity
        return self.room.capacity if self.room else 0

    @property
    def signup_deadline(self) -> datetime:
        return min(self.rsvp_closes_at, self.starts_at) if self.rsvp_closes_at else self.starts_at


class TalkPart(Base):
    """One presentation within a talk: most talks have one, intern sessions several."""

    __tablename__ = "talk_part"

    id: Mapped[int] = mapped_column(primary_key=True)
    talk_id: Mapped[int] = mapped_column(ForeignKey("talk.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str | None] = mapped_column(String(500))
    abstract_md: Mapped[str] = mapped_column(Text, default="")
    bio_md: Mapped[str] = mapped_column(Text, default="")

    talk: Mapped[Talk] = relationship(back_populates="parts")
    speakers: Mapped[list[Speaker]] = relationship(
        back_populates="part", order_by="Speaker.position", cascade="all, delete-orphan"
    )


class Speaker(Base):
    __tablename__ = "speaker"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("talk_part.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    affiliation: Mapped[str | None] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(2000))

    part: Mapped[TalkPart] = relationship(back_populates="speakers")


class TalkSection(Base):
    """A section of an imported post that is neither abstract, bio nor logistics."""

    __tablename__ = "talk_section"

    id: Mapped[int] = mapped_column(primary_key=True)
    talk_id: Mapped[int] = mapped_column(ForeignKey("talk.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    heading: Mapped[str] = mapped_column(String(300))
    body_md: Mapped[str] = mapped_column(Text, default="")

    talk: Mapped[Talk] = relationship(back_populates="sections")


class ScheduleEntry(Base):
    """A row of a semester's schedule that is not a talk: a break, a conference week, TBD..."""

    __tablename__ = "schedule_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    semester_id: Mapped[int] = mapped_column(ForeignKey("semester.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[EntryKind] = mapped_column(
        Enum(EntryKind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    on_date: Mapped[date | None] = mapped_column(Date)
    label: Mapped[str] = mapped_column(Text, default="")

    semester: Mapped[Semester] = relationship(back_populates="entries")


class Organizer(Base):
    """Someone allowed into /organize.

    Listed by email first; bound to the identity provider's issuer and subject at the first
    login whose email the provider vouches for. From then on the binding alone counts.
    """

    __tablename__ = "organizer"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    issuer: Mapped[str | None] = mapped_column(String(500))
    subject: Mapped[str | None] = mapped_column(String(255))
    invited_by: Mapped[str] = mapped_column(String(254), default="")
    # Every login session carries this; a new value (at logout) ends all sessions made before it.
    session_key: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(16), server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One change made by an organizer: who, what, when, and the values before and after."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(300))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class RsvpStatus(enum.StrEnum):
    SEATED = "seated"  # has a seat in the room
    WAITING = "waiting"  # in line for a seat; may follow online meanwhile
    ONLINE = "online"
    CANCELLED = "cancelled"


ACTIVE_RSVP = "status != 'cancelled'"


class Rsvp(Base):
    """One person's sign-up for one talk. No account: a signed link lets them manage it."""

    __tablename__ = "rsvp"
    __table_args__ = (
        # One active RSVP per email per talk, enforced by the database itself.
        Index(
            "uq_rsvp_active_email",
            "talk_id",
            "email",
            unique=True,
            sqlite_where=text(ACTIVE_RSVP),
            postgresql_where=text(ACTIVE_RSVP),
        ),
        Index("ix_rsvp_talk_status", "talk_id", "status", "queued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    talk_id: Mapped[int] = mapped_column(ForeignKey("talk.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    affiliation: Mapped[str] = mapped_column(String(300), default="")
    question: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[RsvpStatus] = mapped_column(
        Enum(RsvpStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    # Order in the waiting list: when the person asked for a seat.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Part of the manage link: a new nonce makes older links stop working.
    token_nonce: Mapped[str] = mapped_column(String(32))
    walk_in: Mapped[bool] = mapped_column(default=False)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Calendar SEQUENCE of this attendee's invite; grows with each change that matters to them.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # What they would like to talk about with the speaker, and their chat invite's SEQUENCE.
    chat_topic: Mapped[str] = mapped_column(Text, default="", server_default="")
    chat_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    talk: Mapped[Talk] = relationship()


class OutboxMessage(Base):
    """Work owed to the outside world (an email, a meeting registration), written in the same
    transaction as the change that owes it and done by a job after the commit.

    A job marks it done; a periodic sweep re-enqueues what is still owed, so a crash between
    the commit and the enqueue, or a mail server that is down, loses nothing.
    """

    __tablename__ = "outbox_message"
    # AUTOINCREMENT: SQLite would otherwise give a deleted message's id to the next one, and a
    # delivery still holding the old id would record its result on the wrong message.
    __table_args__ = (Index("ix_outbox_owed", "done_at", "next_attempt_at"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    rsvp_id: Mapped[int | None] = mapped_column(ForeignKey("rsvp.id", ondelete="CASCADE"))
    talk_id: Mapped[int | None] = mapped_column(ForeignKey("talk.id", ondelete="CASCADE"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set with done_at when Lectern stopped trying: organizers see these and may try again.
    given_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Someone who is not a sign-up (a speaker): the message says whom it is for.
    recipient_email: Mapped[str | None] = mapped_column(String(254))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    # Another message to be done first (a join link to fetch before the confirmation that
    # carries it), waited for until wait_until at most.
    after_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id", ondelete="SET NULL"), index=True)
    wait_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    rsvp: Mapped[Rsvp | None] = relationship()
    talk: Mapped[Talk | None] = relationship()
    after: Mapped[OutboxMessage | None] = relationship(remote_side=[id])


class ChatSlot(Base):
    """A short in-person chat with a speaker after the talk, for up to `capacity` people."""

    __tablename__ = "chat_slot"

    id: Mapped[int] = mapped_column(primary_key=True)
    talk_id: Mapped[int] = mapped_column(ForeignKey("talk.id", ondelete="CASCADE"), index=True)
    # Which speaker, by name (a talk's speakers are rewritten by edits and imports); "" = the talk's speaker(s).
    speaker_name: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    minutes: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    place: Mapped[str] = mapped_column(String(200), default="")
    # Grows when the slot moves: part of the SEQUENCE of the invites of the people booked.
    sequence: Mapped[int] = mapped_column(Integer, default=0)

    talk: Mapped[Talk] = relationship()
    bookings: Mapped[list[ChatBooking]] = relationship(back_populates="slot", order_by="ChatBooking.id")

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.minutes)


class ChatBooking(Base):
    """One person's place in a chat slot. One per sign-up (so one per person per talk), enforced
    by the database."""

    __tablename__ = "chat_booking"

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("chat_slot.id", ondelete="CASCADE"), index=True)
    rsvp_id: Mapped[int] = mapped_column(ForeignKey("rsvp.id", ondelete="CASCADE"), unique=True)
    talk_id: Mapped[int] = mapped_column(ForeignKey("talk.id", ondelete="CASCADE"), index=True)
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    drawn: Mapped[bool] = mapped_column(default=False)  # placed by the draw

    slot: Mapped[ChatSlot] = relationship(back_populates="bookings")
    rsvp: Mapped[Rsvp] = relationship()


class ChatRequest(Base):
    """A wish for a slot, before a draw: rank 1 is the first choice."""

    __tablename__ = "chat_request"
    __table_args__ = (
        UniqueConstraint("rsvp_id", "rank", name="uq_chat_request_rank"),
        UniqueConstraint("rsvp_id", "slot_id", name="uq_chat_request_slot"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    talk_id: Mapped[int] = mapped_column(ForeignKey("talk.id", ondelete="CASCADE"), index=True)
    rsvp_id: Mapped[int] = mapped_column(ForeignKey("rsvp.id", ondelete="CASCADE"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("chat_slot.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    slot: Mapped[ChatSlot] = relationship()
    rsvp: Mapped[Rsvp] = relationship()


class ChatDraw(Base):
    """A talk's draw, as run: its seed, what it was given and what it decided, so that anyone
    can run it again from the same inputs and get the same result."""

    __tablename__ = "chat_draw"

    id: Mapped[int] = mapped_column(primary_key=True)
    talk_id: Mapped[int] = mapped_column(ForeignKey("talk.id", ondelete="CASCADE"), unique=True)
    seed: Mapped[str] = mapped_column(String(64))
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # {"slots": {slot id: capacity}, "wishes": {sign-up id: [slot ids, first choice first]},
    #  "later": [sign-up ids placed after the others]}
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    # {"order": [sign-up ids, as drawn], "placed": {sign-up id: slot id}, "unplaced": [sign-up ids]}
    result: Mapped[dict[str, Any]] = mapped_column(JSON)


class MeetingStatus(enum.StrEnum):
    ACTIVE = "active"
    GONE = "gone"  # deleted at the provider (by Lectern, or by someone in Zoom)


class Meeting(Base):
    """The online side of a talk: a meeting at a provider (Zoom, a pasted link, the fake one)."""

    __tablename__ = "meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SET NULL: a deleted talk leaves its meeting behind until the provider is told to delete it.
    talk_id: Mapped[int | None] = mapped_column(ForeignKey("talk.id", ondelete="SET NULL"), unique=True)
    provider: Mapped[str] = mapped_column(String(20))  # "zoom", "static", "fake"
    external_id: Mapped[str] = mapped_column(String(64), default="")  # the provider's id ("" for a pasted link)
    join_url: Mapped[str] = mapped_column(String(2000), default="")  # the general link: never shown publicly for Zoom
    start_url: Mapped[str] = mapped_column(Text, default="")  # the host's link: organizers only
    password: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[MeetingStatus] = mapped_column(
        Enum(MeetingStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=MeetingStatus.ACTIVE,
    )
    waiting_room: Mapped[bool] = mapped_column(default=False)
    # Personal links to people in the room too (for a hybrid talk they may follow from afar).
    links_for_room: Mapped[bool] = mapped_column(default=False)
    # A pasted link: shown to anyone on the talk page, or only to people signed up.
    link_public: Mapped[bool] = mapped_column(default=False)
    # What the provider was last told (topic, start, minutes), to know when it must be told again.
    synced: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    live_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # meeting.started .. meeting.ended
    recording_url: Mapped[str] = mapped_column(String(2000), default="")  # from recording.completed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    talk: Mapped[Talk | None] = relationship()


def active_meeting_id_of(talk_id: Any) -> Any:
    """The id of the meeting of the talk `talk_id` (a column, or a bound parameter) that still
    exists at the provider."""
    return (
        select(Meeting.id)
        .where(Meeting.talk_id == talk_id, Meeting.status == MeetingStatus.ACTIVE)
        .correlate_except(Meeting)
        .scalar_subquery()
    )


# The talk's meeting, by id. Deferred: never read with the talk unless asked for; a sign-up's
# INSERT returns it and sets it here (services/signups.py), for services/meetings.py to use.
Talk.active_meeting_id = column_property(active_meeting_id_of(Talk.id), deferred=True)


class RegistrantStatus(enum.StrEnum):
    PENDING = "pending"  # a job will register them
    REGISTERED = "registered"  # their personal link is known
    CANCELLED = "cancelled"  # no longer online; cancelled at the provider (or never registered)


class Registrant(Base):
    """One sign-up registered with the talk's meeting: their personal join link."""

    __tablename__ = "registrant"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    # SET NULL: an erased sign-up's registration is still cancelled at the provider afterwards.
    rsvp_id: Mapped[int | None] = mapped_column(ForeignKey("rsvp.id", ondelete="SET NULL"), unique=True)
    status: Mapped[RegistrantStatus] = mapped_column(
        Enum(RegistrantStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=RegistrantStatus.PENDING,
    )
    registrant_id: Mapped[str] = mapped_column(String(100), default="")
    join_url: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    meeting: Mapped[Meeting] = relationship()
    rsvp: Mapped[Rsvp | None] = relationship()


class WebhookReceipt(Base):
    """A webhook call already handled (its signature): a replay of it is refused."""

    __tablename__ = "webhook_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    signature: Mapped[str] = mapped_column(String(100), unique=True)
    event: Mapped[str] = mapped_column(String(60))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
