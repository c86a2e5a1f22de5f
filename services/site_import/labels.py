"""Labelled facts in a page's body, however they are written: "Speaker: ...", "**When:** ...",
"- Where: ...", a table of label and value, or a one-row table under a header of labels.

`take_labels` takes these lines out of the body and returns them by meaning (speaker, title,
date, time, place, links, ...); abstracts and bios stay in the body, written as bold labels or
headings the body reader already understands ("Abstract: ..." becomes "**Abstract:** ...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.site_import.text import fold, plain_text, squash_spaces

# Label words (folded) -> what they give. Longest first when compiled.
LABELS: dict[str, str] = {
    "speaker": "speaker",
    "speakers": "speaker",
    "speaker(s)": "speaker",
    "presenter": "speaker",
    "presenters": "speaker",
    "presenter(s)": "speaker",
    "presented by": "speaker",
    "guest": "speaker",
    "guest speaker": "speaker",
    "invited speaker": "speaker",
    "lecturer": "speaker",
    "who": "speaker",
    "by": "speaker",
    "title": "title",
    "talk title": "title",
    "title of the talk": "title",
    "seminar title": "title",
    "lecture title": "title",
    "talk": "title",
    "topic": "title",
    "subject": "title",
    "affiliation": "affiliation",
    "institution": "affiliation",
    "organization": "affiliation",
    "organisation": "affiliation",
    "date": "date",
    "day": "date",
    "when": "when",
    "date and time": "when",
    "date & time": "when",
    "date/time": "when",
    "date / time": "when",
    "datetime": "when",
    "time and date": "when",
    "time and place": "when+location",
    "time & place": "when+location",
    "time and location": "when+location",
    "time & location": "when+location",
    "date and place": "when+location",
    "date and location": "when+location",
    "date, time and place": "when+location",
    "date, time and location": "when+location",
    "date, time & location": "when+location",
    "when and where": "when+location",
    "when & where": "when+location",
    "time": "time",
    "hour": "time",
    "hours": "time",
    "start time": "time",
    "where": "location",
    "location": "location",
    "room": "location",
    "place": "location",
    "venue": "location",
    "address": "location",
    "zoom": "online",
    "zoom link": "online",
    "online": "online",
    "join online": "online",
    "livestream": "online",
    "live stream": "online",
    "stream": "online",
    "meeting link": "online",
    "webinar": "online",
    "slides": "slides",
    "video": "video",
    "recording": "video",
    "youtube": "video",
    "paper": "paper",
}
# Labels that open an abstract or a bio: kept in the body, as a bold label the body reader knows.
TEXT_LABELS = (
    "abstract",
    "talk abstract",
    "summary",
    "description",
    "talk description",
    "bio",
    "bios",
    "biography",
    "speaker bios",
    "speaker bio",
    "short bio",
    "about the speaker",
)
_LABEL_WORDS = "|".join(re.escape(label) for label in sorted(LABELS, key=len, reverse=True))
_TEXT_WORDS = "|".join(re.escape(label) for label in sorted(TEXT_LABELS, key=len, reverse=True))
_LABEL_LINE_RE = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]+)?(?:[-*+][ \t]+)?(?:\*\*|__)?[ \t]*"
    rf"(?P<label>{_LABEL_WORDS})[ \t]*(?:\*\*|__)?[ \t]*[:：][ \t]*"
    r"(?:\*\*|__)?[ \t]*(?P<value>.*?)[ \t]*(?:\*\*|__)?[ \t]*(?:<br\s*/?>)?[ \t]*$",
    re.I,
)
# "Abstract: text" or "Abstract" alone on its line.
_TEXT_LABEL_RE = re.compile(
    rf"^[ \t]*(?:\*\*|__)?(?P<label>{_TEXT_WORDS})(?:\*\*|__)?[ \t]*"
    r"(?:(?P<colon>[:：])[ \t]*(?:\*\*|__)?[ \t]*(?P<rest>.*))?$",
    re.I,
)
_FENCE_RE = re.compile(r"^[ \t]*(```|~~~)")
_TABLE_SEPARATOR_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_CELL_SPLIT_RE = re.compile(r"(?<!\\)\|")
_BREAK_TAG_RE = re.compile(r"<br\s*/?>", re.I)
_DATED_RE = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|"
    r"jul|aug|sep|oct|nov|dec)|\d{4}-\d{2}-\d{2}|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b",
    re.I,
)


@dataclass
class Labels:
    """The labelled facts of a body, first value of each kind, as written (Markdown kept)."""

    values: dict[str, str] = field(default_factory=dict)

    def get(self, kind: str) -> str | None:
        return self.values.get(kind)

    def add(self, kind: str, value: str) -> None:
        if value.strip() and kind not in self.values:
            self.values[kind] = value.strip()


def label_kind(label: str) -> str | None:
    return LABELS.get(fold(plain_text(label)).rstrip(" :"))


def schedule_rows(body: str) -> int:
    """How many rows of the body's largest table give a date: a page listing several talks
    (a schedule) rather than one."""
    lines = body.split("\n")
    best = 0
    for index in range(len(lines) - 1):
        if "|" in lines[index] and _TABLE_SEPARATOR_RE.match(lines[index + 1]):
            rows = 0
            for line in lines[index + 2 :]:
                if "|" not in line or not line.strip():
                    break
                rows += bool(_DATED_RE.search(line))
            best = max(best, rows)
    return best


def take_labels(body: str) -> tuple[Labels, str]:
    """The labelled facts of the body, and the body without their lines."""
    labels = Labels()
    body = tables_to_labels(_html_lines(body))
    kept: list[str] = []
    in_fence = False
    for line in body.split("\n"):
        if _FENCE_RE.match(line):
            in_fence = not in_fence
        if in_fence:
            kept.append(line)
            continue
        match = _LABEL_LINE_RE.match(line)
        if match and match["value"].strip():
            for kind in LABELS[fold(match["label"])].split("+"):
                labels.add(kind, match["value"])
            continue
        text = _TEXT_LABEL_RE.match(line)
        if text and not line.lstrip().startswith(("**", "__")):
            if text["rest"]:  # "Abstract: text" -> "**Abstract:** text", a label the body reader knows
                kept.append(f"**{text['label'].strip()}:** {text['rest']}")
            else:  # "Abstract" or "Abstract:" alone on its line: a heading
                kept.append(f"## {text['label'].strip()}")
            continue
        kept.append(line)
    return labels, "\n".join(kept)


_HTML_BLOCK_RE = re.compile(r"</?(?:p|div|li|ul|ol|h[1-6]|tr|table|tbody|section)\b[^>]*>|<br\s*/?>", re.I)
_HTML_BOLD_RE = re.compile(r"</?(?:strong|b)\s*>", re.I)
_HTML_CELL_RE = re.compile(r"</t[dh]>\s*<t[dh][^>]*>", re.I)


def _html_lines(body: str) -> str:
    """A body written in HTML (<p><strong>Speaker:</strong> ...</p>) as lines the label reader
    knows; a Markdown body is left as it is."""
    if not re.search(r"<(?:p|div|li|tr|br)\b", body, re.I):
        return body
    text = _HTML_CELL_RE.sub(": ", body)  # <td>Speaker</td><td>Jane</td> -> "Speaker: Jane"
    text = _HTML_BOLD_RE.sub("**", text)
    return _HTML_BLOCK_RE.sub("\n\n", text)


def tables_to_labels(body: str) -> str:
    """Tables of labels become label lines: a two-column table whose first column holds labels
    ("| **Speaker** | Jane Doe |"), or a header of labels over a single row."""
    lines = body.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        if index + 1 < len(lines) and "|" in lines[index] and _TABLE_SEPARATOR_RE.match(lines[index + 1]):
            end = index + 2
            while end < len(lines) and "|" in lines[end] and lines[end].strip():
                end += 1
            header = _cells(lines[index])
            rows = [_cells(line) for line in lines[index + 2 : end]]
            converted = _table_as_labels(header, rows)
            if converted is not None:
                out.extend(converted)
                index = end
                continue
        out.append(lines[index])
        index += 1
    return "\n".join(out)


def _table_as_labels(header: list[str], rows: list[list[str]]) -> list[str] | None:
    pairs: list[tuple[str, str]] = []
    by_row = [header, *rows] if all(len(r) >= 2 for r in rows) else []
    if by_row and all(len(r) == 2 for r in by_row) and _mostly_labels([r[0] for r in by_row if r[0].strip()]):
        pairs = [(r[0], r[1]) for r in by_row if r[0].strip() and r[1].strip()]
    elif len(rows) == 1 and _mostly_labels(header):
        pairs = [(h, v) for h, v in zip(header, rows[0], strict=False) if h.strip() and v.strip()]
    if not pairs:
        return None
    lines: list[str] = []
    for label, value in pairs:
        name = squash_spaces(plain_text(label)).rstrip(" :")
        value = _BREAK_TAG_RE.sub("\n\n", value).strip()
        lines += [f"**{name}:** {value}", ""]
    return lines


def _mostly_labels(cells: list[str]) -> bool:
    known = [c for c in cells if label_kind(c) or fold(plain_text(c)).rstrip(" :") in TEXT_LABELS]
    return len(cells) >= 2 and len(known) * 2 >= len(cells)


def _cells(line: str) -> list[str]:
    text = line.strip()
    text = text[1:] if text.startswith("|") else text
    text = text[:-1] if text.endswith("|") and not text.endswith("\\|") else text
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT_RE.split(text)]
