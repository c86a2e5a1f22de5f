"""Reading the group's Jekyll talk posts and schedule pages.

Pure functions: text in, plain data out. Nothing here touches the database; the importer
service (`services/importer.py`) decides what the data means for existing talks.

The posts were written by hand over several semesters, so the parser reads for meaning
rather than for exact strings: headings are classified by what they say ("Talk
Description", "Paper Abstract", "Speaker Bios", ...), Logistics lines by their label
("Date:", "When:", ...), and dates, times and places by small tolerant grammars.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, time
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

from services.site_import.body import read_content
from services.site_import.detect import JEKYLL_POST, SiteInfo
from services.site_import.files import (
    SEMESTER_RE,
    file_name_date,
    require_markdown,
    semester_from_categories,
    semester_from_folder,
    source_key_of,
)
from services.site_import.front_fields import front_links
from services.site_import.front_matter import BoundedLoader, load_front_matter
from services.site_import.limits import (
    MAX_FRONT_MATTER_BYTES,
    MAX_POST_BYTES,
    MAX_SPEAKERS,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    NotATalk,
    PostError,
    file_too_large,
    normalise_newlines,
    require_a_talks_proportions,
    require_plain_text,
)
from services.site_import.liquid import (
    LIQUID_OUTPUT_RE,
    LIQUID_TAG_RE,
    LinkResolver,
    drop_jekyll_noise,
    image_urls,
    publication_links,
    resolve_liquid,
    resolve_site_urls,
)
from services.site_import.names import is_tbd, split_names
from services.site_import.pages import ReadContext, read_page
from services.site_import.parts import build_parts, speakers_from_names
from services.site_import.places import platform_of, read_place
from services.site_import.speakers import parse_speakers
from services.site_import.talk_info import PartInfo, PostInfo, SectionInfo, SpeakerInfo, Warnings
from services.site_import.text import as_list, fold, plain_text, split_paragraphs, squash_spaces, text_value
from services.site_import.when import find_clock, find_month_day, read_when

__all__ = [
    "MAX_FRONT_MATTER_BYTES",
    "MAX_POST_BYTES",
    "MAX_SPEAKERS",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "BoundedLoader",
    "NotATalk",
    "PartInfo",
    "PostError",
    "PostInfo",
    "ScheduleInfo",
    "ScheduleRow",
    "SectionInfo",
    "SpeakerInfo",
    "file_too_large",
    "load_front_matter",
    "parse_post",
    "parse_schedule",
    "source_key_of",
    "split_names",
]


@dataclass
class ScheduleRow:
    kind: str  # "talk", "break", "conference", "tbd", "cancelled" or "note"
    local_date: date | None
    local_time: time | None
    speakers: list[str]
    title: str | None
    post_key: str | None  # source_key of the linked post, when the row links one
    text: str  # the row in words, for rows without a talk
    end_time: time | None = None  # when the row gives a range ("11:00 AM -- 1:00 PM")


@dataclass
class ScheduleInfo:
    semester: str  # e.g. "summer-2024"
    name: str  # e.g. "Summer 2024"
    intro_md: str | None
    rows: list[ScheduleRow]


def parse_post(
    text: str,
    *,
    source: str,
    tz: ZoneInfo,
    default_minutes: int = 60,
    site_url: str | None = None,
    resolve_link: LinkResolver = lambda target: target,
    known_rooms: Collection[str] = (),
    site: SiteInfo | None = None,
) -> PostInfo:
    """Read one talk post. `known_rooms` are the series' room names: a Location line that
    mentions one names that room (see `read_place`).

    The group's posts name their speakers in `names` (and their affiliations in `venue`);
    a post written another way (another group's `speaker:`, a "Speaker:" line in the body)
    is read by the reader of any talk page (`services/site_import/pages.py`)."""
    source_key = source_key_of(source)
    require_markdown(source_key)
    require_plain_text(text)
    front, body = _split_front_matter(text)
    _require_talk_post(front, source)
    title = text_value(front.get("title"))
    if not title:
        raise NotATalk("no title in the front matter")
    if "names" not in front:
        context = ReadContext(tz, default_minutes, site_url, resolve_link, known_rooms, site or SiteInfo())
        return read_page(text, source=source, key=source_key, dialect=JEKYLL_POST, ctx=context)

    warnings = Warnings()
    file_date = file_name_date(source_key, warnings)
    semester = semester_from_categories(front) or semester_from_folder(source)
    venue = text_value(front.get("venue"))
    names = split_names(front.get("names"))

    body = resolve_site_urls(body, site_url)
    body = resolve_liquid(drop_jekyll_noise(body), front, site_url, resolve_link, warnings)
    content = read_content(body, warnings)
    if not names and not content.has_talk_details():
        raise NotATalk("placeholder post with no speaker, date or description")

    speakers = _listed_speakers(front, content.intro) or speakers_from_names(names, venue, content.intro)
    when = read_when(content.logistics, file_date, front, semester, tz, default_minutes, warnings)
    room, platform = read_place(content.logistics.get("location"), known_rooms, warnings)
    room, platform = _named_place(front, room, platform)
    parts = build_parts(content, speakers, title, warnings)
    links = publication_links(front, site_url) + [
        (label, url) for label, url in front_links({"links": front.get("links")}) if label not in _PUBLICATION_LABELS
    ]
    info = PostInfo(
        source=source,
        source_key=source_key,
        file_date=file_date,
        title=title,
        semester=semester,
        speakers=speakers,
        affiliation=venue,
        starts_at=when.starts_at,
        ends_at=when.ends_at,
        time_known=when.time_known,
        room=room,
        online_platform=platform,
        intro_md=content.intro,
        parts=parts,
        sections=content.sections,
        recording_url=content.recording_url or dict(links).get("Video"),
        slides_url=content.slides_url,
        paper_url=dict(links).get("Paper"),
        links=links,
        images=image_urls(body),
        warnings=warnings,
        doubts=warnings.doubts,
        slug_hint=text_value(front.get("slug")),
    )
    require_a_talks_proportions(info)
    return info


_PUBLICATION_LABELS = {"Paper", "Code", "Page", "Tweet", "Video", "Demo"}


def _listed_speakers(front: dict[str, Any], intro: str) -> list[SpeakerInfo]:
    """Speakers listed one by one ({name, affiliation, url}), as Lectern's export writes them
    beside `names` when `names` and `venue` alone would lose who is from where."""
    listed = front.get("speakers")
    if not isinstance(listed, list) or not listed or not all(isinstance(item, dict) for item in listed):
        return []
    speakers = parse_speakers(listed)
    for speaker, linked in zip(speakers, speakers_from_names([s.name for s in speakers], None, intro), strict=True):
        speaker.url = speaker.url or linked.url
    return speakers


def _named_place(front: dict[str, Any], room: str | None, platform: str | None) -> tuple[str | None, str | None]:
    """A `room` or `online_platform` named in the front matter is taken as it is written."""
    named_room = text_value(front.get("room"))
    if named_room and not is_tbd(named_room) and platform_of(named_room) is None:
        room = named_room[:120]
    return room, text_value(front.get("online_platform")) or platform


def parse_schedule(text: str, *, source: str) -> ScheduleInfo:
    require_plain_text(text)
    front, body = _split_optional_front_matter(text)
    table = _find_table(body)
    if table is None:
        raise NotATalk("no schedule table")
    semester, name = _schedule_semester(front, body, source)
    year = int(semester.rsplit("-", 1)[1])
    columns = _table_columns(table.header)
    return ScheduleInfo(
        semester=semester,
        name=name,
        intro_md=_schedule_intro(table.before),
        rows=[_schedule_row(cells, columns, year) for cells in table.rows],
    )


# ---------------------------------------------------------------------------------------
# Front matter, file names, semesters

_FRONT_MATTER_RE = re.compile(r"\A\ufeff?---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S | re.M)


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    front, body = _split_optional_front_matter(text)
    if front is None:
        raise NotATalk("no front matter")
    return front, body


def _split_optional_front_matter(text: str) -> tuple[dict[str, Any] | None, str]:
    text = normalise_newlines(text)
    match = _FRONT_MATTER_RE.match(text)
    if match is None:
        return None, text
    data = load_front_matter(match[1])
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PostError("front matter is not a set of key: value lines")
    return data, text[match.end() :]


def _require_talk_post(front: dict[str, Any], source: str) -> None:
    categories = {fold(c) for c in as_list(front.get("categories"))}
    if "archive" in categories:
        raise NotATalk("archive post listing a semester's schedule")
    if "permalink" in front or "_pages" in PurePosixPath(source.replace("\\", "/")).parts:
        raise NotATalk("site page (such as the schedule), not a talk post")


# ---------------------------------------------------------------------------------------
# Schedule tables

_SEPARATOR_ROW_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_CELL_SPLIT_RE = re.compile(r"(?<!\\)\|")
_POST_LINK_RE = re.compile(r"\{%-?\s*link\s+(?P<path>\S*_posts/\S+?)\s*-?%\}")
_SEMESTER_SENTENCE_RE = re.compile(r"\b(winter|spring|summer|fall|autumn)\s+(\d{4})\s+semester\b", re.I)
_SEMESTER_WORDS_RE = re.compile(r"\b(winter|spring|summer|fall|autumn)[-_ ](\d{4})\b", re.I)
_CANCELLED_RE = re.compile(r"\bcancel(?:l?ed|lation)\b", re.I)
_BREAK_RE = re.compile(
    r"\b(?:break|holidays?|reading week|study week|no (?:meeting|talk|session|reading group)s?|"
    r"thanksgiving|christmas|easter|new year|recess|vacation|day off|closed)\b",
    re.I,
)
_CONFERENCE_RE = re.compile(
    r"(?i:\b(?:conference|workshop|symposium|summit)s?\b)|"
    r"\b(?:ACL|EMNLP|NAACL|EACL|AACL|COLING|LREC|CoNLL|ICML|ICLR|NeurIPS|NIPS|AAAI|IJCAI|"
    r"CVPR|ICCV|ECCV|SIGIR|KDD|Interspeech|ICASSP|COLM)\b"
)
_GENERIC_LINK_TEXT_RE = re.compile(r"^(?:click here|here|link|more info(?:rmation)?|details)$", re.I)


@dataclass
class _Table:
    before: str  # the text above the table
    header: list[str]
    rows: list[list[str]]


@dataclass
class _Columns:
    when: int = 0
    speakers: int = 1
    topic: int = 2


def _find_table(body: str) -> _Table | None:
    lines = body.split("\n")
    for index in range(1, len(lines)):
        if _SEPARATOR_ROW_RE.match(lines[index]) and "|" in lines[index - 1]:
            rows = []
            for line in lines[index + 1 :]:
                if not line.strip() or "|" not in line:
                    break
                rows.append(_cells(line))
            return _Table("\n".join(lines[: index - 1]), _cells(lines[index - 1]), rows)
    return None


def _cells(line: str) -> list[str]:
    text = line.strip()
    text = text[1:] if text.startswith("|") else text
    text = text[:-1] if text.endswith("|") and not text.endswith("\\|") else text
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT_RE.split(text)]


def _table_columns(header: list[str]) -> _Columns:
    columns = _Columns()
    for index, cell in enumerate(fold(plain_text(c)) for c in header):
        if "date" in cell or "when" in cell:
            columns.when = index
        elif "speaker" in cell or "presenter" in cell or "who" in cell:
            columns.speakers = index
        elif "topic" in cell or "title" in cell or "paper" in cell:
            columns.topic = index
    return columns


def _schedule_semester(front: dict[str, Any] | None, body: str, source: str) -> tuple[str, str]:
    title = text_value((front or {}).get("title")) or ""
    match = (
        _SEMESTER_SENTENCE_RE.search(body)
        or SEMESTER_RE.match(title)
        or _SEMESTER_WORDS_RE.search(source_key_of(source))
    )
    if match is None:
        raise PostError("cannot tell which semester this schedule is for")
    season, year = match[1].lower(), match[2]
    return f"{season}-{year}", f"{season.capitalize()} {year}"


def _schedule_intro(before_table: str) -> str | None:
    """The paragraph introducing the semester (the last one above the table)."""
    paragraphs = [p.strip() for p in split_paragraphs(before_table) if not p.lstrip().startswith(("#", "<!--", "|"))]
    chosen = next((p for p in paragraphs if _SEMESTER_SENTENCE_RE.search(p)), None)
    chosen = chosen or (paragraphs[-1] if paragraphs else None)
    if chosen is None or "{{" in chosen or "{%" in chosen:
        return None
    return chosen


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


def _clean_cell(cell: str) -> str:
    without_liquid = LIQUID_TAG_RE.sub("", LIQUID_OUTPUT_RE.sub("", cell))
    return squash_spaces(plain_text(without_liquid))


def _schedule_row(cells: list[str], columns: _Columns, year: int) -> ScheduleRow:
    when_text = _clean_cell(_cell(cells, columns.when))
    speaker_text = _clean_cell(_cell(cells, columns.speakers)) if len(cells) > 1 else ""
    topic_text = _clean_cell(_cell(cells, columns.topic)) if len(cells) > 1 else ""
    link = next((m for c in cells if (m := _POST_LINK_RE.search(c))), None)
    post_key = source_key_of(link["path"]) if link else None
    local_date, local_time, end_time = _row_when(when_text, year)

    speakers = split_names(speaker_text)
    title = None if not topic_text or is_tbd(topic_text) else topic_text
    kind = _row_kind(cells, columns, when_text, speaker_text, topic_text, post_key, speakers)
    if kind in ("break", "conference", "note"):
        speakers, title = [], None
    elif kind in ("talk", "tbd") and title is None and not speakers and not is_tbd(speaker_text):
        title = speaker_text or None  # "Intern Presentations": the session is the title

    words = [_clean_cell(c) for c in cells]
    text = " — ".join(w for w in words if w and not _GENERIC_LINK_TEXT_RE.match(w))
    return ScheduleRow(kind, local_date, local_time, speakers, title, post_key, text, end_time)


def _row_when(text: str, year: int) -> tuple[date | None, time | None, time | None]:
    found = find_month_day(text)
    local_date = None
    rest = text
    if found is not None:
        try:
            local_date = date(found.year or year, found.month, found.day)
        except ValueError:
            local_date = None
        rest = text[found.end :]
    # "@ 11" is a time; "to 3rd" (the end of a date range) is not.
    clock = find_clock(rest, allow_bare_hour="@" in rest)
    return local_date, (clock.start if clock else None), (clock.end if clock else None)


def _row_kind(
    cells: list[str],
    columns: _Columns,
    when_text: str,
    speaker_text: str,
    topic_text: str,
    post_key: str | None,
    speakers: list[str],
) -> str:
    everything = " ".join(_clean_cell(c) for c in cells)
    if _CANCELLED_RE.search(everything):
        return "cancelled"
    if post_key is not None:
        return "talk"
    # A topic may mention a break or a conference ("practice talk for ACL"); the date
    # and speaker cells saying so make the whole row about it.
    framing = " ".join([when_text, speaker_text] + ([] if speaker_text else [topic_text]))
    if len(cells) == 1:
        framing = everything
    if _BREAK_RE.search(framing):
        return "break"
    if _CONFERENCE_RE.search(framing):
        return "conference"
    if is_tbd(topic_text) or is_tbd(speaker_text) or (not topic_text and not speaker_text):
        return "tbd" if len(cells) > 1 else "note"
    if not topic_text and speakers:
        return "tbd"
    return "talk" if speakers else "note"
