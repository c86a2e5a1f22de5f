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
import unicodedata
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from markdown_it import MarkdownIt


class NotATalk(Exception):
    """The file is not a talk post (schedule, archive, image, placeholder). str() is a one-line reason."""


class PostError(Exception):
    """The file looks like a talk post but cannot be read. str() says why, in one line."""


# Bounds on what one file may ask of Lectern. A real post's front matter is a dozen short
# lines (a few hundred bytes, two levels deep, no aliases) and the whole post a few KB; these
# leave wide headroom while a hostile file is refused before it costs seconds or memory.
MAX_POST_BYTES = 1024 * 1024  # the whole file; uploads are also held to MAX_CONTENT_LENGTH
MAX_FRONT_MATTER_BYTES = 64 * 1024
MAX_YAML_DEPTH = 32  # nested lists and maps, aliases counted as the value they repeat
MAX_YAML_NODES = 10_000  # every value, each alias counted as the whole value it repeats
# What one talk may hold. A talk has a handful of speakers; the lengths follow the columns
# they are stored in (models.py), so nothing is cut or refused by the database later.
MAX_SPEAKERS = 30
MAX_PARTS = 30
MAX_SECTIONS = 100
MAX_TITLE_CHARS = 500
MAX_NAME_CHARS = 200
MAX_AFFILIATION_CHARS = 300
MAX_HEADING_CHARS = 300
MAX_URL_CHARS = 2000


@dataclass
class SpeakerInfo:
    name: str
    affiliation: str | None = None
    url: str | None = None
    # This speaker's own bio when the post's bio text can be split per speaker.
    bio_md: str | None = None


@dataclass
class PartInfo:
    """One presentation of a talk; most talks have one, intern sessions several."""

    title: str | None
    speakers: list[SpeakerInfo]
    abstract_md: str | None = None
    bio_md: str | None = None


@dataclass
class SectionInfo:
    heading: str
    body_md: str


@dataclass
class PostInfo:
    source: str  # the path as given to the importer
    source_key: str  # normalised file name, e.g. "2024-05-20-tianbao-xie.md" (a "@commit" suffix removed)
    file_date: date | None  # the date in the file name
    title: str
    semester: str | None  # e.g. "summer-2024"
    speakers: list[SpeakerInfo]  # every speaker, in order; empty for a group session
    affiliation: str | None  # the post's venue as given; None when empty
    starts_at: datetime  # aware, in the series' zone
    ends_at: datetime
    time_known: bool  # False when the post gives no time (placeholder posts)
    room: str | None
    online_platform: str | None  # "Zoom", "Google Meet", "Microsoft Teams", ...
    intro_md: str  # text before the first section, Liquid resolved
    parts: list[PartInfo]  # at least one
    sections: list[SectionInfo] = field(default_factory=list)  # anything else, in order
    recording_url: str | None = None
    slides_url: str | None = None
    paper_url: str | None = None
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url)
    images: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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


LinkResolver = Callable[[str], str]


def parse_post(
    text: str,
    *,
    source: str,
    tz: ZoneInfo,
    default_minutes: int = 60,
    site_url: str | None = None,
    resolve_link: LinkResolver = lambda target: target,
    known_rooms: Collection[str] = (),
) -> PostInfo:
    """Read one talk post. `known_rooms` are the series' room names: a Location line that
    mentions one names that room (see `_read_place`)."""
    source_key = source_key_of(source)
    _require_markdown(source_key)
    _require_plain_text(text)
    front, body = _split_front_matter(text)
    _require_talk_post(front, source)
    title = _text_value(front.get("title"))
    if not title:
        raise NotATalk("no title in the front matter")

    warnings: list[str] = []
    file_date = _file_name_date(source_key, warnings)
    semester = _semester_from_categories(front) or _semester_from_folder(source)
    venue = _text_value(front.get("venue"))
    names = split_names(front.get("names"))

    body = _resolve_site_urls(body, site_url)
    body = _resolve_liquid(_drop_jekyll_noise(body), front, site_url, resolve_link, warnings)
    content = _read_content(body, warnings)
    if not names and not content.has_talk_details():
        raise NotATalk("placeholder post with no speaker, date or description")

    speakers = _speakers(names, venue, content.intro)
    when = _read_when(content.logistics, file_date, front, semester, tz, default_minutes, warnings)
    room, platform = _read_place(content.logistics.get("location"), known_rooms, warnings)
    parts = _parts(content, speakers, title, warnings)
    links = _publication_links(front, site_url)
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
        images=_image_urls(body),
        warnings=warnings,
    )
    _require_a_talks_proportions(info)
    return info


def parse_schedule(text: str, *, source: str) -> ScheduleInfo:
    _require_plain_text(text)
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
_COMMIT_SUFFIX_RE = re.compile(r"@[0-9a-fA-F]{4,40}(?=\.[^.]*$|$)")
_FILE_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_SEMESTER_RE = re.compile(r"^(winter|spring|summer|fall|autumn)[-_ ]?(\d{4})$", re.I)
_MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown", ".mkd"}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".tif", ".tiff"}


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def source_key_of(source: str) -> str:
    """The post's key: its file name without folders or a "@commit" suffix.

    "_history/.../2024-05-20-tianbao-xie@b688258.md" -> "2024-05-20-tianbao-xie.md"; the
    importer uses it to match a post with its `{% link %}`s and its earlier versions.
    """
    name = PurePosixPath(source.replace("\\", "/")).name
    return _COMMIT_SUFFIX_RE.sub("", name)


def _require_markdown(file_name: str) -> None:
    suffix = PurePosixPath(file_name).suffix.lower()
    if suffix in _MARKDOWN_SUFFIXES:
        return
    if suffix in _IMAGE_SUFFIXES:
        raise NotATalk("not a Markdown post (image)")
    kind = f"{suffix[1:]} file" if suffix else "no file extension"
    raise NotATalk(f"not a Markdown post ({kind})")


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    front, body = _split_optional_front_matter(text)
    if front is None:
        raise NotATalk("no front matter")
    return front, body


def _split_optional_front_matter(text: str) -> tuple[dict[str, Any] | None, str]:
    text = _normalise_newlines(text)
    match = _FRONT_MATTER_RE.match(text)
    if match is None:
        return None, text
    data = load_front_matter(match[1])
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PostError("front matter is not a set of key: value lines")
    return data, text[match.end() :]


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a document too deep or too large once its aliases
    are expanded, while composing it, so a hostile document is never built or recursed into.

    Composition is where PyYAML recurses (one Python frame or more per level) and where an
    alias bomb is still a few hundred nodes; each finished node remembers how many nodes and
    levels it stands for, so an alias costs what the value it repeats would cost.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._open: list[int] = []  # for each node being composed: the tallest child so far
        self._expanded = 0  # nodes composed so far, each alias counted as its whole value
        self._extent: dict[yaml.Node, tuple[int, int]] = {}  # finished node -> (nodes, levels)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if node not in self._extent:
                raise PostError("front matter uses a YAML alias inside the value it names")
            nodes, levels = self._extent[node]
            self._count(nodes)
            self._finish(levels)
            return node
        if len(self._open) >= MAX_YAML_DEPTH:
            raise _too_deep()
        self._open.append(0)
        before = self._expanded
        node = super().compose_node(parent, index)
        self._count(1)
        levels = self._open.pop() + 1
        self._extent[node] = (self._expanded - before, levels)
        self._finish(levels)
        return node

    def _count(self, nodes: int) -> None:
        self._expanded += nodes
        if self._expanded > MAX_YAML_NODES:
            raise PostError(f"front matter uses YAML aliases that expand too far (more than {MAX_YAML_NODES:,} values)")

    def _finish(self, levels: int) -> None:
        if len(self._open) + levels > MAX_YAML_DEPTH:
            raise _too_deep()
        if self._open:
            self._open[-1] = max(self._open[-1], levels)


