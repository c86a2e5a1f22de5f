"""The emails attendees receive: text and HTML side by side, with their calendar invite.

The emails about chats with the speaker are written in services/chat_mail.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from models import Rsvp, RsvpStatus, Series, Talk
from services import addresses, ics, timefmt
from services.text import one_line

if TYPE_CHECKING:
    from services.chat_mail import ChatTime

Render = Callable[..., str]  # (template name, **context) -> text


@dataclass(frozen=True)
class Links:
    talk_url: str
    manage_url: str
    domain: str
    join_url: str | None = None  # only this person's: their own link, or the one pasted for people signed up
    chat_url: str = ""  # the talk's page for booking a chat with the speaker
    join_personal: bool = False  # join_url is this person's own link (not to be shared)
    join_pending: bool = False  # their own link is on its way (a separate email brings it)


def talk_day(talk: Talk, now: datetime, tz: ZoneInfo) -> str:
    """When the talk is, for a reminder sent within a day of it: today or tomorrow, in the series' zone."""
    return "today" if talk.starts_at.astimezone(tz).date() <= now.astimezone(tz).date() else "tomorrow"


def subject(kind: str, talk: Talk, rsvp: Rsvp, position: int | None, day: str = "tomorrow") -> str:
    if kind == "rsvp.confirmation":
        return {
            RsvpStatus.SEATED: f"Your seat for “{talk.title}”",
            RsvpStatus.WAITING: f"Waiting list, number {position}: “{talk.title}”",
            RsvpStatus.ONLINE: f"You are signed up to follow “{talk.title}” online",
        }.get(rsvp.status, f"Your sign-up for “{talk.title}”")
    return {
        "rsvp.manage_link": f"Your sign-up for “{talk.title}”",
        "rsvp.promoted": f"A seat is yours: “{talk.title}”",
        "rsvp.updated": f"Your sign-up changed: “{talk.title}”",
        "rsvp.cancelled": f"Sign-up cancelled: “{talk.title}”",
        "rsvp.erased": f"Sign-up erased: “{talk.title}”",
        "talk.changed": f"Changed: “{talk.title}”",
        "talk.cancelled": f"Cancelled: “{talk.title}”",
        "talk.reminder": f"{day.capitalize()}: “{talk.title}”",
        "rsvp.join_link": f"Your link to join online: “{talk.title}”",
    }[kind]


def invite_method(kind: str, rsvp: Rsvp) -> str | None:
    """Which invite goes with the email: a new or updated one, a cancellation, or none."""
    if kind == "rsvp.manage_link":
        return None
    if kind in ("rsvp.cancelled", "talk.cancelled") or rsvp.status == RsvpStatus.CANCELLED:
        return "CANCEL"
    return "REQUEST"


def new_message(
    series: Series, subject: str, *, to_name: str, to_email: str, domain: str, now: datetime
) -> EmailMessage:
    """An email from the series, its headers set, its body still to write."""
    message = EmailMessage()
    # Header values are kept to one line: a line break in a title or a name is refused by the
    # email package (and would be a header injection if it were not).
    message["Subject"] = one_line(subject)
    # Addresses saved before they were kept in ASCII (an IDN domain) are sent in that form too.
    sender = addresses.as_key(one_line(series.contact_email)) if series.contact_email else f"no-reply@{domain}"
    message["From"] = formataddr((one_line(series.name), sender))
    message["To"] = formataddr((one_line(to_name), addresses.as_key(one_line(to_email))))
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=domain)
    return message


def compose(
    kind: str,
    *,
    series: Series,
    talk: Talk,
    rsvp: Rsvp,
    links: Links,
    position: int | None,
    render: Render,
    now: datetime,
    payload: dict[str, object] | None = None,
    chat: ChatTime | None = None,
) -> EmailMessage:
    """`chat`: the person's chat with the speaker, which their reminder mentions."""
    tz = ZoneInfo(series.timezone)
    day = talk_day(talk, now, tz)
    context = {
        "kind": kind,
        "series": series,
        "talk": talk,
        "rsvp": rsvp,
        "links": links,
        "position": position,
        "when": timefmt.when(talk.starts_at, talk.ends_at, tz),
        "payload": payload or {},
        "statuses": RsvpStatus,
        "day": day,
        "chat": chat,
    }
    message = new_message(
        series,
        subject(kind, talk, rsvp, position, day),
        to_name=rsvp.name,
        to_email=rsvp.email,
        domain=links.domain,
        now=now,
    )
    message.set_content(render("email/attendee.txt", **context))
    message.add_alternative(render("email/attendee.html", **context), subtype="html")
    if method := invite_method(kind, rsvp):
        invite = ics.attendee_invite(
            series,
            talk,
            rsvp,
            method=method,
            domain=links.domain,
            url=links.talk_url,
            stamp=now,
            join_url=links.join_url,
        )
        message.add_attachment(
            invite, maintype="text", subtype="calendar", filename="invite.ics", params={"method": method}
        )
    return message
