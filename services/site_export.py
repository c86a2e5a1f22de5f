"""Taking a series' talks back out as a Jekyll site: one post per talk in the shape of the group's
own posts, and schedule pages in the group's table format.

A post is written as the importer reads one (`services/jekyll.py`): `names` and `venue` in the
front matter, the layout's lines, the intro, "Talk Description" and "Speaker Bio" sections (one
"# Speaker: Title" group per presentation when there are several), other sections, Slides and
Recording, and the Logistics lines. Where those alone would lose something on the way back in
(who is from where, a room the Location line would not name), the front matter also says it
outright (`speakers`, `room`, `online_platform`, `links`): importing the export into an empty
Lectern gives the same talks.

Framework-free: a session, a series and a folder in; the paths written out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import EntryKind, Semester, Series, Talk, TalkPart, TalkStatus
from services.importer import slug_from_key
from services.site_import.liquid import PUBLICATION_INCLUDE, PUBLICATION_KEYS
from services.site_import.names import split_names
from services.site_import.parts import speakers_from_names
from services.site_import.places import read_place
from services.site_import.talk_info import Warnings
from services.talk_editing import slugify

JEKYLL_HEADER = (
    f"*{{{{ page.names }}}}*\n\n**{{{{ page.venue }}}}**\n\n{{% include {PUBLICATION_INCLUDE} pub=page %}}\n"
)
PLACEHOLDER_TIME = time(12, 0)
_KEY_OF_LABEL = {label: key for key, label in PUBLICATION_KEYS}
_ENTRY_WORDS = {
    EntryKind.BREAK: "Break",
    EntryKind.CONFERENCE: "Conference",
    EntryKind.TBD: "TBD",
    EntryKind.CANCELLED: "Cancelled",
    EntryKind.NOTE: "",
}


@dataclass
class ExportOptions:
    category: str = "Reading-Group"  # the posts' category, as the group's site files them
    tag: str | None = None  # the posts' tag; the series' name when None
    layout: str = "archive"
    classes: tuple[str, ...] = ("wide", "no-sidebar")


@dataclass
class ExportReport:
    posts: list[Path] = field(default_factory=list)
    pages: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def export_jekyll(session: Session, series: Series, folder: Path, options: ExportOptions | None = None) -> ExportReport:
    """Write `_posts/YYYY-MM-DD-slug.md` for every talk of the series, an archive post with the
    schedule table for every semester, and `_pages/<category>.md` for the latest semester."""
    options = options or ExportOptions(tag=series.name)
    tz = ZoneInfo(series.timezone)
    report = ExportReport()
    talks = _talks(session, series)
    names: dict[int, str] = {}
    posts = folder / "_posts"
    posts.mkdir(parents=True, exist_ok=True)
    for talk in talks:
        names[talk.id] = post_file_name(talk, tz, taken=set(names.values()))
    site_links = SiteLinks({talk.slug: names[talk.id] for talk in talks}, f"_pages/{_page_name(options)}")
    for talk in talks:
        name = names[talk.id]
        path = posts / name
        path.write_text(post_text(talk, tz, options, file_name=name, links=site_links), encoding="utf-8")
        report.posts.append(path)
        if talk.status == TalkStatus.CANCELLED:
            report.notes.append(f"{name}: the talk is cancelled; the post does not say so")
    semesters = _semesters(session, series)
    for semester in semesters:
        path = posts / "archive" / f"{_semester_start(semester, talks, tz).isoformat()}-{semester.slug}.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(schedule_text(semester, talks, names, tz, options, page=False), encoding="utf-8")
        report.pages.append(path)
    if semesters:
        latest = max(semesters, key=lambda s: _semester_start(s, talks, tz))
        path = folder / "_pages" / _page_name(options)
        path.parent.mkdir(exist_ok=True)
        path.write_text(schedule_text(latest, talks, names, tz, options, page=True), encoding="utf-8")
        report.pages.append(path)
    return report


def _page_name(options: ExportOptions) -> str:
    return f"{slugify(options.category) or 'schedule'}.md"


@dataclass
class SiteLinks:
    """Links to Lectern's own pages, put back as the Jekyll links they were imported from."""

    post_of_slug: dict[str, str]  # talk slug -> its post's file name
    schedule_page: str  # "_pages/reading-group.md"

    def restore(self, markdown: str) -> str:
        def talk(match: re.Match[str]) -> str:
            post = self.post_of_slug.get(match["slug"])
            return f"]({{% link _posts/{post} %}})" if post else match[0]

        markdown = _TALK_LINK_RE.sub(talk, markdown)
        return _SCHEDULE_LINK_RE.sub(f"]({{% link {self.schedule_page} %}})", markdown)