def _too_deep() -> PostError:
    return PostError(f"front matter is nested more than {MAX_YAML_DEPTH} levels deep")


def load_front_matter(text: str) -> Any:
    """The YAML between the `---` lines, within the bounds above; PostError says what is wrong."""
    size = len(text.encode("utf-8"))
    if size > MAX_FRONT_MATTER_BYTES:
        raise PostError(
            f"front matter is larger than {MAX_FRONT_MATTER_BYTES // 1024} KB ({size // 1024} KB); "
            "a post's front matter is a few lines"
        )
    try:
        return yaml.load(text, Loader=BoundedLoader)  # a SafeLoader subclass: no Python objects
    except yaml.YAMLError as error:
        raise PostError(f"front matter is not valid YAML: {_yaml_problem(error)}") from None
    except (ValueError, OverflowError) as error:
        # YAML that Python cannot build: "date: 2025-13-45", an integer of 5,000 digits, ...
        problem = _squash_spaces(str(error))[:120]
        raise PostError(f"front matter has a value that cannot be read ({problem})") from None


# C0 control characters other than tab, line feed and carriage return. PostgreSQL refuses NUL
# in text, and none of them belong in a post; the file is refused rather than silently changed.
_CONTROL_CHAR_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _require_plain_text(text: str) -> None:
    size = len(text.encode("utf-8"))
    if size > MAX_POST_BYTES:
        raise PostError(file_too_large(size))
    found = _CONTROL_CHAR_RE.search(text)
    if found is not None:
        line = _normalise_newlines(text[: found.start()]).count("\n") + 1
        raise PostError(
            f"the file contains the control character U+{ord(found[0]):04X} on line {line}; "
            "nothing was imported: remove it and import the file again"
        )


def file_too_large(size: int) -> str:
    return f"the file is larger than {MAX_POST_BYTES // 1024} KB ({size // 1024} KB); a talk post is a few KB"


def _require_a_talks_proportions(info: PostInfo) -> None:
    """Refuse a post that reads but holds more than any talk does (thousands of speakers, ...)."""
    everyone = info.speakers + [s for part in info.parts for s in part.speakers]
    count = max(len(info.speakers), max((len(p.speakers) for p in info.parts), default=0))
    if count > MAX_SPEAKERS:
        raise PostError(f"the post names {count} speakers; a talk has at most {MAX_SPEAKERS}")
    if len(info.parts) > MAX_PARTS:
        raise PostError(f"the post has {len(info.parts)} presentations; a talk has at most {MAX_PARTS}")
    if len(info.sections) > MAX_SECTIONS:
        raise PostError(f"the post has {len(info.sections)} sections; a talk page has at most {MAX_SECTIONS}")
    too_long = [
        ("the title", [info.title] + [p.title or "" for p in info.parts], MAX_TITLE_CHARS),
        ("a speaker's name", [s.name for s in everyone], MAX_NAME_CHARS),
        ("the venue", [info.affiliation or ""] + [s.affiliation or "" for s in everyone], MAX_AFFILIATION_CHARS),
        ("a section heading", [section.heading for section in info.sections], MAX_HEADING_CHARS),
        (
            "a link",
            [info.recording_url or "", info.slides_url or "", info.paper_url or ""] + [s.url or "" for s in everyone],
            MAX_URL_CHARS,
        ),
    ]
    for what, values, limit in too_long:
        if any(len(value) > limit for value in values):
            raise PostError(f"{what} is longer than {limit} characters")


