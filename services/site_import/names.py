"""People's names: splitting a list of speakers, honorifics, session labels, finding a name in text."""

from __future__ import annotations

import re
from typing import Any

from services.site_import.text import plain_text, squash_spaces, strip_accents

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
        text = squash_spaces(plain_text(str(item)))
        if led := _LED_BY_RE.search(text):
            text = led["who"]
        elif _is_session_label(text):
            continue
        for piece in _NAME_SEPARATOR_RE.split(text):
            name = strip_honorifics(piece)
            if name and not _DEGREE_RE.match(name) and not _is_session_label(name):
                names.append(name)
    return names


def _is_session_label(text: str) -> bool:
    text = text.strip()
    return not text or bool(_TBD_RE.match(text) or _GROUP_LABEL_RE.search(text))


def is_tbd(text: str | None) -> bool:
    return text is not None and bool(_TBD_RE.match(text.strip()))


def strip_honorifics(name: str) -> str:
    return _HONORIFIC_RE.sub("", name.strip()).strip(" .,")


def first_name(name: str) -> str:
    return name.split()[0] if name.split() else name


def _name_patterns(name: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Patterns for the full name (any case) and the first name alone.

    The first name must keep its capital: "Will" is a name, "will" is not.
    """
    full = re.compile(rf"(?<!\w){re.escape(squash_spaces(strip_accents(name)))}(?!\w)", re.I)
    first = re.compile(rf"(?<!\w){re.escape(strip_accents(first_name(name)))}(?!\w)")
    return full, first


def mentions(text: str, name: str) -> int | None:
    """Where `text` first names this person (full name, else first name), or None."""
    plain = squash_spaces(strip_accents(text))
    for pattern in _name_patterns(name):
        if match := pattern.search(plain):
            return match.start()
    return None


def starts_with_name(text: str, name: str) -> bool:
    plain = squash_spaces(strip_accents(strip_honorifics(text)))
    return any(pattern.match(plain) for pattern in _name_patterns(name))