_TALK_LINK_RE = re.compile(r"\]\(/talks/(?P<slug>[\w-]+)\)")
_SCHEDULE_LINK_RE = re.compile(r"\]\(/semesters\)")


def _talks(session: Session, series: Series) -> list[Talk]:
    query = (
        select(Talk)
        .where(Talk.series_id == series.id)
        .options(
            selectinload(Talk.parts).selectinload(TalkPart.speakers),
            selectinload(Talk.sections),
            selectinload(Talk.room),
            selectinload(Talk.semester),
        )
        .order_by(Talk.starts_at, Talk.id)
    )
    return list(session.scalars(query))


def _semesters(session: Session, series: Series) -> list[Semester]:
    query = (
        select(Semester)
        .where(Semester.series_id == series.id)
        .options(selectinload(Semester.entries), selectinload(Semester.talks))
    )
    return [s for s in session.scalars(query) if s.talks or s.entries]


# ---------------------------------------------------------------------------------------
# One post


def post_file_name(talk: Talk, tz: ZoneInfo, taken: Collection[str] = ()) -> str:
    """ "2024-09-13-priyank-jaini.md": the talk's local date, then its address without a date.
    (A talk whose address is dated otherwise, moved after it was announced, keeps its address
    through the `slug` front matter key, which Jekyll also reads.)"""
    day = talk.starts_at.astimezone(tz).date()
    rest = _without_leading_date(talk.slug) or "talk"
    name, n = f"{day.isoformat()}-{rest}.md", 1
    while name in taken:
        n += 1
        name = f"{day.isoformat()}-{rest}-{n}.md"
    return name


def _without_leading_date(slug: str) -> str:
    parts = slug.split("-")
    if len(parts) > 3 and parts[0].isdigit() and len(parts[0]) == 4 and parts[1].isdigit() and parts[2].isdigit():
        return "-".join(parts[3:])
    return slug


def post_text(
    talk: Talk, tz: ZoneInfo, options: ExportOptions, *, file_name: str | None = None, links: SiteLinks | None = None
) -> str:
    front = _front_matter(talk, tz, options)
    if file_name and slug_from_key(file_name) != talk.slug:
        front["slug"] = talk.slug
    text = _post_body(talk, tz)
    return "---\n" + _yaml(front) + "---\n\n" + (links.restore(text) if links else text)


def _post_body(talk: Talk, tz: ZoneInfo) -> str:
    body = [JEKYLL_HEADER]
    if talk.intro_md.strip():
        body.append(talk.intro_md.strip() + "\n")
    body += _parts_text(talk)
    for section in talk.sections:
        body.append(f"## {section.heading}\n\n{section.body_md.strip()}\n".replace("\n\n\n", "\n\n"))
    if talk.slides_url:
        body.append(f"## Slides\n\n[Slides]({talk.slides_url})\n")
    if talk.recording_url and talk.recording_url != _link(talk, "Video"):
        body.append(f"## Recording\n\n[Recording]({talk.recording_url})\n")
    level = "#" if _grouped(talk) else "##"
    body.append(f"{level} Logistics\n\n{logistics_lines(talk, tz)}\n")
    return "\n".join(body)