def _yaml_problem(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    mark = getattr(error, "problem_mark", None)
    # +2: the mark is 0-based and counts from the line after the opening "---".
    return f"{problem} (line {mark.line + 2})" if mark is not None else problem


def _require_talk_post(front: dict[str, Any], source: str) -> None:
    categories = {_fold(c) for c in _as_list(front.get("categories"))}
    if "archive" in categories:
        raise NotATalk("archive post listing a semester's schedule")
    if "permalink" in front or "_pages" in PurePosixPath(source.replace("\\", "/")).parts:
        raise NotATalk("site page (such as the schedule), not a talk post")


def _file_name_date(file_name: str, warnings: list[str]) -> date | None:
    match = _FILE_DATE_RE.match(file_name)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        warnings.append(f"file name date {match[0]} is not a real date; ignored")
        return None


def _semester_slug(value: str) -> str | None:
    match = _SEMESTER_RE.match(value.strip())
    return f"{match[1].lower()}-{match[2]}" if match else None


def _semester_from_categories(front: dict[str, Any]) -> str | None:
    for category in _as_list(front.get("categories")):
        if slug := _semester_slug(str(category)):
            return slug
    return None


def _semester_from_folder(source: str) -> str | None:
    parent = PurePosixPath(source.replace("\\", "/")).parent.name
    return _semester_slug(parent) if parent else None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [v for v in value if v is not None]
    # Jekyll also accepts a space-separated string of categories.
    return str(value).split() if isinstance(value, str) else [value]


def _text_value(value: Any) -> str | None:
    """A front matter scalar as stripped text; None when missing or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# ---------------------------------------------------------------------------------------
# Names

_HONORIFIC_RE = re.compile(r"^(?:(?:prof(?:essor)?|dr|mx|mr|mrs|ms|miss)\.?\s+)+", re.I)
_NAME_SEPARATOR_RE = re.compile(r"\s*(?:,\s*and\s+|,|;|&|\band\b)\s*", re.I)
_DEGREE_RE = re.compile(r"^(?:ph\.?\s?d|m\.?d|m\.?sc|b\.?sc|jr|sr)\.?$", re.I)
_LED_BY_RE = re.compile(r"\b(?:led|hosted|moderated|chaired)\s+by\s+(?P<who>.+)$", re.I)
_TBD_RE = re.compile(r"^(?:tbd|tba|tbc|to be (?:announced|determined|confirmed)|\?+)\W*$", re.I)
# Words that make a `names` value a session rather than a person ("Rountable discussion").
_GROUP_LABEL_RE = re.compile(
    r"\b(?:discussions?|round\s?tables?|rountables?|panels?|presentations?|posters?|"
    r"sessions?|socials?|tutorials?|workshops?|meetings?|various|everyone)\b",
    re.I,
)


def split_names(value: Any) -> list[str]:
    """Speaker names from a `names` value: "A and B", "A, B and C", a YAML list, ...

    Honorifics are dropped; a group-session label ("Roundtable discussion", "TBD") gives
    no speaker, except that "Group discussion led by A" gives A.
    """
    if value is None:
        return []
    raw_items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in raw_items:
        text = _squash_spaces(_plain_text(str(item)))
        if led := _LED_BY_RE.search(text):
            text = led["who"]
        elif _is_session_label(text):
            continue
        for piece in _NAME_SEPARATOR_RE.split(text):
            name = _strip_honorifics(piece)
            if name and not _DEGREE_RE.match(name) and not _is_session_label(name):
                names.append(name)
    return names


def _is_session_label(text: str) -> bool:
    text = text.strip()
    return not text or bool(_TBD_RE.match(text) or _GROUP_LABEL_RE.search(text))


def _is_tbd(text: str | None) -> bool:
    return text is not None and bool(_TBD_RE.match(text.strip()))


def _strip_honorifics(name: str) -> str:
    return _HONORIFIC_RE.sub("", name.strip()).strip(" .,")


def _fold(text: Any) -> str:
    """Lower-case, accent-free, single-spaced text for comparing names and labels."""
    return _squash_spaces(_strip_accents(str(text)).casefold())


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _squash_spaces(text: str) -> str:
    return " ".join(text.split())


def _first_name(name: str) -> str:
    return name.split()[0] if name.split() else name


def _name_patterns(name: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Patterns for the full name (any case) and the first name alone.

    The first name must keep its capital: "Will" is a name, "will" is not.
    """
    full = re.compile(rf"(?<!\w){re.escape(_squash_spaces(_strip_accents(name)))}(?!\w)", re.I)
    first = re.compile(rf"(?<!\w){re.escape(_strip_accents(_first_name(name)))}(?!\w)")
    return full, first


def _mentions(text: str, name: str) -> int | None:
    """Where `text` first names this person (full name, else first name), or None."""
    plain = _squash_spaces(_strip_accents(text))
    for pattern in _name_patterns(name):
        if match := pattern.search(plain):
            return match.start()
    return None


def _starts_with_name(text: str, name: str) -> bool:
    plain = _squash_spaces(_strip_accents(_strip_honorifics(text)))
    return any(pattern.match(plain) for pattern in _name_patterns(name))


# ---------------------------------------------------------------------------------------
# Liquid and URLs

_LIQUID_OUTPUT_RE = re.compile(r"\{\{-?\s*(?P<expr>.*?)\s*-?\}\}", re.S)
_LIQUID_TAG_RE = re.compile(r"\{%-?\s*(?P<tag>\w+)\s*(?P<args>.*?)\s*-?%\}", re.S)
_PUBLICATION_INCLUDE = "display-publication-links.html"
# Lines the Jekyll layout needs but a Lectern page shows by itself (names, venue, links).
_NOISE_LINE_RE = re.compile(
    r"^[ \t]*[*_]*[ \t]*(?:\{\{-?\s*page\.(?:names|venue|title|author)\s*-?\}\}"
    r"|\{%-?\s*include\s+" + re.escape(_PUBLICATION_INCLUDE) + r"[^%]*%\})[ \t]*[*_]*[ \t]*$",
    re.M,
)
_SITE_RELATIVE_RE = re.compile(
    r"""(?P<lead>\b(?:src|href)\s*=\s*["']|\]\(\s*<?|^[ \t]*\[[^\]\n]+\]:[ \t]*)/(?!/)""", re.M
)
_IMAGE_RE = re.compile(
    r"""!\[[^\]]*\]\(\s*<?(?P<md>[^)\s>]+)|<img\b[^>]*?\bsrc\s*=\s*["'](?P<html>[^"']+)["']""",
    re.I,
)
# (front matter key, label) in the order the Jekyll include renders them.
_PUBLICATION_KEYS = (
    ("link", "Paper"),
    ("code", "Code"),
    ("webpage", "Page"),
    ("twitter", "Tweet"),
    ("video", "Video"),
    ("demo", "Demo"),
)


def _drop_jekyll_noise(body: str) -> str:
    return _NOISE_LINE_RE.sub("", body)


def _resolve_liquid(
    body: str,
    front: dict[str, Any],
    site_url: str | None,
    resolve_link: LinkResolver,
    warnings: list[str],
) -> str:
    def output(match: re.Match[str]) -> str:
        # Filters ("page.names | upcase") change only the presentation: ignore them.
        expr = match["expr"].split("|")[0].strip()
        scope, _, key = expr.partition(".")
        if scope == "page" and key:
            value = front.get(key)
            if isinstance(value, list):
                return ", ".join(str(v) for v in value)
            return "" if value is None else str(value).strip()
        if expr in ("site.url", "site.baseurl"):
            return (site_url or "").rstrip("/") if expr == "site.url" else ""
        warnings.append(f"unknown Liquid value {{{{ {expr} }}}} dropped")
        return ""

    def tag(match: re.Match[str]) -> str:
        name, args = match["tag"], match["args"]
        if name == "link":
            return resolve_link(args.strip())
        if name == "include" and args.split()[:1] == [_PUBLICATION_INCLUDE]:
            return ""
        warnings.append(f"unsupported Liquid tag {{% {name} %}} dropped")
        return ""

    return _LIQUID_TAG_RE.sub(tag, _LIQUID_OUTPUT_RE.sub(output, body))


def _resolve_site_urls(text: str, site_url: str | None) -> str:
    if not site_url:
        return text
    base = site_url.rstrip("/")
    return _SITE_RELATIVE_RE.sub(lambda m: f"{m['lead']}{base}/", text)


def _resolve_site_url(url: str, site_url: str | None) -> str:
    if site_url and url.startswith("/") and not url.startswith("//"):
        return site_url.rstrip("/") + url
    return url


def _image_urls(body: str) -> list[str]:
    return [m["md"] or m["html"] for m in _IMAGE_RE.finditer(body)]


def _publication_links(front: dict[str, Any], site_url: str | None) -> list[tuple[str, str]]:
    links = []
    for key, label in _PUBLICATION_KEYS:
        if url := _text_value(front.get(key)):
            links.append((label, _resolve_site_url(url, site_url)))
    return links


# ---------------------------------------------------------------------------------------
# Markdown structure: headings, labelled paragraphs

_MARKDOWN = MarkdownIt("commonmark")
_MD_LINK_RE = re.compile(r"\[(?P<text>[^\]]*)\]\(\s*<?(?P<url>[^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_EMPHASIS_RE = re.compile(r"(\*\*|__)(.+?)\1|(?<!\w)([*_])(?!\s)(.+?)(?<!\s)\3(?!\w)")
_HTML_TAG_RE = re.compile(r"<[^>]+>")
_URL_RE = re.compile(r"https?://[^\s)<>\"']+")
_PARAGRAPH_BREAK_RE = re.compile(r"\n(?:[ \t]*\n)+")
# "**Talk description:** text", "**Speaker bio**: text", "**Abstract**" alone, ...
_BOLD_LABEL_RE = re.compile(
    r"^[ \t]*(?:\*\*|__)(?P<label>[^*_\n]{1,80}?)[ \t]*(?::[ \t]*(?:\*\*|__)|(?:\*\*|__)[ \t]*:?)[ \t]*"
)
_BOLD_ONLY_RE = re.compile(r"^[ \t]*(?:\*\*|__)(?P<title>[^\n]+?)(?:\*\*|__)[ \t]*$")

_LOGISTICS_HEADING_RE = re.compile(
    r"^(?:logistics|details|event details|practical (?:info(?:rmation)?|details)|"
    r"when (?:and|&) where|where (?:and|&) when|(?:date,? )?time,? (?:and|&) (?:place|location)|"
    r"date and location|location)$"
)
_RECORDING_HEADING_RE = re.compile(r"\b(?:recordings?|videos?|replay|watch)\b")
_SLIDES_HEADING_RE = re.compile(r"\b(?:slides?|slide deck|deck)\b")
_BIO_HEADING_RE = re.compile(
    r"\bbio(?:s|graph(?:y|ies))?\b|^about the (?:speakers?|presenters?|authors?)$|^(?:speakers?|presenters?)$"
)
_ABSTRACT_HEADING_RE = re.compile(
    r"\b(?:abstracts?|descriptions?|summary|synopsis|overview)\b|"
    r"^about the (?:talk|paper|presentation|session)$|^(?:the )?talk$"
)


@dataclass(eq=False)  # nodes are compared by identity
class _Node:
    """A heading with its own text and the deeper headings under it."""

    level: int
    raw_heading: str  # as written, inline Markdown kept
    text: str  # up to the next heading of any level
    children: list[_Node] = field(default_factory=list)

    @property
    def heading(self) -> str:
        return _plain_text(self.raw_heading).strip().rstrip(":").strip()

    @property
    def kind(self) -> str:
        return _heading_kind(self.heading)

    def body(self) -> str:
        """Own text followed by the sub-headings as Markdown, tidied."""
        chunks = [self.text]
        for child in self.children:
            chunks.append(f"{'#' * child.level} {child.raw_heading}\n\n{child.body()}")
        return _tidy("\n\n".join(chunks))


def _heading_kind(heading: str) -> str:
    """What a heading announces: logistics, recording, slides, bio, abstract or other."""
    folded = _fold(heading)
    if _LOGISTICS_HEADING_RE.match(folded):
        return "logistics"
    if _RECORDING_HEADING_RE.search(folded) and _SLIDES_HEADING_RE.search(folded):
        return "media"
    if _RECORDING_HEADING_RE.search(folded):
        return "recording"
    if _SLIDES_HEADING_RE.search(folded):
        return "slides"
    if _BIO_HEADING_RE.search(folded):
        return "bio"
    if _ABSTRACT_HEADING_RE.search(folded):
        return "abstract"
    return "other"


def _label_kind(label: str) -> str | None:
    """An inline bold label that opens an abstract or a bio ("Talk description:")."""
    if len(label.split()) > 5:
        return None
    kind = _heading_kind(label)
    return kind if kind in ("abstract", "bio") else None


def _heading_tree(markdown: str) -> _Node:
    """The document as a tree of headings; the root's text is what precedes them."""
    lines = markdown.split("\n")
    tokens = _MARKDOWN.parse(markdown)
    found = [
        (int(tok.tag[1:]), tok.map[0], tok.map[1], tokens[i + 1].content)
        for i, tok in enumerate(tokens)
        # Top-level headings only: one inside a list or quote does not start a section.
        if tok.type == "heading_open" and tok.map is not None and tok.level == 0
    ]
    first_line = found[0][1] if found else len(lines)
    root = _Node(0, "", "\n".join(lines[:first_line]))
    stack = [root]
    for index, (level, _start, end, raw) in enumerate(found):
        next_start = found[index + 1][1] if index + 1 < len(found) else len(lines)
        node = _Node(level, raw.strip(), "\n".join(lines[end:next_start]))
        while stack[-1].level >= level:
            stack.pop()
        stack[-1].children.append(node)
        stack.append(node)
    return root


def _plain_text(markdown: str) -> str:
    """Markdown inline text as words: links to their text, emphasis and tags removed."""
    text = _MD_LINK_RE.sub(lambda m: m["text"], markdown)
    text = _HTML_TAG_RE.sub(" ", text)
    previous = None
    while previous != text:  # nested emphasis ("***x***") needs more than one pass
        previous = text
        text = _EMPHASIS_RE.sub(lambda m: m[2] if m[2] is not None else m[4], text)
    return text.replace("`", "")


def _tidy(markdown: str) -> str:
    """Trim blank lines around and collapse runs of them inside."""
    return _PARAGRAPH_BREAK_RE.sub("\n\n", markdown).strip()


def _paragraphs(markdown: str) -> list[str]:
    return [p.strip("\n") for p in _PARAGRAPH_BREAK_RE.split(markdown) if p.strip()]


def _split_labelled(markdown: str, classify: Callable[[str], Any | None]) -> tuple[str, list[tuple[Any, str]]]:
    """Split text at paragraphs opening with a bold label that `classify` recognises.

    Returns the text before the first label and (key, text) for each labelled stretch;
    a stretch runs until the next recognised label.
    """
    lead: list[str] = []
    items: list[tuple[Any, list[str]]] = []
    for paragraph in _paragraphs(markdown):
        match = _BOLD_LABEL_RE.match(paragraph)
        key = classify(match["label"].strip()) if match else None
        if match and key is not None:
            items.append((key, [paragraph[match.end() :]]))
        elif items:
            items[-1][1].append(paragraph)
        else:
            lead.append(paragraph)
    return _tidy("\n\n".join(lead)), [(k, _tidy("\n\n".join(ps))) for k, ps in items]


def _urls(markdown: str) -> list[str]:
    """Link targets and bare URLs, in the order they appear, each once."""
    found = [(m.start(), m["url"]) for m in _MD_LINK_RE.finditer(markdown) if m["url"]]
    found += [(m.start(), m[0]) for m in _URL_RE.finditer(markdown)]
    return list(dict.fromkeys(url for _, url in sorted(found)))


# ---------------------------------------------------------------------------------------
# Reading the body into intro, logistics, sections and raw parts

_LOGISTICS_LINE_RE = re.compile(
    r"^[ \t]*(?:[-*+][ \t]+)?(?:\*\*|__)?(?P<label>date|day|when|time|location|where|room|place|venue)"
    r"(?:\*\*|__)?[ \t]*:[ \t]*(?:\*\*|__)?(?P<value>.*)$",
    re.I | re.M,
)
_LOGISTICS_LABELS = {
    "date": "date",
    "day": "date",
    "when": "when",
    "time": "time",
    "location": "location",
    "where": "location",
    "room": "location",
    "place": "location",
    "venue": "location",
}
_LINE_BREAK_TAG_RE = re.compile(r"<br\s*/?>", re.I)
_VIDEO_URL_RE = re.compile(r"youtu\.?be|vimeo|video|recording|/rec/|\.mp4\b", re.I)


@dataclass
class _RawPart:
    heading: str | None  # the part's heading (or bold sub-title); None for a single talk
    abstract: str | None = None
    bio: str | None = None


@dataclass
class _Content:
    intro: str = ""
    logistics: dict[str, str] = field(default_factory=dict)  # date/when/time/location -> value
    logistics_text: str | None = None  # the Logistics section when it has no labelled lines
    grouped: bool = False  # True when the post gives title/abstract/bio per presentation
    parts: list[_RawPart] = field(default_factory=list)
    sections: list[SectionInfo] = field(default_factory=list)
    recording_url: str | None = None
    slides_url: str | None = None

    def has_talk_details(self) -> bool:
        described = any(p.abstract or p.bio for p in self.parts)
        return bool(self.logistics or self.logistics_text or described or self.sections)


def _read_content(body: str, warnings: list[str]) -> _Content:
    root = _heading_tree(body)
    content = _Content()
    logistics_nodes = _take_nodes(root, {"logistics"})
    for node in _take_nodes(root, {"recording", "slides", "media"}):
        _read_media(node, content, warnings)
    if logistics_nodes:
        section = "\n\n".join(node.body() for node in logistics_nodes)
        content.logistics = _logistics_lines(section)[1]
        if not content.logistics:
            content.logistics_text = _squash_spaces(_plain_text(section)) or None
            # Prose ("Friday May 9 at 1PM in A14"): read its date and time, if it has one.
            if content.logistics_text and _find_month_day(content.logistics_text):
                content.logistics["when"] = content.logistics_text
    else:
        # No Logistics heading: the label lines may sit anywhere ("Date: ..." after the bio),
        # but only a run that gives a date is logistics ("Location:" alone may be prose).
        for node in _walk(root):
            remaining, found = _logistics_lines(node.text)
            if "date" in found or "when" in found:
                node.text = remaining
                for label, value in found.items():
                    content.logistics.setdefault(label, value)

    content.intro = _tidy(root.text)
    groups = [n for n in root.children if n.kind == "other" and _is_part_group(n)]
    content.grouped = bool(groups)
    single = _RawPart(heading=None)
    for node in root.children:
        if node in groups:
            content.parts.append(_group_part(node, content))
        elif node.kind == "abstract" and single.abstract is None and not groups:
            single.abstract = node.body() or None
        elif node.kind == "bio" and single.bio is None and not groups:
            single.bio = node.body() or None
        else:
            content.sections.append(SectionInfo(node.heading, node.body()))
    if not groups:
        _take_inline_labels_from_intro(content, single)
        content.parts.append(single)
    return content


def _walk(node: _Node) -> Iterator[_Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _take_nodes(root: _Node, kinds: set[str]) -> list[_Node]:
    """Remove and return, in document order, every heading of these kinds at any depth."""
    taken: list[_Node] = []

    def visit(node: _Node) -> None:
        kept = []
        for child in node.children:
            if child.kind in kinds:
                taken.append(child)
            else:
                kept.append(child)
                visit(child)
        node.children = kept

    visit(root)
    return taken


def _read_media(node: _Node, content: _Content, warnings: list[str]) -> None:
    """Keep only the link of a Recording / Slides section; its words are not needed."""
    urls = _urls(node.body())
    if not urls:
        warnings.append(f"section {node.heading!r} has no link; dropped")
        return
    if node.kind == "recording":
        content.recording_url = content.recording_url or urls[0]
    elif node.kind == "slides":
        content.slides_url = content.slides_url or urls[0]
    else:  # "Slides and recording": tell them apart by the URL
        videos = [u for u in urls if _VIDEO_URL_RE.search(u)]
        others = [u for u in urls if u not in videos]
        content.recording_url = content.recording_url or next(iter(videos), None)
        content.slides_url = content.slides_url or next(iter(others), None)


def _logistics_lines(text: str) -> tuple[str, dict[str, str]]:
    """Take "Date: ...", "Time: ...", "Location: ..." lines out of a text."""
    found: dict[str, str] = {}
    # "Date: May 9<br>Time: 1PM" may sit on one source line.
    text = _LINE_BREAK_TAG_RE.sub("\n", text)

    def take(match: re.Match[str]) -> str:
        label = _LOGISTICS_LABELS[match["label"].lower()]
        value = _squash_spaces(_plain_text(match["value"]).replace("\\", " "))
        if value:
            found.setdefault(label, value)
        return ""

    remaining = _LOGISTICS_LINE_RE.sub(take, text)
    return (remaining if found else text), found


def _is_part_group(node: _Node) -> bool:
    """A heading that holds one presentation: abstract/bio under it or labelled in it."""
    if any(child.kind in ("abstract", "bio") for child in node.children):
        return True
    return bool(_split_labelled(node.text, _label_kind)[1])


def _group_part(node: _Node, content: _Content) -> _RawPart:
    lead, labelled = _split_labelled(node.text, _label_kind)
    part = _RawPart(heading=node.heading)
    for kind, text in labelled:
        _fill_part(part, kind, text)
    for child in node.children:
        if child.kind in ("abstract", "bio") and getattr(part, child.kind) is None:
            _fill_part(part, child.kind, child.body())
        else:
            content.sections.append(SectionInfo(child.heading, child.body()))
    if lead:
        # Text between the part heading and its first label belongs to the talk.
        part.abstract = _tidy(f"{lead}\n\n{part.abstract or ''}")
    return part


def _fill_part(part: _RawPart, kind: str, text: str) -> None:
    if kind == "abstract" and part.abstract is None:
        part.abstract = text or None
    elif kind == "bio" and part.bio is None:
        part.bio = text or None


def _take_inline_labels_from_intro(content: _Content, single: _RawPart) -> None:
    """A post without headings may label its abstract and bio in bold in the intro."""
    if single.abstract or single.bio:
        return
    lead, labelled = _split_labelled(content.intro, _label_kind)
    if not labelled:
        return
    content.intro = lead
    for kind, text in labelled:
        _fill_part(single, kind, text)


# ---------------------------------------------------------------------------------------
# Speakers and parts


def _speakers(names: list[str], venue: str | None, intro: str) -> list[SpeakerInfo]:
    affiliations = _affiliations(venue, len(names))
    links = [(_strip_honorifics(_plain_text(m["text"])), m["url"]) for m in _MD_LINK_RE.finditer(intro)]
    speakers = []
    for name, affiliation in zip(names, affiliations, strict=True):
        url = next((u for text, u in links if u and _fold(text) == _fold(name)), None)
        speakers.append(SpeakerInfo(name=name, affiliation=affiliation, url=url))
    return speakers


def _affiliations(venue: str | None, count: int) -> list[str | None]:
    """One affiliation per speaker: the venue, split per speaker when it splits cleanly."""
    if count > 1 and venue:
        pieces = [p.strip() for p in re.split(r"\s+and\s+", venue) if p.strip()]
        if len(pieces) == count:
            return list(pieces)
    return [venue] * count


def _parts(content: _Content, speakers: list[SpeakerInfo], title: str, warnings: list[str]) -> list[PartInfo]:
    raw_parts = content.parts
    if not content.grouped:
        single = raw_parts[0]
        bios = _split_bios(single.bio, speakers)
        _give_bios(speakers, bios, single.bio)
        split = _split_by_subtitles(single, speakers, bios)
        if split is None:
            return [PartInfo(None, list(speakers), single.abstract, single.bio)]
        raw_parts = split
    owners = _assign_speakers(raw_parts, speakers, content.intro, warnings)
    parts = []
    for raw, who in zip(raw_parts, owners, strict=True):
        part_title = _part_title(raw.heading, who, title)
        if len(who) == 1 and who[0].bio_md is None:
            who[0].bio_md = raw.bio
        # Parts cut from a shared description take their speaker's share of the bios.
        bio = raw.bio if raw.bio is not None or len(who) != 1 else who[0].bio_md
        parts.append(PartInfo(part_title, who, raw.abstract, bio))
    return parts


def _give_bios(speakers: list[SpeakerInfo], bios: list[str | None] | None, bio: str | None) -> None:
    if len(speakers) == 1:
        speakers[0].bio_md = bio
    elif bios is not None:
        for speaker, own in zip(speakers, bios, strict=True):
            speaker.bio_md = own


def _split_bios(bio: str | None, speakers: list[SpeakerInfo]) -> list[str | None] | None:
    """Per-speaker bios when each paragraph run opens with a speaker's name.

    Handles "**Name:** text" labels and plain "Name is a ..." openings; None when the
    text does not split that way (then the bio stays shared).
    """
    if bio is None or len(speakers) < 2:
        return None
    own: list[list[str]] = [[] for _ in speakers]
    current: int | None = None
    for paragraph in _paragraphs(bio):
        owner, rest = _paragraph_owner(paragraph, speakers)
        if owner is not None:
            current = owner
            paragraph = rest
        if current is None:
            return None  # text before any speaker's name: not a per-speaker list
        own[current].append(paragraph)
    if sum(1 for chunks in own if chunks) < 2:
        return None
    return [_tidy("\n\n".join(chunks)) or None for chunks in own]


def _paragraph_owner(paragraph: str, speakers: list[SpeakerInfo]) -> tuple[int | None, str]:
    label = _BOLD_LABEL_RE.match(paragraph)
    if label:
        name = _fold(_strip_honorifics(label["label"]))
        for index, speaker in enumerate(speakers):
            if name in (_fold(speaker.name), _fold(_first_name(speaker.name))):
                return index, paragraph[label.end() :]
    opening = _plain_text(paragraph)
    for index, speaker in enumerate(speakers):
        if _starts_with_name(opening, speaker.name):
            return index, paragraph
    return None, paragraph


def _split_by_subtitles(
    single: _RawPart, speakers: list[SpeakerInfo], bios: list[str | None] | None
) -> list[_RawPart] | None:
    """A shared description with one bold sub-title per speaker ("talk and response").

    Only split when the bios also split per speaker, so each part gets its own bio.
    """
    if single.abstract is None or bios is None:
        return None
    chunks: list[tuple[str, list[str]]] = []
    for paragraph in _paragraphs(single.abstract):
        subtitle = _BOLD_ONLY_RE.match(paragraph)
        if subtitle:
            chunks.append((_plain_text(subtitle["title"]).strip(), []))
        elif chunks:
            chunks[-1][1].append(paragraph)
        else:
            return None  # text before the first sub-title: one description, not several
    if len(chunks) != len(speakers):
        return None
    return [_RawPart(heading, _tidy("\n\n".join(ps)) or None) for heading, ps in chunks]


def _assign_speakers(
    raw_parts: list[_RawPart], speakers: list[SpeakerInfo], intro: str, warnings: list[str]
) -> list[list[SpeakerInfo]]:
    """Who gives each part: named in its heading, next to its title in the intro, or in
    its bio (earliest mention); left-over speakers go to left-over parts in order."""
    owners: list[SpeakerInfo | None] = []
    for raw in raw_parts:
        owner = (
            _named_in(raw.heading or "", speakers, full_names_only=True)
            or _named_next_to_title(raw.heading, intro, speakers)
            or _named_in(raw.bio or "", speakers)
            or _named_in(raw.abstract or "", speakers, full_names_only=True)
        )
        owners.append(owner if owner not in owners else None)
    spare = [s for s in speakers if s not in owners]
    result: list[list[SpeakerInfo]] = []
    for raw, owner in zip(raw_parts, owners, strict=True):
        if owner is None and spare:
            owner = spare.pop(0)
        if owner is None and speakers:
            warnings.append(f"could not tell who presents {raw.heading!r}")
        result.append([owner] if owner else [])
    if len(raw_parts) == 1 and len(speakers) > 1:
        result[0] = list(speakers)  # one presentation by several people
    return result


def _named_in(text: str, speakers: list[SpeakerInfo], *, full_names_only: bool = False) -> SpeakerInfo | None:
    best: tuple[int, SpeakerInfo] | None = None
    for speaker in speakers:
        if full_names_only:
            found = _fold(text).find(_fold(speaker.name))
            position = found if found >= 0 else None
        else:
            position = _mentions(text, speaker.name)
        if position is not None and (best is None or position < best[0]):
            best = (position, speaker)
    return best[1] if best else None


def _named_next_to_title(heading: str | None, intro: str, speakers: list[SpeakerInfo]) -> SpeakerInfo | None:
    """The speaker named in the intro paragraph or list item that quotes this title."""
    if not heading:
        return None
    wanted = _fold(_plain_text(heading)).strip("\"'“” ")
    for chunk in re.split(r"\n[ \t]*\n|\n(?=[ \t]*(?:[-*+]|\d+\.)[ \t])", intro):
        in_chunk = wanted and wanted in _fold(_plain_text(chunk))
        if in_chunk and (found := _named_in(_plain_text(chunk), speakers, full_names_only=True)):
            return found
    return None


_TITLE_SEPARATOR_RE = re.compile(r"\s*[:–—]\s*|\s+-\s+")
_TITLE_BY_RE = re.compile(r"^(?P<title>.*?)\s*(?:\bby\s+(?P<by>.+)|\((?P<paren>[^()]+)\))$")


def _part_title(heading: str | None, who: list[SpeakerInfo], post_title: str) -> str | None:
    """The part's own title: the heading without the presenter's name."""
    if heading is None or _fold(heading) == _fold(post_title):
        return None
    names = {_fold(speaker.name) for speaker in who}
    if _fold(heading) in names:
        return None
    separators = list(_TITLE_SEPARATOR_RE.finditer(heading))
    if separators:
        first, last = separators[0], separators[-1]
        if _fold(heading[: first.start()]) in names:  # "Ada Tur: Constituent Movement"
            return heading[first.end() :].strip() or None
        if _fold(heading[last.end() :]) in names:  # "Constituent Movement - Ada Tur"
            return heading[: last.start()].strip() or None
    by = _TITLE_BY_RE.match(heading)
    if by and _fold(by["by"] or by["paren"]) in names:
        return by["title"].strip() or None
    return heading


# ---------------------------------------------------------------------------------------
# Dates and times

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4, "sat": 5,
    "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
# Any two letters after the day: posts write "30rd" as readily as "30th".
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<year>\d{4}))?"
_DATE_PATTERNS = (
    re.compile(rf"(?<!\w){_MONTH}\s+{_DAY}(?!\w){_YEAR}", re.I),
    re.compile(rf"(?<!\w){_DAY}\s+(?:of\s+)?{_MONTH}(?!\w){_YEAR}", re.I),
    re.compile(r"(?<!\d)(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?!\d)"),
)
_WEEKDAY_RE = re.compile(r"(?<!\w)(" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) + r")\.?(?!\w)", re.I)
_TIME_RE = re.compile(
    r"(?<![\w:.])(?:(?P<noon>noon|midday)|(?P<h>\d{1,2})(?:\s*[:h.]\s*(?P<m>\d{2}))?"
    r"\s*(?P<mer>[ap]\.?\s?m\b\.?)?)(?![\w:])",
    re.I,
)
_RANGE_SEPARATOR_RE = re.compile(r"\s*(?:-{1,2}|–|—|\bto\b|\buntil\b|\btill\b)\s*", re.I)
_ZONE_RE = re.compile(
    r"\s*\(?\b(?P<zone>E[SD]?T|[CMP][SD]?T|UTC|GMT|BST|CES?T|EES?T|IST|JST|AE[SD]T|Eastern(?: Time)?)\b\)?"
)
_EASTERN_ZONES = {"ET", "EST", "EDT", "EASTERN", "EASTERN TIME"}
# Around 1 to 7 o'clock with no AM/PM the group means the afternoon: it never meets at night.
_AFTERNOON_HOURS = range(1, 8)
_PLACEHOLDER_TIME = time(12, 0)


