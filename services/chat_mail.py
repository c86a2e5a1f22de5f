"""The emails about chats with the speaker, and the speaker's schedule.

To the person booked: their chat booked, moved or cancelled (each with the chat's own calendar
invite, beside the talk's), their wishes before a draw, or no chat this time. To the speaker:
who is coming to chat, and when and where; the speaker's page (blueprints/speakers.py) shows
the same schedule from the same `speaker_schedule`.

Each message says what was true when it was written: the slot comes from the snapshot kept
in the message's payload (services/chats.py `snapshot`), not from the slot as it is now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models import ChatSlot, Rsvp, RsvpStatus, Series, Talk
from services import chats, ics, timefmt
from services.mail_text import Links, Render, new_message

# Which invite goes with each email about a chat: none for wishes or no chat.
INVITE_METHOD = {
    "chat.confirmation": "REQUEST",
    "chat.moved": "REQUEST",
    "chat.cancelled": "CANCEL",
    "chat.erased": "CANCEL",
}


@dataclass(frozen=True)
class ChatTime:
    """A chat slot as people read it, in the series' zone."""

    starts_at: datetime
    minutes: int
    place: str
    speaker: str  # whom the chat is with, in words
    when: str  # "Monday, July 29, 2024, 4:00 PM – 4:15 PM EDT"

    @property
    def day(self) -> str:
        return timefmt.day(self.starts_at.date())

    @property
    def hours(self) -> str:
        """'4:00 PM – 4:15 PM EDT'."""
        return f"{timefmt.clock(self.starts_at)} – {timefmt.clock(self.ends_at)} {self.ends_at.tzname()}"

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.minutes)


def speaker_in_words(talk: Talk, speaker_name: str) -> str:
    """The slot's speaker; for a slot of the talk's speaker(s), their names; else "the speaker"."""
    return speaker_name or " and ".join(talk.speaker_names) or "the speaker"


def chat_time(talk: Talk, tz: ZoneInfo, starts_at: datetime, minutes: int, place: str, speaker: str) -> ChatTime:
    start = starts_at.astimezone(tz)
    return ChatTime(
        starts_at=start,
        minutes=minutes,
        place=place,
        speaker=speaker_in_words(talk, speaker),
        when=timefmt.when(starts_at, starts_at + timedelta(minutes=minutes), tz),
    )


def from_snapshot(talk: Talk, tz: ZoneInfo, snapshot: dict[str, Any]) -> ChatTime:
    """A slot as a message's payload keeps it (chats.snapshot)."""
    return chat_time(
        talk,
        tz,
        datetime.fromisoformat(snapshot["starts_at"]),
        int(snapshot["minutes"]),
        str(snapshot.get("place") or ""),
        str(snapshot.get("speaker") or ""),
    )


def from_slot(talk: Talk, tz: ZoneInfo, slot: ChatSlot) -> ChatTime:
    return chat_time(talk, tz, slot.starts_at, slot.minutes, slot.place, slot.speaker_name)


def booked_chat(session: Session, talk: Talk, rsvp: Rsvp) -> ChatTime | None:
    """The person's chat as it is now, for their reminder; None without one."""
    booking = chats.booking_of(session, rsvp.id)
    if booking is None:
        return None
    return from_slot(talk, ZoneInfo(talk.series.timezone), booking.slot)


def open_slots(session: Session, talk: Talk, now: datetime) -> list[ChatTime]:
    """Slots anyone can still book, first come: for those the draw did not place."""
    if chats.phase(session, talk, now) is not chats.Phase.FIRST_COME:
        return []
    tz = ZoneInfo(talk.series.timezone)
    return [
        from_slot(talk, tz, places.slot)
        for places in chats.places(session, talk.id)
        if not places.full and places.slot.starts_at > now
    ]


# To the person booked ------------------------------------------------------------------------


def subject(kind: str, talk: Talk, payload: dict[str, Any], speaker: str) -> str:
    title = talk.title
    if kind == "chat.confirmation":
        if payload.get("drawn"):
            return f"The draw gave you a chat with {speaker}: “{title}”"
        return f"Your chat with {speaker}: “{title}”"
    if kind == "chat.moved" and payload.get("reason") == "talk_reinstated":
        return f"Your chat is back on: “{title}”"
    return {
        "chat.wishes": f"Your wishes for a chat: “{title}”",
        "chat.moved": f"Your chat moved: “{title}”",
        "chat.cancelled": f"Chat cancelled: “{title}”",
        "chat.erased": f"Chat cancelled: “{title}”",
        "chat.not_drawn": f"No chat this time: “{title}”",
    }[kind]


