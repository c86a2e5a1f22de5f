"""The announcement email a series sends to its mailing lists, one per talk.

Organizers write ONE template per series (Series.announce_template; "" means Lectern's own,
`DEFAULT_TEMPLATE`). It is Markdown with Jinja2 tags, run in Jinja2's immutable sandbox, and it
begins with its subject line ("Subject: …"). Rendered once as it is, it is the plain-text
email, which reads as written; rendered a second time with every plain value escaped for
Markdown, then through markdown-it-py (a line break stays a line break) and nh3, it is the
HTML email. So what organizers see in the text is what the HTML shows, formatted.

A template that does not render is refused when it is saved, with the line at fault: it is
tried on two sample talks, one with every detail and one with almost none (no room, no
speakers, no chats), so that a `{{ chats.slots }}` outside `{% if chats %}` is found then,
not on the day of the announcement.

Sending writes one outbox message per list address, holding the email as it was previewed;
services/delivery.py sends them with the configured mail server. The announcement never holds
a join link: people who sign up get theirs.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import nh3
from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markdown_it import MarkdownIt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import AuditEntry, ChatAssignment, Series, Talk, TalkStatus
from services import addresses, chats, outbox, richtext, timefmt
from services.signups import signups_open
from services.text import list_items, one_line

KIND = "announcement.email"
AUDIT_ACTION = "talk.announce"
# Longer than any announcement anyone reads; a template looping out of control stops here.
MAX_LENGTH = 100_000
# What "short" keeps of an abstract or a bio: its first paragraph, cut at a word near this length.
SHORT_LENGTH = 600

# Lectern's own template, used while a series has none of its own; kept in a file of its own to read as organizers do.
DEFAULT_TEMPLATE = (Path(__file__).parent / "announcement_default.md").read_text(encoding="utf-8")

# What organizers may use in a template, as the help on the settings page lists it.
VARIABLES: list[tuple[str, str]] = [
    ("series_name", "The series' name."),
    ("title", "The talk's title."),
    ("speakers", "The speakers' names (“Ada Lovelace and Alan Turing”); empty for a group discussion."),
    ("affiliation", "The speakers' affiliations, each named once."),
    ("tentative", "True while the talk is to be confirmed."),
    ("date", "The day: “Monday, March 14, 2031”."),
    ("short_date", "The day, short: “Fri, Mar 14”."),
    ("time", "The time, in the series' time zone: “11:30 AM – 12:30 PM EDT”."),
    ("room", "The room's name; empty for a talk online only."),
    ("directions", "How to find the room."),
    ("online", "The platform (“Zoom”) when the talk can be followed online; empty otherwise. Never a join link."),
    ("intro", "The talk's introduction (Markdown)."),
    ("abstract, abstract_short", "The abstract (Markdown), whole or its first paragraph; every part's, in order."),
    ("bio, bio_short", "The speakers' bio (Markdown), whole or its first paragraph."),
    (
        "parts",
        "Each part of the talk, with part.title, part.speakers, part.affiliation, part.abstract, "
        "part.abstract_short, part.bio and part.bio_short.",
    ),
    ("several_parts", "True when the talk has more than one part."),
    ("signup_open", "True while people can sign up."),
    ("signup_closes", "When sign-up closes: “Friday, March 14, 2031, 11:30 AM EDT”."),
    ("signup_url", "The sign-up form."),
    ("talk_url", "The talk's page."),
    ("calendar_url", "The talk's calendar file (.ics)."),
    ("chat_url", "Where people book a chat with the speakers; empty without chats."),
    (
        "chats",
        "Empty when the talk has no chats open; otherwise chats.slots, chats.places, chats.draw (true with a "
        "draw), chats.assignment (“first come, first served” or “a draw on …”), chats.draw_at, chats.closes_at.",
    ),
    ("contact_email", "The series' contact address."),
]


class AnnouncementError(ValueError):
    """Something an organizer can fix; the message says what, in words for them."""

    def __init__(self, message: str, field: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.line = line


class TemplateProblem(AnnouncementError):
    """The template does not render: a syntax error, an unknown name, a forbidden operation."""

    def __init__(self, detail: str, line: int | None = None) -> None:
        super().__init__(f"Line {line}: {detail}" if line else detail, "announce_template", line)
        self.detail = detail


class AlreadySent(AnnouncementError):
    """This talk's announcement went out before; sending it again needs the organizer's say-so."""

    def __init__(self, sent_at: datetime) -> None:
        super().__init__("This announcement was sent before. Tick “Send again” to send it once more.")
        self.sent_at = sent_at


class Markdown(str):
    """Text that is Markdown already (an abstract, a link): put into the HTML version as is."""


@dataclass(frozen=True)
class Links:
    talk_url: str
    signup_url: str
    calendar_url: str
    chat_url: str  # "" when the talk has no chats


@dataclass(frozen=True)
class Part:
    title: str
    speakers: str
    affiliation: str
    abstract: Markdown
    abstract_short: Markdown
    bio: Markdown
    bio_short: Markdown


@dataclass(frozen=True)
class Chats:
    slots: int
    places: int
    draw: bool
    assignment: str
    draw_at: str
    closes_at: str


@dataclass(frozen=True)
class Announcement:
    subject: str
    text: str
    html: str  # a sanitised fragment; `email_html` makes the email's document of it


# The template -------------------------------------------------------------------------------


def template_of(series: Series) -> str:
    return series.announce_template or DEFAULT_TEMPLATE


def normalised(source: str) -> str:
    """As a browser's textarea sends it (CRLF) or as typed: one kind of line break, no trailing blank."""
    return (source or "").replace("\r\n", "\n").replace("\r", "\n").rstrip()