@dataclass
class _MonthDay:
    month: int
    day: int
    year: int | None
    weekday: int | None
    end: int  # where the date ends in the text


@dataclass
class _Clock:
    start: time
    end: time | None
    zone: str | None
    guessed_pm: bool


@dataclass
class _When:
    starts_at: datetime
    ends_at: datetime
    time_known: bool


def _find_month_day(text: str) -> _MonthDay | None:
    matches = [m for pattern in _DATE_PATTERNS if (m := pattern.search(text))]
    if not matches:
        return None
    match = min(matches, key=lambda m: m.start())
    month = match["month"]
    month_number = int(month) if month.isdigit() else _MONTHS[month.lower()]
    weekday = _WEEKDAY_RE.search(text[: match.start()])
    return _MonthDay(
        month=month_number,
        day=int(match["day"]),
        year=int(match["year"]) if match["year"] else None,
        weekday=_WEEKDAYS[weekday[1].lower()] if weekday else None,
        end=match.end(),
    )


def _find_clock(text: str, *, allow_bare_hour: bool) -> _Clock | None:
    """The first time of day in the text, with an end time when it gives a range."""
    for match in _TIME_RE.finditer(text):
        end_match = _range_end(text, match.end())
        # A bare number is a time only where one is expected, or as the start of a
        # range whose end is clearly a time ("1-2:30 PM").
        clear_end = end_match is not None and bool(end_match["m"] or end_match["mer"])
        if not (match["noon"] or match["m"] or match["mer"] or allow_bare_hour or clear_end):
            continue
        start, end, guessed = _clock_times(match, end_match)
        if start is None:
            continue
        tail = text[(end_match or match).end() :]
        zone = _ZONE_RE.match(tail)
        return _Clock(start, end, zone["zone"].upper() if zone else None, guessed)
    return None


