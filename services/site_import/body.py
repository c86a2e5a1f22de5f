"""Reading a talk page's Markdown body: headings by what they announce, labelled lines and paragraphs,
logistics (date, time, place), recordings and slides, and the raw parts of a multi-part session."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt

from services.site_import.talk_info import SectionInfo
from services.site_import.text import find_urls, fold, plain_text, split_paragraphs, squash_spaces, tidy
from services.site_import.when import find_month_day

# ---------------------------------------------------------------------------------------
# Markdown structure: headings, labelled paragraphs

_MARKDOWN = MarkdownIt("commonmark")
# "**Talk description:** text", "**Speaker bio**: text", "**Abstract**" alone, ...
BOLD_LABEL_RE = re.compile(
    r"^[ \t]*(?:\*\*|__)(?P<label>[^*_\n]{1,80}?)[ \t]*(?::[ \t]*(?:\*\*|__)|(?:\*\*|__)[ \t]*:?)[ \t]*"
)
BOLD_ONLY_RE = re.compile(r"^[ \t]*(?:\*\*|__)(?P<title>[^\n]+?)(?:\*\*|__)[ \t]*$")

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
        return plain_text(self.raw_heading).strip().rstrip(":").strip()

    @property
    def kind(self) -> str:
        return _heading_kind(self.heading)

    def body(self) -> str:
        """Own text followed by the sub-headings as Markdown, tidied."""
        chunks = [self.text]
        for child in self.children:
            chunks.append(f"{'#' * child.level} {child.raw_heading}\n\n{child.body()}")
        return tidy("\n\n".join(chunks))


def _heading_kind(heading: str) -> str:
    """What a heading announces: logistics, recording, slides, bio, abstract or other."""
    folded = fold(heading)
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


def split_labelled(markdown: str, classify: Callable[[str], Any | None]) -> tuple[str, list[tuple[Any, str]]]:
    """Split text at paragraphs opening with a bold label that `classify` recognises.

    Returns the text before the first label and (key, text) for each labelled stretch;
    a stretch runs until the next recognised label.
    """
    lead: list[str] = []
    items: list[tuple[Any, list[str]]] = []
    for paragraph in split_paragraphs(markdown):
        match = BOLD_LABEL_RE.match(paragraph)
        key = classify(match["label"].strip()) if match else None
        if match and key is not None:
            items.append((key, [paragraph[match.end() :]]))
        elif items:
            items[-1][1].append(paragraph)
        else:
            lead.append(paragraph)
    return tidy("\n\n".join(lead)), [(k, tidy("\n\n".join(ps))) for k, ps in items]


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
class RawPart:
    heading: str | None  # the part's heading (or bold sub-title); None for a single talk
    abstract: str | None = None
    bio: str | None = None


@dataclass
class Content:
    intro: str = ""
    logistics: dict[str, str] = field(default_factory=dict)  # date/when/time/location -> value
    logistics_text: str | None = None  # the Logistics section when it has no labelled lines
    grouped: bool = False  # True when the post gives title/abstract/bio per presentation
    parts: list[RawPart] = field(default_factory=list)
    sections: list[SectionInfo] = field(default_factory=list)
    recording_url: str | None = None
    slides_url: str | None = None

    def has_talk_details(self) -> bool:
        described = any(p.abstract or p.bio for p in self.parts)
        return bool(self.logistics or self.logistics_text or described or self.sections)


def read_content(body: str, warnings: list[str]) -> Content:
    root = _heading_tree(body)
    content = Content()
    logistics_nodes = _take_nodes(root, {"logistics"})
    for node in _take_nodes(root, {"recording", "slides", "media"}):
        _read_media(node, content, warnings)
    if logistics_nodes:
        section = "\n\n".join(node.body() for node in logistics_nodes)
        content.logistics = _logistics_lines(section)[1]
        if not content.logistics:
            content.logistics_text = squash_spaces(plain_text(section)) or None
            # Prose ("Friday May 9 at 1PM in A14"): read its date and time, if it has one.
            if content.logistics_text and find_month_day(content.logistics_text):
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

    content.intro = tidy(root.text)
    groups = [n for n in root.children if n.kind == "other" and _is_part_group(n)]
    content.grouped = bool(groups)
    single = RawPart(heading=None)
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


def _read_media(node: _Node, content: Content, warnings: list[str]) -> None:
    """Keep only the link of a Recording / Slides section; its words are not needed."""
    urls = find_urls(node.body())
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
        value = squash_spaces(plain_text(match["value"]).replace("\\", " "))
        if value:
            found.setdefault(label, value)
        return ""

    remaining = _LOGISTICS_LINE_RE.sub(take, text)
    return (remaining if found else text), found


def _is_part_group(node: _Node) -> bool:
    """A heading that holds one presentation: abstract/bio under it or labelled in it."""
    if any(child.kind in ("abstract", "bio") for child in node.children):
        return True
    return bool(split_labelled(node.text, _label_kind)[1])


def _group_part(node: _Node, content: Content) -> RawPart:
    lead, labelled = split_labelled(node.text, _label_kind)
    part = RawPart(heading=node.heading)
    for kind, text in labelled:
        _fill_part(part, kind, text)
    for child in node.children:
        if child.kind in ("abstract", "bio") and getattr(part, child.kind) is None:
            _fill_part(part, child.kind, child.body())
        else:
            content.sections.append(SectionInfo(child.heading, child.body()))
    if lead:
        # Text between the part heading and its first label belongs to the talk.
        part.abstract = tidy(f"{lead}\n\n{part.abstract or ''}")
    return part


def _fill_part(part: RawPart, kind: str, text: str) -> None:
    if kind == "abstract" and part.abstract is None:
        part.abstract = text or None
    elif kind == "bio" and part.bio is None:
        part.bio = text or None


def _take_inline_labels_from_intro(content: Content, single: RawPart) -> None:
    """A post without headings may label its abstract and bio in bold in the intro."""
    if single.abstract or single.bio:
        return
    lead, labelled = split_labelled(content.intro, _label_kind)
    if not labelled:
        return
    content.intro = lead
    for kind, text in labelled:
        _fill_part(single, kind, text)