def is_default(source: str) -> bool:
    return normalised(source) == normalised(DEFAULT_TEMPLATE)


# A tag never runs past its own end ("%}"): one way to read a line, so a long one cannot stall the match.
_ONLY_TAGS = re.compile(r"^\s*(?:\{%(?:(?!%\}).)*%\}\s*|\{#(?:(?!#\}).)*#\}\s*)+$")
_TAG_AT_END = re.compile(r"(?<![-+])([%#])\}(\s*)$")


def _line_rule(source: str) -> str:
    """A line holding only tags leaves nothing, not even its line break; every other line keeps its
    own. (Jinja's trim_blocks alone would also join a line ending in `{% endif %}` to the next.)

    Only tag endings change, so the lines keep their numbers for error messages.
    """
    lines = source.split("\n")
    return "\n".join(line if _ONLY_TAGS.match(line) else _TAG_AT_END.sub(r"+\1}\2", line) for line in lines)


def _escape_markdown(value: str) -> str:
    """Plain text shown as typed in Markdown: every ASCII punctuation mark backslash-escaped
    (which also turns `<` and `&` into text, never into HTML)."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", value)


def _plain(value: Any) -> Any:
    return "" if value is None else value


def _for_html(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Markdown) or not isinstance(value, str):
        return value
    return _escape_markdown(value)


@lru_cache(maxsize=2)
def _environment(html: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,  # a misspelt name is an error, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # the HTML version is escaped for Markdown instead (`_for_html`), then sanitised
        finalize=_for_html if html else _plain,
    )


def _line_of(error: BaseException) -> int | None:
    """The template's line where rendering failed, from the traceback Jinja rewrites to point at it."""
    if isinstance(error, TemplateSyntaxError):
        return error.lineno
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == "<template>"]
    return lines[-1] if lines else None


def _words(error: BaseException) -> str:
    if isinstance(error, TemplateSyntaxError):
        return error.message or str(error)
    text = str(error) or type(error).__name__
    if "is undefined" in text:
        return f"{text}. The names a template may use are listed under “Announcement template”."
    return text


def _render_one(source: str, context: dict[str, Any], *, html: bool) -> str:
    try:
        template = _environment(html).from_string(_line_rule(source))
        output: list[str] = []
        length = 0
        for chunk in template.generate(**context):
            output.append(chunk)
            length += len(chunk)
            if length > MAX_LENGTH:
                raise TemplateProblem(f"The announcement grows past {MAX_LENGTH:,} characters.")
        return "".join(output)
    except TemplateProblem:
        raise
    except Exception as error:  # whatever a template can cause (TemplateError and more) is the organizer's to fix
        raise TemplateProblem(_words(error), _line_of(error)) from None


def _tidy(text: str) -> str:
    """No trailing spaces, at most one empty line in a row (left by details a talk does not have)."""
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _split_subject(output: str) -> tuple[str, str]:
    head, _, body = output.lstrip("\n").partition("\n")
    found = re.match(r"(?i)^\s*subject\s*:(.*)$", head)
    if found is None:
        raise TemplateProblem("The template must begin with the subject line, such as “Subject: {{ title }}”.", line=1)
    return found[1], body


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # A line break in the template is a line break in the HTML too, as it is in the text.
    return MarkdownIt("commonmark", {"html": True, "breaks": True}).enable("table").enable("strikethrough")