def _front_matter(talk: Talk, tz: ZoneInfo, options: ExportOptions) -> dict[str, Any]:
    speakers = talk.speakers
    names = _names_line([s.name for s in speakers])
    venue = _venue_line(speakers)
    front: dict[str, Any] = {"title": talk.title, "venue": venue, "names": names, "author": names}
    front["tags"] = [options.tag] if options.tag else []
    front["categories"] = [options.category] + ([_semester_category(talk.semester.slug)] if talk.semester else [])
    front["layout"] = options.layout
    front["classes"] = list(options.classes)
    for label, url in _talk_links(talk):
        key = _KEY_OF_LABEL.get(label)
        if key and key not in front:
            front[key] = url
    extra = [{"label": label, "url": url} for label, url in _talk_links(talk) if label not in _KEY_OF_LABEL]
    if extra:
        front["links"] = extra
    if not talk.published:
        front["published"] = False
    if not _names_read_back(talk, names, venue):
        front["speakers"] = [
            {k: v for k, v in (("name", s.name), ("affiliation", s.affiliation), ("url", s.url)) if v} for s in speakers
        ]
    room, platform = _place_read_back(talk)
    if room is not None:
        front["room"] = room
    if platform is not None:
        front["online_platform"] = platform
    return front


def _talk_links(talk: Talk) -> list[tuple[str, str]]:
    links = [(str(link.get("label") or "Link"), str(link["url"])) for link in talk.links or [] if link.get("url")]
    if talk.paper_url and ("Paper", talk.paper_url) not in links and "Paper" not in dict(links):
        links.append(("Paper", talk.paper_url))
    return links


def _link(talk: Talk, label: str) -> str | None:
    return dict(_talk_links(talk)).get(label)


def _names_line(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _venue_line(speakers: Iterable[Any]) -> str:
    """One affiliation per speaker joined by "and" (how the importer splits them back), or the
    one they share."""
    affiliations = [s.affiliation or "" for s in speakers]
    if affiliations and all(a == affiliations[0] for a in affiliations):
        return affiliations[0]
    return " and ".join(affiliations)


def _names_read_back(talk: Talk, names: str, venue: str) -> bool:
    """Whether `names` and `venue` give back every speaker, with their affiliation and link."""
    read = speakers_from_names(split_names(names), venue or None, talk.intro_md)
    want = [(s.name, s.affiliation or None, s.url or None) for s in talk.speakers]
    return [(s.name, s.affiliation or None, s.url or None) for s in read] == want


def _place_read_back(talk: Talk) -> tuple[str | None, str | None]:
    """The room and platform to name outright: those the Location line would not give back."""
    line = location_line(talk)
    room, platform = read_place(line, (), Warnings())
    wanted_room = talk.room.name if talk.room else None
    return (wanted_room if room != wanted_room else None), (
        talk.online_platform if platform != talk.online_platform else None
    )


def _grouped(talk: Talk) -> bool:
    return len(talk.parts) > 1 or any(part.title for part in talk.parts)


def _parts_text(talk: Talk) -> list[str]:
    if not talk.parts:
        return []
    if not _grouped(talk):
        part = talk.parts[0]
        chunks = []
        if part.abstract_md.strip():
            chunks.append(f"## Talk Description\n\n{part.abstract_md.strip()}\n")
        if part.bio_md.strip():
            heading = "Speaker Bios" if len(part.speakers) > 1 else "Speaker Bio"
            chunks.append(f"## {heading}\n\n{part.bio_md.strip()}\n")
        return chunks
    chunks = []
    for part in talk.parts:
        who = _names_line([s.name for s in part.speakers])
        heading = f"{who}: {part.title}" if who and part.title else (part.title or who or "Presentation")
        chunks.append(f"# {heading}\n")
        chunks.append(f"## Talk Description\n\n{part.abstract_md.strip()}\n")
        chunks.append(f"## Bio\n\n{part.bio_md.strip()}\n")
    return chunks


def logistics_lines(talk: Talk, tz: ZoneInfo) -> str:
    start = talk.starts_at.astimezone(tz)
    end = talk.ends_at.astimezone(tz)
    default = talk.series.default_minutes if talk.series else 60
    placeholder = talk.status == TalkStatus.TENTATIVE and start.time() == PLACEHOLDER_TIME
    date_text = day_text(start.date())
    if end.date() > start.date():  # a workshop over several days: "April 3rd-4th"
        last = day_text(end.date())
        date_text += f"-{last.split()[-1] if end.month == start.month else last}"
    if placeholder:
        time_text = "TBD"
    else:
        time_text = clock(start)
        if (end - start).total_seconds() != default * 60:
            time_text += f"-{clock(end)}"
    return f"Date: {date_text}<br>\nTime: {time_text} <br>\nLocation: {location_line(talk)}"


def location_line(talk: Talk) -> str:
    room = talk.room.name if talk.room else None
    platform = talk.online_platform
    if room and platform:
        return f"{room} or via {platform}"
    return room or platform or "TBD"


def day_text(day: date) -> str:
    """ "September 13th": how the group writes a date (the year is the file name's)."""
    suffix = "th" if 11 <= day.day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day.day % 10, "th")
    return f"{day:%B} {day.day}{suffix}"