def _range_end(text: str, position: int) -> re.Match[str] | None:
    separator = _RANGE_SEPARATOR_RE.match(text, position)
    if separator is None:
        return None
    match = _TIME_RE.match(text, separator.end())
    return match if match and (match["noon"] or match["h"]) else None


def _clock_times(start: re.Match[str], end: re.Match[str] | None) -> tuple[time | None, time | None, bool]:
    """Start and end times from the matched numbers, filling in a missing AM/PM."""
    start_mer, end_mer = _meridiem(start), _meridiem(end)
    guessed = False
    if start_mer is None and end_mer is None and _hour(start) in _AFTERNOON_HOURS:
        start_mer, guessed = "pm", True
    if start_mer is None and end_mer is not None:
        # "1-2:30 PM" borrows PM for its start; "11-12:30PM" must not (11 PM is after 12:30 PM).
        borrowed, end_time = _to_time(start, end_mer), _to_time(end, end_mer)
        start_mer = end_mer if borrowed and end_time and borrowed < end_time else None
    start_time = _to_time(start, start_mer)
    end_time = _to_time(end, end_mer or start_mer)
    if start_time and end_time and end_time <= start_time and end_mer is None:
        end_time = _to_time(end, "pm")  # "11AM-12:30": the end is past noon
    return start_time, end_time, guessed