def compose(
    kind: str,
    *,
    series: Series,
    talk: Talk,
    rsvp: Rsvp,
    links: Links,
    payload: dict[str, Any],
    render: Render,
    now: datetime,
    still_open: list[ChatTime] | None = None,
) -> EmailMessage:
    """An email about the person's chat, text and HTML, with the chat's invite when it has one.

    `still_open`: for "no chat this time", the slots left to book first come.
    """
    tz = ZoneInfo(series.timezone)
    slot = from_snapshot(talk, tz, payload["slot"]) if payload.get("slot") else None
    wishes = [from_snapshot(talk, tz, wish) for wish in payload.get("wishes") or []]
    draw_at = payload.get("draw_at")
    if slot is not None:
        speaker = slot.speaker
    elif wishes:
        speaker = " or ".join(dict.fromkeys(wish.speaker for wish in wishes))
    else:
        speaker = speaker_in_words(talk, "")
    signed_up = rsvp.status != RsvpStatus.CANCELLED and kind != "chat.erased"
    context = {
        "kind": kind,
        "series": series,
        "talk": talk,
        "rsvp": rsvp,
        "links": links,
        "slot": slot,
        "speaker": speaker,
        "topic": (rsvp.chat_topic or "").strip() if kind != "chat.erased" else "",
        "wishes": wishes,
        "draw_at": timefmt.when_at(datetime.fromisoformat(draw_at), tz) if draw_at else "",
        "reason": payload.get("reason", ""),
        "by_organizer": bool(payload.get("by_organizer")),
        "drawn": bool(payload.get("drawn")),
        "still_open": still_open or [],
        "talk_when": timefmt.when(talk.starts_at, talk.ends_at, tz),
        # The manage link, to change or cancel the chat, while there is a sign-up it can manage.
        "manage": signed_up and not talk.is_cancelled,
    }
    message = new_message(
        series,
        subject(kind, talk, payload, speaker),
        to_name=rsvp.name,
        to_email=rsvp.email,
        domain=links.domain,
        now=now,
    )
    message.set_content(render("email/chat.txt", **context))
    message.add_alternative(render("email/chat.html", **context), subtype="html")
    method = INVITE_METHOD.get(kind)
    if method and slot is not None:
        invite = ics.chat_invite(
            series,
            talk,
            rsvp_id=rsvp.id,
            name=rsvp.name,
            email=rsvp.email,
            speaker=slot.speaker,
            starts_at=slot.starts_at,
            minutes=slot.minutes,
            place=slot.place,
            sequence=int(payload.get("sequence") or 0),
            method=method,
            domain=links.domain,
            url=links.talk_url,
            stamp=now,
            topic=context["topic"],
        )
        message.add_attachment(
            invite, maintype="text", subtype="calendar", filename="chat.ics", params={"method": method}
        )
    return message


# To the speaker -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Guest:
    name: str
    affiliation: str  # "" unless the talk asks people for theirs
    topic: str


@dataclass(frozen=True)
class ScheduledChat:
    time: ChatTime
    capacity: int
    guests: list[Guest]


@dataclass(frozen=True)
class SpeakerGroup:
    speaker: str  # whom these chats are with, in words
    chats: list[ScheduledChat]


@dataclass(frozen=True)
class SpeakerSchedule:
    """One speaker's chats (or every chat of the talk), with the people booked and nothing else."""

    talk_title: str
    talk_when: str
    speaker: str  # whom the schedule is for, in words
    groups: list[SpeakerGroup]  # one per speaker when it holds several speakers' chats
    cancelled: bool  # the talk is cancelled, and its chats with it
    open_until: str  # while people can still book: until when ("" once closed)

    @property
    def people(self) -> int:
        return sum(len(chat.guests) for group in self.groups for chat in group.chats)


def speaker_schedule(session: Session, talk: Talk, speaker_name: str, now: datetime) -> SpeakerSchedule:
    """The chats of one speaker of the talk ("": all of them), as their page and email show them."""
    tz = ZoneInfo(talk.series.timezone)
    groups: list[SpeakerGroup] = []
    for slot, bookings in chats.schedule_for(session, talk, speaker_name):
        time = from_slot(talk, tz, slot)
        if speaker_name:
            time = ChatTime(time.starts_at, time.minutes, time.place, speaker_in_words(talk, speaker_name), time.when)
        guests = [
            Guest(
                name=booking.rsvp.name,
                affiliation=booking.rsvp.affiliation if talk.ask_affiliation else "",
                topic=(booking.rsvp.chat_topic or "").strip(),
            )
            for booking in bookings
        ]
        if not groups or groups[-1].speaker != time.speaker:
            groups.append(SpeakerGroup(time.speaker, []))
        groups[-1].chats.append(ScheduledChat(time, slot.capacity, guests))
    closes = chats.closes_at(talk)
    return SpeakerSchedule(
        talk_title=talk.title,
        talk_when=timefmt.when(talk.starts_at, talk.ends_at, tz),
        speaker=speaker_in_words(talk, speaker_name),
        groups=groups,
        cancelled=talk.is_cancelled,
        open_until=timefmt.when_at(closes, tz) if chats.is_open(talk, now) else "",
    )


@dataclass(frozen=True)
class SpeakerLinks:
    talk_url: str
    schedule_url: str  # the speaker's page; "" while the organizers have made no link
    domain: str


def compose_speaker_schedule(
    *,
    series: Series,
    talk: Talk,
    to_name: str,
    to_email: str,
    schedule: SpeakerSchedule,
    updated: bool,
    links: SpeakerLinks,
    render: Render,
    now: datetime,
) -> EmailMessage:
    context = {
        "series": series,
        "talk": talk,
        "name": to_name,
        "schedule": schedule,
        "updated": updated,
        "links": links,
    }
    title = f"your chats after “{talk.title}”"
    message = new_message(
        series,
        f"Updated: {title}" if updated else title[0].upper() + title[1:],
        to_name=to_name,
        to_email=to_email,
        domain=links.domain,
        now=now,
    )
    message.set_content(render("email/speaker_schedule.txt", **context))
    message.add_alternative(render("email/speaker_schedule.html", **context), subtype="html")
    return message