def clock(moment: datetime) -> str:
    """ "11:30AM", "1PM": the group's way with times."""
    hour = moment.hour % 12 or 12
    meridiem = "AM" if moment.hour < 12 else "PM"
    return f"{hour}{meridiem}" if moment.minute == 0 else f"{hour}:{moment:%M}{meridiem}"


def _semester_category(slug: str) -> str:
    return "-".join(word.capitalize() for word in slug.split("-"))


def _yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)


# ---------------------------------------------------------------------------------------
# Schedule tables


def schedule_text(
    semester: Semester,
    talks: list[Talk],
    names: dict[int, str],
    tz: ZoneInfo,
    options: ExportOptions,
    *,
    page: bool,
) -> str:
    """The semester's table in the group's format; as the site's page (`permalink`) or as an
    archive post (category Archive)."""
    if page:
        front: dict[str, Any] = {
            "title": options.category.replace("-", " "),
            "permalink": f"/{slugify(options.category)}/",
        }
    else:
        front = {
            "title": semester.name,
            "tags": [options.tag] if options.tag else [],
            "categories": [options.category, "Archive"],
            "layout": options.layout,
            "classes": list(options.classes),
        }
    intro = semester.intro_md.strip() or f"The talks of the {semester.name} semester. All times are local."
    rows = _schedule_rows(semester, talks, names, tz)
    table = "| **Date @ Time** | **Speaker(s)** | **Topic** | **More Information** |\n|---|---|---|---|\n"
    table += "".join(f"| {' | '.join(cells)} |\n" for _, cells in sorted(rows, key=lambda r: r[0]))
    heading = "## Schedule\n\n" if page else ""
    return "---\n" + _yaml(front) + "---\n\n" + heading + intro + "\n\n" + table


def _schedule_rows(
    semester: Semester, talks: list[Talk], names: dict[int, str], tz: ZoneInfo
) -> list[tuple[tuple[date, int], list[str]]]:
    rows: list[tuple[tuple[date, int], list[str]]] = []
    for talk in talks:
        if talk.semester_id != semester.id or not talk.published:
            continue
        start = talk.starts_at.astimezone(tz)
        when = day_text(start.date())
        if not (talk.status == TalkStatus.TENTATIVE and start.time() == PLACEHOLDER_TIME):
            when += f" @ {clock(start)}"
        who = _names_line(talk.speaker_names) or "Group Discussion"
        topic = _cell(talk.title) + (" (cancelled)" if talk.status == TalkStatus.CANCELLED else "")
        link = f"[click here]({{% link _posts/{names[talk.id]} %}})"
        rows.append(((start.date(), 0), [when, _cell(who), topic, link]))
    for entry in semester.entries:
        when = day_text(entry.on_date) if entry.on_date else ""
        rows.append(
            ((entry.on_date or date.max, 1 + entry.position), [when, _ENTRY_WORDS[entry.kind], _cell(entry.label), ""])
        )
    return rows


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _semester_start(semester: Semester, talks: list[Talk], tz: ZoneInfo) -> date:
    days = [t.starts_at.astimezone(tz).date() for t in talks if t.semester_id == semester.id]
    days += [e.on_date for e in semester.entries if e.on_date]
    first = min(days) if days else date(_semester_year(semester.slug), 1, 1)
    return first.replace(day=1)


def _semester_year(slug: str) -> int:
    tail = slug.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 2000
