"""iCalendar files: the public ones (one talk, the whole series: METHOD:PUBLISH, nothing private)
and the invites emailed to one person (their sign-up, their chat with the speaker)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from models import Rsvp, RsvpStatus, Series, Talk, TalkStatus
from services.text import one_line

PRODID = "-//Lectern//Talk series//EN"
ICS_STATUS = {
    TalkStatus.SCHEDULED: "CONFIRMED",
    TalkStatus.TENTATIVE: "TENTATIVE",
    TalkStatus.CANCELLED: "CANCELLED",
}


def google_calendar_link(talk: Talk, tz: ZoneInfo, url: str) -> str:
    """An "add to Google Calendar" link: a plain link, nothing is loaded from Google."""
    stamp = "%Y%m%dT%H%M%SZ"
    query = {
        "action": "TEMPLATE",
        "text": one_line(talk.title),
        "dates": f"{talk.starts_at.astimezone(UTC):{stamp}}/{talk.ends_at.astimezone(UTC):{stamp}}",
        "details": f"{', '.join(talk.speaker_names)}\n{url}".strip(),
        "location": location_text(talk),
        "ctz": tz.key,
    }
    return "https://calendar.google.com/calendar/render?" + urlencode(query)


def talk_uid(talk: Talk, domain: str) -> str:
    """Stable for the talk's lifetime: built from its id, never from its date or title."""
    return f"talk-{talk.id}@{domain}"


def location_text(talk: Talk) -> str:
    places = [talk.room.name] if talk.room else []
    if talk.online_platform:
        places.append(f"online ({talk.online_platform})")
    return one_line(" and ".join(places))


