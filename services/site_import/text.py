"""Small text helpers shared by the readers: folding for comparison, Markdown inline text as words."""

from __future__ import annotations

import re
import unicodedata
from typing import Any


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [v for v in value if v is not None]
    # Jekyll also accepts a space-separated string of categories.
    return str(value).split() if isinstance(value, str) else [value]


def text_value(value: Any) -> str | None:
    """A front matter scalar as stripped text; None when missing or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def fold(text: Any) -> str:
    """Lower-case, accent-free, single-spaced text for comparing names and labels."""
    return squash_spaces(strip_accents(str(text)).casefold())


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def squash_spaces(text: str) -> str:
    return " ".join(text.split())


MD_LINK_RE = re.compile(r"\[(?P<text>[^\]]*)\]\(\s*<?(?P<url>[^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_EMPHASIS_RE = re.compile(r"(\*\*|__)(.+?)\1|(?<!\w)([*_])(?!\s)(.+?)(?<!\s)\3(?!\w)")
_HTML_TAG_RE = re.compile(r"<[^>]+>")
URL_RE = re.compile(r"https?://[^\s)<>\"']+")
_PARAGRAPH_BREAK_RE = re.compile(r"\n(?:[ \t]*\n)+")


def plain_text(markdown: str) -> str:
    """Markdown inline text as words: links to their text, emphasis and tags removed."""
    text = MD_LINK_RE.sub(lambda m: m["text"], markdown)
    text = _HTML_TAG_RE.sub(" ", text)
    previous = None
    while previous != text:  # nested emphasis ("***x***") needs more than one pass
        previous = text
        text = _EMPHASIS_RE.sub(lambda m: m[2] if m[2] is not None else m[4], text)
    return text.replace("`", "")


def tidy(markdown: str) -> str:
    """Trim blank lines around and collapse runs of them inside."""
    return _PARAGRAPH_BREAK_RE.sub("\n\n", markdown).strip()


def split_paragraphs(markdown: str) -> list[str]:
    return [p.strip("\n") for p in _PARAGRAPH_BREAK_RE.split(markdown) if p.strip()]


def find_urls(markdown: str) -> list[str]:
    """Link targets and bare URLs, in the order they appear, each once."""
    found = [(m.start(), m["url"]) for m in MD_LINK_RE.finditer(markdown) if m["url"]]
    found += [(m.start(), m[0]) for m in URL_RE.finditer(markdown)]
    return list(dict.fromkeys(url for _, url in sorted(found)))