def markdown_to_html(source: str) -> str:
    return nh3.clean(
        _parser().render(source),
        tags=richtext.ALLOWED_TAGS,
        attributes=richtext.ALLOWED_ATTRIBUTES,
        filter_style_properties=richtext.ALLOWED_STYLES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def render(source: str, context: dict[str, Any]) -> Announcement:
    """The announcement a template makes of a talk's details, or TemplateProblem."""
    subject, text = _split_subject(_render_one(source, context, html=False))
    subject = one_line(subject)
    if not subject:
        raise TemplateProblem("The subject line is empty.", line=1)
    text = _tidy(text)
    if not text.strip():
        raise TemplateProblem("The announcement has a subject but nothing below it.")
    _, markdown = _split_subject(_render_one(source, context, html=True))
    return Announcement(subject=subject, text=text + "\n", html=markdown_to_html(_tidy(markdown)))


def check_template(source: str) -> None:
    """TemplateProblem unless the template renders for a talk with every detail and one with almost none."""
    render(source, sample_context(full=True))
    try:
        render(source, sample_context(full=False))
    except TemplateProblem as problem:
        raise TemplateProblem(
            f"{problem.detail} (for a talk without a room, speakers or chats: "
            "put {% if … %} around what a talk may lack)",
            problem.line,
        ) from None


# A talk's details ---------------------------------------------------------------------------


def _names(names: list[str]) -> str:
    names = [one_line(name) for name in names if name]
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def short(markdown: str, limit: int = SHORT_LENGTH) -> Markdown:
    """The first paragraph, cut at a word near `limit` characters."""
    first = re.split(r"\n\s*\n", (markdown or "").strip(), maxsplit=1)[0].strip()
    if len(first) > limit:
        first = first[:limit].rsplit(None, 1)[0].rstrip(" ,;:.") + " …"
    return Markdown(first)


def _moment(at: datetime, tz: ZoneInfo) -> str:
    """'Friday, March 14, 2031, 11:30 AM EDT'."""
    local = timefmt.local(at, tz)
    return f"{timefmt.day(local.date())}, {timefmt.clock(local)} {local.tzname()}"


def chat_details(summary: chats.ChatSummary | None, tz: ZoneInfo) -> Chats | None:
    if summary is None:
        return None
    draw = summary.assignment == ChatAssignment.DRAW and summary.draw_at is not None
    draw_at = _moment(summary.draw_at, tz) if draw and summary.draw_at else ""
    return Chats(
        slots=summary.slots,
        places=summary.places,
        draw=draw,
        assignment=f"a draw on {draw_at}" if draw else "first come, first served",
        draw_at=draw_at,
        closes_at=_moment(summary.closes_at, tz),
    )


def open_chats(session: Session, talk: Talk, now: datetime) -> chats.ChatSummary | None:
    """The talk's chats, when people can still book one: an announcement says nothing of closed ones."""
    summary = chats.summary(session, talk)
    if summary is None or not talk.chat_open or summary.closes_at <= now:
        return None
    return summary


def context_for(talk: Talk, links: Links, chat_summary: chats.ChatSummary | None, now: datetime) -> dict[str, Any]:
    """What a template is given about a talk. Never a join link."""
    series = talk.series
    tz = ZoneInfo(series.timezone)
    start = timefmt.local(talk.starts_at, tz)
    parts = [
        Part(
            title=one_line(part.title),
            speakers=_names([speaker.name for speaker in part.speakers]),
            affiliation=" and ".join(dict.fromkeys(one_line(s.affiliation) for s in part.speakers if s.affiliation)),
            abstract=Markdown(part.abstract_md.strip()),
            abstract_short=short(part.abstract_md),
            bio=Markdown(part.bio_md.strip()),
            bio_short=short(part.bio_md),
        )
        for part in talk.parts
    ]
    details = chat_details(chat_summary, tz)
    return _context(
        series_name=one_line(series.name),
        title=one_line(talk.title),
        speakers=_names(talk.speaker_names),
        affiliation=one_line(talk.affiliation),
        tentative=talk.status == TalkStatus.TENTATIVE,
        date=timefmt.day(start.date()),
        short_date=timefmt.short_day(start.date()),
        time=timefmt.time_range(talk.starts_at, talk.ends_at, tz),
        room=one_line(talk.room.name) if talk.room else "",
        directions=(talk.room.directions or "").strip() if talk.room else "",
        online=one_line(talk.online_platform),
        intro=Markdown((talk.intro_md or "").strip()),
        parts=parts,
        signup_open=signups_open(talk, now),
        signup_closes=_moment(talk.signup_deadline, tz),
        links=Links(links.talk_url, links.signup_url, links.calendar_url, links.chat_url if details else ""),
        chats=details,
        contact_email=series.contact_email or "",
    )


def _context(*, parts: list[Part], links: Links, chats: Chats | None, **values: Any) -> dict[str, Any]:
    def joined(pick: str) -> Markdown:
        return Markdown("\n\n".join(getattr(part, pick) for part in parts if getattr(part, pick)))

    return {
        **values,
        "parts": parts,
        "several_parts": len(parts) > 1,
        "abstract": joined("abstract"),
        "abstract_short": short(joined("abstract")),
        "bio": joined("bio"),
        "bio_short": short(joined("bio")),
        "chats": chats,
        # Links are made by Lectern: put in as they are, so that <…> around one makes it a link.
        "signup_url": Markdown(links.signup_url),
        "talk_url": Markdown(links.talk_url),
        "calendar_url": Markdown(links.calendar_url),
        "chat_url": Markdown(links.chat_url),
        "contact_email": Markdown(values.get("contact_email", "")),
    }


def sample_context(*, full: bool) -> dict[str, Any]:
    """A made-up talk to try a template on: with every detail, or with almost none."""
    site = "https://talks.example.org"
    links = Links(f"{site}/talks/sample", f"{site}/talks/sample/rsvp", f"{site}/talks/sample.ics", "")
    if not full:
        return _context(
            series_name="Sample Series",
            title="A sample session",
            speakers="",
            affiliation="",
            tentative=False,
            date="Friday, March 14, 2031",
            short_date="Fri, Mar 14",
            time="11:30 AM – 12:30 PM EDT",
            room="",
            directions="",
            online="",
            intro=Markdown(""),
            parts=[Part("", "", "", Markdown(""), Markdown(""), Markdown(""), Markdown(""))],
            signup_open=False,
            signup_closes="Friday, March 14, 2031, 11:30 AM EDT",
            links=links,
            chats=None,
            contact_email="",
        )
    part = Part(
        "A first part",
        "Ada Lovelace and Alan Turing",
        "Analytical Engines Ltd",
        Markdown("An abstract, with *emphasis*.\n\nA second paragraph."),
        Markdown("An abstract, with *emphasis*."),
        Markdown("A bio."),
        Markdown("A bio."),
    )
    return _context(
        series_name="Sample Series",
        title="A sample talk",
        speakers="Ada Lovelace and Alan Turing",
        affiliation="Analytical Engines Ltd",
        tentative=True,
        date="Friday, March 14, 2031",
        short_date="Fri, Mar 14",
        time="11:30 AM – 12:30 PM EDT",
        room="Room 101",
        directions="Second floor.",
        online="Zoom",
        intro=Markdown("An introduction."),
        parts=[part, part],
        signup_open=True,
        signup_closes="Friday, March 14, 2031, 11:30 AM EDT",
        links=Links(links.talk_url, links.signup_url, links.calendar_url, f"{site}/talks/sample/chat"),
        chats=Chats(
            slots=3,
            places=9,
            draw=True,
            assignment="a draw on Thursday, March 13, 2031, 11:30 AM EDT",
            draw_at="Thursday, March 13, 2031, 11:30 AM EDT",
            closes_at="Friday, March 14, 2031, 11:30 AM EDT",
        ),
        contact_email="talks@example.org",
    )


def build(session: Session, talk: Talk, links: Links, now: datetime) -> Announcement:
    """The talk's announcement from its series' template, or TemplateProblem."""
    return render(template_of(talk.series), context_for(talk, links, open_chats(session, talk, now), now))


# The lists and the settings -----------------------------------------------------------------


def parse_lists(text: str) -> list[str]:
    """Addresses typed one a line or separated by commas, each as Lectern keeps addresses, each once."""
    found: list[str] = []
    for typed in list_items(text):
        try:
            address = addresses.deliverable(typed)
        except addresses.AddressError as error:
            message = f"“{typed}” is not an address Lectern can send to: {error}"
            raise AnnouncementError(message, "announce_lists") from None
        if address not in found:
            found.append(address)
    return found


def lists_of(series: Series) -> list[str]:
    return list_items(series.announce_lists)


def save_settings(series: Series, *, lists: str, template: str, reset: bool = False) -> None:
    """The series' mailing lists and announcement template, or AnnouncementError (nothing changed).

    A template left empty, reset, or the same as Lectern's default is kept as "": the series then
    follows Lectern's default as it improves.
    """
    addresses_ = parse_lists(lists)
    source = "" if reset or is_default(template) else normalised(template)
    if source:
        check_template(source)
    series.announce_lists = "\n".join(addresses_)
    series.announce_template = source + "\n" if source else ""


# Sending ------------------------------------------------------------------------------------


def why_not_send(talk: Talk, now: datetime) -> str | None:
    """Why this talk cannot be announced now, in words for the organizer; None when it can."""
    if talk.status == TalkStatus.CANCELLED:
        return "This talk is cancelled: there is nothing to announce."
    if not talk.published:
        return "This talk is hidden from the public: publish it first, or the links in the announcement lead nowhere."
    if talk.starts_at <= now:
        return "This talk has already started."
    return None


def send(
    session: Session,
    talk: Talk,
    announcement: Announcement,
    *,
    lists: list[str],
    domain: str,
    now: datetime,
    again: bool = False,
) -> list[str]:
    """Owe one email per list (outbox), and note when the talk was announced. Returns the lists.

    Call it with the talk locked (talk_editing.talk_to_change): two organizers pressing "Send"
    together then send once, and the second is asked to confirm.
    """
    if not lists:
        raise AnnouncementError("No mailing lists yet: add their addresses in the series settings.")
    if reason := why_not_send(talk, now):
        raise AnnouncementError(reason)
    if talk.announced_at is not None and not again:
        raise AlreadySent(talk.announced_at)
    for address in lists:
        outbox.add(
            session,
            KIND,
            talk=talk,
            to=outbox.Recipient(address),
            subject=announcement.subject,
            text=announcement.text,
            html=announcement.html,
            domain=domain,
        )
    # Announcing is not a change to the talk: its calendar's LAST-MODIFIED and the feed's
    # "updated" stay as they are (the column's onupdate would move them).
    session.execute(update(Talk).where(Talk.id == talk.id).values(announced_at=now, updated_at=Talk.updated_at))
    session.expire(talk, ["announced_at", "updated_at"])
    return lists


@dataclass(frozen=True)
class LastSent:
    at: datetime
    by: str
    lists: list[str]


def last_sent(session: Session, talk: Talk) -> LastSent | None:
    """When the announcement last went out, by whom and to which lists (from the audit log)."""
    if talk.announced_at is None:
        return None
    entry = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == AUDIT_ACTION, AuditEntry.target == f"talk {talk.slug}")
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(1)
    ).first()
    if entry is None or not entry.after:
        return LastSent(talk.announced_at, "", [])
    return LastSent(talk.announced_at, entry.actor, list(entry.after.get("lists", [])))


def email_html(fragment: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n'
        '<body style="font-family: system-ui, sans-serif; color: #1d232b; line-height: 1.5; max-width: 36rem;">\n'
        f"{fragment}\n</body>\n</html>\n"
    )


def compose(series: Series, *, to: str, payload: dict[str, Any], now: datetime) -> EmailMessage:
    """The email to one list, from the announcement as it was when an organizer sent it."""
    domain = str(payload.get("domain") or "lectern.invalid")
    message = EmailMessage()
    message["Subject"] = one_line(str(payload["subject"]))
    sender = addresses.as_key(one_line(series.contact_email)) if series.contact_email else f"no-reply@{domain}"
    message["From"] = formataddr((one_line(series.name), sender))
    message["To"] = addresses.as_key(one_line(to))
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(str(payload["text"]))
    message.add_alternative(email_html(str(payload["html"])), subtype="html")
    return message


def superseded(talk: Talk, now: datetime) -> str | None:
    """Why an announcement still owed (a mail server down for hours) should no longer go."""
    if talk.status == TalkStatus.CANCELLED:
        return "superseded: the talk is cancelled since"
    if talk.starts_at <= now:
        return "superseded: the talk has started"
    return None