def _meridiem(match: re.Match[str] | None) -> str | None:
    if match is None or not match["mer"]:
        return None
    return "am" if match["mer"][0].lower() == "a" else "pm"


def _hour(match: re.Match[str]) -> int:
    return 12 if match["noon"] else int(match["h"])


def _to_time(match: re.Match[str] | None, meridiem: str | None) -> time | None:
    if match is None:
        return None
    if match["noon"]:
        return time(12, 0)
    hour, minute = int(match["h"]), int(match["m"] or 0)
    # "13:00 PM" happens; a 24-hour reading wins over a stray meridiem.
    if meridiem is not None and 1 <= hour <= 12:
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _read_when(
    logistics: dict[str, str],
    file_date: date | None,
    front: dict[str, Any],
    semester: str | None,
    tz: ZoneInfo,
    default_minutes: int,
    warnings: list[str],
) -> _When:
    date_text = logistics.get("date") or logistics.get("when")
    front_date = _front_matter_date(front.get("date"))
    reference = file_date or front_date
    post_date = _post_date(date_text, reference, semester, warnings) if date_text else None
    if post_date and file_date and post_date != file_date:
        warnings.append(
            f"file name says {file_date.isoformat()} but the post says {post_date.isoformat()}; using the post's date"
        )
    day = post_date or reference
    if day is None:
        raise PostError("no date: the post has no Logistics date and its file name has none")

    clock = _post_clock(logistics, warnings)
    if clock is None:
        if not logistics.get("time"):
            warnings.append("the post gives no time; 12:00 used as a placeholder")
        starts_at = datetime.combine(day, _PLACEHOLDER_TIME, tzinfo=tz)
        return _When(starts_at, starts_at + timedelta(minutes=default_minutes), False)

    starts_at = datetime.combine(day, clock.start, tzinfo=tz)
    ends_at = starts_at + timedelta(minutes=default_minutes)
    if clock.end is not None:
        explicit_end = datetime.combine(day, clock.end, tzinfo=tz)
        if explicit_end > starts_at:
            ends_at = explicit_end
        else:
            warnings.append("the post's end time is not after its start; default length used")
    return _When(starts_at, ends_at, True)