def talk_event(talk: Talk, *, tz: ZoneInfo, domain: str, url: str, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", talk_uid(talk, domain))
    event.add("dtstamp", stamp)
    event.add("sequence", talk.sequence)
    event.add("dtstart", talk.starts_at.astimezone(tz))
    event.add("dtend", talk.ends_at.astimezone(tz))
    # Whatever the database holds (an import, data saved before forms kept names to one line),
    # what a calendar shows on one line is made one line here.
    speakers = ", ".join(one_line(name) for name in talk.speaker_names)
    title = one_line(talk.title)
    event.add("summary", f"{title} ({speakers})" if speakers else title)
    description = [talk.title]
    if speakers:
        description.append(f"Speaker{'s' if len(talk.speaker_names) > 1 else ''}: {speakers}")
    if talk.affiliation:
        description.append(talk.affiliation)
    description.append(f"Details: {url}")
    event.add("description", "\n".join(description))
    if location := location_text(talk):
        event.add("location", location)
    event.add("url", url)
    event.add("status", ICS_STATUS[talk.status])
    event.add("last-modified", talk.updated_at)
    return event


def public_calendar(
    series: Series, talks: Iterable[Talk], *, domain: str, url_for_talk: Callable[[Talk], str], stamp: datetime
) -> bytes:
    tz = ZoneInfo(series.timezone)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # Added as raw text (not escaped like SUMMARY), so a line break here would break the file.
    calendar.add("x-wr-calname", one_line(series.name))
    calendar.add("x-wr-timezone", one_line(series.timezone))
    talks = list(talks)
    for talk in talks:
        calendar.add_component(talk_event(talk, tz=tz, domain=domain, url=url_for_talk(talk), stamp=stamp))
    # The zone's rules only for the years the talks span, not the default 1970-2038 span.
    years = [talk.starts_at.year for talk in talks] or [stamp.year]
    calendar.add_missing_timezones(first_date=date(min(years) - 1, 1, 1), last_date=date(max(years) + 1, 12, 31))
    return calendar.to_ical()


def attendee_uid(talk: Talk, rsvp: Rsvp, domain: str) -> str:
    """Stable for this attendee's invite: built from ids only."""
    return f"rsvp-{rsvp.id}-talk-{talk.id}@{domain}"


def attendee_invite(
    series: Series,
    talk: Talk,
    rsvp: Rsvp,
    *,
    method: str,
    domain: str,
    url: str,
    stamp: datetime,
    join_url: str | None = None,
) -> bytes:
    """The invite emailed to one attendee: METHOD:REQUEST (or CANCEL), the series as ORGANIZER.

    Its SEQUENCE is the talk's plus the attendee's own, both of which only grow, so every
    change that matters to the attendee raises it.
    """
    tz = ZoneInfo(series.timezone)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = talk_event(talk, tz=tz, domain=domain, url=url, stamp=stamp)
    event["uid"] = attendee_uid(talk, rsvp, domain)
    event.pop("SEQUENCE")
    event.add("sequence", talk.sequence + rsvp.sequence)
    if method == "CANCEL" or rsvp.status == RsvpStatus.CANCELLED:
        event["status"] = "CANCELLED"
    organizer = vCalAddress(f"mailto:{one_line(series.contact_email) or 'no-reply@' + domain}")
    organizer.params["cn"] = vText(one_line(series.name))
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{one_line(rsvp.email)}")
    attendee.params["cn"] = vText(one_line(rsvp.name))
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("ACCEPTED")
    event.add("attendee", attendee)
    if join_url and rsvp.status != RsvpStatus.CANCELLED:
        event["description"] = f"{event['description']}\nJoin online: {join_url}"
    calendar.add_component(event)
    year = talk.starts_at.year
    calendar.add_missing_timezones(first_date=date(year - 1, 1, 1), last_date=date(year + 1, 12, 31))
    return calendar.to_ical()


def chat_uid(talk_id: int, rsvp_id: int, domain: str) -> str:
    """Stable for one person's chat at one talk, whichever slot it moves to: built from ids only."""
    return f"chat-{rsvp_id}-talk-{talk_id}@{domain}"


def chat_summary(speaker: str, title: str) -> str:
    """'Chat with Grace Hopper after “Compilers”'."""
    return one_line(f"Chat with {speaker or 'the speaker'} after “{title}”")


def chat_invite(
    series: Series,
    talk: Talk,
    *,
    rsvp_id: int,
    name: str,
    email: str,
    speaker: str,
    starts_at: datetime,
    minutes: int,
    place: str,
    sequence: int,
    method: str,
    domain: str,
    url: str,
    stamp: datetime,
    topic: str = "",
) -> bytes:
    """The invite for one person's chat with the speaker, an event of its own beside the talk's.

    Its UID holds only the sign-up's and talk's ids, so a moved chat replaces itself in the
    calendar; its SEQUENCE is the one the change was written with, which only grows.
    METHOD:REQUEST books or moves it, METHOD:CANCEL takes it out.
    """
    tz = ZoneInfo(series.timezone)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", chat_uid(talk.id, rsvp_id, domain))
    event.add("dtstamp", stamp)
    event.add("sequence", sequence)
    start = starts_at.astimezone(tz)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    event.add("summary", chat_summary(speaker, talk.title))
    description = [f"A chat with {one_line(speaker) or 'the speaker'} after the talk “{one_line(talk.title)}”."]
    if topic.strip():
        description.append(f"What you would like to talk about: {topic.strip()}")
    description.append(f"The talk: {url}")
    event.add("description", "\n".join(description))
    if place := one_line(place):
        event.add("location", place)
    event.add("url", url)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{one_line(series.contact_email) or 'no-reply@' + domain}")
    organizer.params["cn"] = vText(one_line(series.name))
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{one_line(email)}")
    attendee.params["cn"] = vText(one_line(name))
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("ACCEPTED")
    event.add("attendee", attendee)
    calendar.add_component(event)
    calendar.add_missing_timezones(first_date=date(start.year - 1, 1, 1), last_date=date(start.year + 1, 12, 31))
    return calendar.to_ical()