def _front_matter_date(value: Any) -> date | None:
    # Jekyll lets `date:` override the file name's date; YAML already parsed it.
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _post_date(text: str, reference: date | None, semester: str | None, warnings: list[str]) -> date | None:
    if _is_tbd(text):
        return None
    found = _find_month_day(text)
    if found is None:
        raise PostError(f"cannot read the date {text!r}")
    years = _candidate_years(found, reference, semester)
    if not years:
        raise PostError(f"the date {text!r} has no year, and neither the file name nor the semester gives one")
    try:
        candidates = [date(year, found.month, found.day) for year in years]
    except ValueError:
        raise PostError(f"the date {text!r} does not exist") from None
    # Without a written year, take the one nearest the file name (a January talk filed in December).
    chosen = min(candidates, key=lambda d: abs((d - reference).days)) if reference else candidates[0]
    if found.weekday is not None and chosen.weekday() != found.weekday:
        warnings.append(f"the post says {text!r} but {chosen.isoformat()} is a {chosen:%A}")
    return chosen


def _candidate_years(found: _MonthDay, reference: date | None, semester: str | None) -> list[int]:
    if found.year is not None:
        return [found.year]
    if reference is not None:
        return [reference.year - 1, reference.year, reference.year + 1]
    if semester is not None:
        return [int(semester.rsplit("-", 1)[1])]
    return []


def _post_clock(logistics: dict[str, str], warnings: list[str]) -> _Clock | None:
    time_text = logistics.get("time")
    if time_text and _is_tbd(time_text):
        warnings.append("the post's time is TBD; 12:00 used as a placeholder")
        return None
    if time_text:
        source_text = time_text
        clock = _find_clock(time_text, allow_bare_hour=True)
    else:
        # "When: Friday May 9th at 1PM": the time follows the date.
        source_text = logistics.get("when") or logistics.get("date") or ""
        found = _find_month_day(source_text)
        rest = source_text[found.end :] if found else source_text
        clock = _find_clock(rest, allow_bare_hour=False)
    if clock is None:
        if time_text:
            warnings.append(f"cannot read the time {time_text!r}; 12:00 used as a placeholder")
        return None
    if clock.guessed_pm:
        warnings.append(f"the time in {source_text!r} has no AM/PM; read as {clock.start:%H:%M}")
    if clock.zone and clock.zone not in _EASTERN_ZONES:
        warnings.append(f"the time is given in {clock.zone}; read as the series' local time")
    return clock


# ---------------------------------------------------------------------------------------
# Places

_PLATFORMS = (
    (re.compile(r"\bzoom\b", re.I), "Zoom"),
    (re.compile(r"\bgoogle\s*meet\b|meet\.google\.com|\bg-?meet\b", re.I), "Google Meet"),
    (re.compile(r"\b(?:microsoft|ms)\s*teams\b|\bteams\b", re.I), "Microsoft Teams"),
    (re.compile(r"\bwebex\b", re.I), "Webex"),
    (re.compile(r"\bjitsi\b", re.I), "Jitsi Meet"),
    (re.compile(r"\bbluejeans\b", re.I), "BlueJeans"),
    (re.compile(r"\bskype\b", re.I), "Skype"),
    (re.compile(r"\byoutube\b", re.I), "YouTube"),
    (re.compile(r"\bgather(?:\.town)?\b", re.I), "Gather"),
    (re.compile(r"\bdiscord\b", re.I), "Discord"),
)
# An online part with no named platform ("online only", "hybrid").
_GENERIC_ONLINE_RE = re.compile(r"\b(?:online|virtual(?:ly)?|remote(?:ly)?|hybrid|live\s?stream(?:ed)?)\b", re.I)
_GENERIC_ONLINE = "Online"
_PLACE_SEPARATOR_RE = re.compile(r"[(),;/+&]|\s[-–—|]\s|\b(?:or|and|via|on|with|plus|also)\b", re.I)
# Segments that carry no place: "(See email)", "online only", "link to follow", ...
_PLACE_NOISE_RE = re.compile(
    r"^(?:(?:see|check|the|an?|your|email|e-mail|mail|link|links|details|announcement|calendar|"
    r"invite|invitation|online|only|hybrid|virtual|virtually|remote|remotely|in|at|person|"
    r"in-person|streamed|livestream|will|be|sent|to|follow|for|by|registered|attendees|"
    r"participants|meeting|tba|tbd|tbc|is|are)\b\s*)+$",
    re.I,
)
# Reading the room out of a Location line, strongest evidence first:
#  1. a room the series already knows (earlier imports, the organizer's room list), named
#     anywhere in the line: the longest such name wins;
#  2. a room the line names outright: "room H04", "salle 2215", "Rm. B-118" (the number is
#     the room: "Room A14" and "A14" are one room), "Auditorium 2", "Lecture Hall 3";
#  3. a room code standing alone: "H04 or Zoom", "in B-118";
#  4. a capitalised place after "in the"/"at the": "We will meet in the Agora as usual";
#  5. a short phrase of its own (up to _MAX_ROOM_WORDS words: "Mila", "the Agora").
# A longer phrase with none of these is not made a room: the talk gets no room and the
# import report says what was read, so that an organizer sets the room. A room that an
# attendee cannot walk to is worse than none.
_MAX_ROOM_WORDS = 4
_MAX_ROOM_CHARS = 120  # Room.name
_ROOM_NUMBER = r"[A-Za-z]{0,3}-?\d[\w.-]*"
_NAMED_ROOM_RE = re.compile(rf"\b(?:rooms?|rm\.?|salle|local)\s*(?:no\.?\s*|#\s*)?(?P<room>{_ROOM_NUMBER})", re.I)
_KIND_ROOM_RE = re.compile(
    r"(?P<room>(?i:\b(?:(?:lecture|seminar|conference|meeting|class)\s+)?"
    r"(?:auditorium|amphith[eé][aâ]tre|amphi|hall|lab|laboratory|lounge|studio|theatre|theater|classroom))"
    r"\s+(?:\d[\w.-]*|[A-Z](?:-?\d[\w.-]*)?)(?![\w-]))"
)
_ROOM_CODE_RE = re.compile(r"(?<![\w-])(?P<room>[A-Z]{1,3}-?\d{1,4}[A-Z]?)(?![\w-])")
_THE_PLACE_RE = re.compile(r"(?i:\b(?:in|at)\s+the)\s+(?P<room>[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*){0,3})")
# "6650 Saint-Urbain", "1200 rue des Érables": a street address is where the building is.
_ADDRESS_RE = re.compile(r"^\d+[A-Za-z]?\s+\D", re.I)


def _read_place(
    location: str | None, known_rooms: Collection[str], warnings: list[str]
) -> tuple[str | None, str | None]:
    """(room, online platform) from a Location line; see the order of evidence above."""
    if not location or _is_tbd(location):
        return None, None
    platform = _platform(location)
    text = _squash_spaces(_URL_RE.sub(" ", location))
    room = _known_room(text, known_rooms) or _room_named_in(text)
    if room is not None:
        return room, platform
    segments = [p for p in (_place_segment(s) for s in _PLACE_SEPARATOR_RE.split(text)) if p]
    words = sum(len(segment.split()) for segment in segments)
    if words > _MAX_ROOM_WORDS:
        warnings.append(
            f"the location {location.strip()!r} names no room Lectern recognises; "
            "the talk has no room: an organizer should set it"
        )
        return None, platform
    room = next((seg for seg in segments if not _ADDRESS_RE.match(seg) and len(seg) <= _MAX_ROOM_CHARS), None)
    return room, platform


def _known_room(text: str, known_rooms: Collection[str]) -> str | None:
    """The longest room of the series that the line names, on word boundaries, in any case."""
    folded = _fold(text)
    best: tuple[int, str] | None = None
    for name in known_rooms:
        if _platform(name) is not None:  # a "room" called Zoom or Online is no place to walk to
            continue
        for variant in _room_variants(name):
            if len(variant) < 2 or (best is not None and len(variant) <= best[0]):
                continue
            if re.search(rf"(?<!\w){re.escape(variant)}(?!\w)", folded):
                best = (len(variant), name)
    return best[1] if best else None


def _room_variants(name: str) -> set[str]:
    """'Room A14' -> {'room a14', 'a14'}: the forms a post may use for one room."""
    folded = _fold(name)
    bare = re.sub(r"^(?:room|salle|local|rm\.?)\s+(?=\S*\d)", "", folded)
    return {folded, bare}


def _room_named_in(text: str) -> str | None:
    for pattern in (_NAMED_ROOM_RE, _KIND_ROOM_RE, _ROOM_CODE_RE, _THE_PLACE_RE):
        for match in pattern.finditer(text):
            room = match["room"].rstrip(".-")
            usable = room and len(room) <= _MAX_ROOM_CHARS and _platform(room) is None
            if usable and not _PLACE_NOISE_RE.match(room):
                return room[0].upper() + room[1:]
    return None


def _platform(text: str) -> str | None:
    found = [(m.start(), name) for pattern, name in _PLATFORMS if (m := pattern.search(text))]
    if found:
        return min(found)[1]
    return _GENERIC_ONLINE if _GENERIC_ONLINE_RE.search(text) else None


def _place_segment(segment: str) -> str | None:
    text = segment.strip(" .:'\"")
    if not text or _PLACE_NOISE_RE.match(text) or any(p.search(text) for p, _ in _PLATFORMS):
        return None
    text = re.sub(r"^(?:(?:in|at)\s+)?(?:the\s+)?", "", text, flags=re.I)
    # "Room A14" and "A14" name the same room; keep the name, not the word.
    text = re.sub(r"^room\s+(?=\S*\d)", "", text, flags=re.I)
    return text.strip() or None


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
    for index, cell in enumerate(_fold(_plain_text(c)) for c in header):
        if "date" in cell or "when" in cell:
            columns.when = index
        elif "speaker" in cell or "presenter" in cell or "who" in cell:
            columns.speakers = index
        elif "topic" in cell or "title" in cell or "paper" in cell:
            columns.topic = index
    return columns


def _schedule_semester(front: dict[str, Any] | None, body: str, source: str) -> tuple[str, str]:
    title = _text_value((front or {}).get("title")) or ""
    match = (
        _SEMESTER_SENTENCE_RE.search(body)
        or _SEMESTER_RE.match(title)
        or _SEMESTER_WORDS_RE.search(source_key_of(source))
    )
    if match is None:
        raise PostError("cannot tell which semester this schedule is for")
    season, year = match[1].lower(), match[2]
    return f"{season}-{year}", f"{season.capitalize()} {year}"


def _schedule_intro(before_table: str) -> str | None:
    """The paragraph introducing the semester (the last one above the table)."""
    paragraphs = [p.strip() for p in _paragraphs(before_table) if not p.lstrip().startswith(("#", "<!--", "|"))]
    chosen = next((p for p in paragraphs if _SEMESTER_SENTENCE_RE.search(p)), None)
    chosen = chosen or (paragraphs[-1] if paragraphs else None)
    if chosen is None or "{{" in chosen or "{%" in chosen:
        return None
    return chosen


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


def _clean_cell(cell: str) -> str:
    without_liquid = _LIQUID_TAG_RE.sub("", _LIQUID_OUTPUT_RE.sub("", cell))
    return _squash_spaces(_plain_text(without_liquid))


def _schedule_row(cells: list[str], columns: _Columns, year: int) -> ScheduleRow:
    when_text = _clean_cell(_cell(cells, columns.when))
    speaker_text = _clean_cell(_cell(cells, columns.speakers)) if len(cells) > 1 else ""
    topic_text = _clean_cell(_cell(cells, columns.topic)) if len(cells) > 1 else ""
    link = next((m for c in cells if (m := _POST_LINK_RE.search(c))), None)
    post_key = source_key_of(link["path"]) if link else None
    local_date, local_time, end_time = _row_when(when_text, year)

    speakers = split_names(speaker_text)
    title = None if not topic_text or _is_tbd(topic_text) else topic_text
    kind = _row_kind(cells, columns, when_text, speaker_text, topic_text, post_key, speakers)
    if kind in ("break", "conference", "note"):
        speakers, title = [], None
    elif kind in ("talk", "tbd") and title is None and not speakers and not _is_tbd(speaker_text):
        title = speaker_text or None  # "Intern Presentations": the session is the title

    words = [_clean_cell(c) for c in cells]
    text = " — ".join(w for w in words if w and not _GENERIC_LINK_TEXT_RE.match(w))
    return ScheduleRow(kind, local_date, local_time, speakers, title, post_key, text, end_time)


def _row_when(text: str, year: int) -> tuple[date | None, time | None, time | None]:
    found = _find_month_day(text)
    local_date = None
    rest = text
    if found is not None:
        try:
            local_date = date(found.year or year, found.month, found.day)
        except ValueError:
            local_date = None
        rest = text[found.end :]
    # "@ 11" is a time; "to 3rd" (the end of a date range) is not.
    clock = _find_clock(rest, allow_bare_hour="@" in rest)
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
    if _is_tbd(topic_text) or _is_tbd(speaker_text) or (not topic_text and not speaker_text):
        return "tbd" if len(cells) > 1 else "note"
    if not topic_text and speakers:
        return "tbd"
    return "talk" if speakers else "note"
