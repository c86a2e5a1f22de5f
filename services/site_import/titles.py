"""The talk's own title: not "Seminar: Jane Doe" when the page gives the talk's title elsewhere,
and without the speaker's name around it ("Jane Doe: Counting Sheep" -> "Counting Sheep")."""

from __future__ import annotations

import re

from services.site_import.speakers import speakers_from_text
from services.site_import.talk_info import SpeakerInfo
from services.site_import.text import fold, plain_text, squash_spaces

# "Seminar", "Talk", "Colloquium #12", "Guest lecture", "Reading group session": the kind of event.
_EVENT_WORDS = (
    r"(?:[\w'.&-]+\s+){0,4}?(?:seminar|talk|colloquium|lecture|keynote|webinar|session|meeting|presentation|"
    r"reading group|journal club|series|event|guest|speaker)s?"
)
_BOILERPLATE_RE = re.compile(
    rf"^(?P<event>{_EVENT_WORDS}(?:\s*(?:#|no\.?|n°)?\s*\d+)?)\s*(?:[:–—|-]+|\bby\b|\bwith\b|\bfrom\b)\s*(?P<rest>.+)$",
    re.I,
)
_BY_PREFIX_RE = re.compile(rf"^(?:{_EVENT_WORDS}\s+)?(?:by|with)\s+(?P<rest>.+)$", re.I)
_NAME_SEPARATOR_RE = re.compile(r"\s*[:–—|]\s*|\s+-\s+")
_TRAILING_BY_RE = re.compile(r"^(?P<title>.+?)[\s,]+(?:by|with|from)\s+(?P<who>[^()]+)$", re.I)
_TRAILING_PAREN_RE = re.compile(r"^(?P<title>.+?)\s*[(\[](?P<who>[^()\[\]]+)[)\]]\s*$")
# 'a talk titled "Counting Sheep"', 'will speak on “Counting Sheep”'
_QUOTED_TITLE_RE = re.compile(
    r"\b(?:titled|entitled|called|on|about|talk|presentation|lecture|seminar)\s*:?\s*"
    r"[\"“”«*_]+\s*(?P<title>[^\"“”»*_\n]{6,300}?)\s*[\"“”»*_]+"
)


def names_only(text: str, speakers: list[SpeakerInfo]) -> bool:
    """True when the text holds nothing but the speakers' names (and perhaps affiliations)."""
    if not speakers:
        return False
    named = speakers_from_text(text)
    return bool(named) and {fold(s.name) for s in named} <= {fold(s.name) for s in speakers}


def boilerplate_speakers(title: str) -> list[SpeakerInfo] | None:
    """The people a boilerplate title names ("Seminar: Jane Doe (Lakeside U)"), or None when the
    title is not boilerplate."""
    text = squash_spaces(plain_text(title))
    match = _BOILERPLATE_RE.match(text) or _BY_PREFIX_RE.match(text)
    if match is None:
        return None
    named = speakers_from_text(match["rest"])
    if not named or not all(_person_like(s.name) for s in named):
        return None
    return named


_GENERIC_RE = re.compile(
    r"^(?:[A-Z][\w'.&-]*\s+){0,4}?(?i:seminar|talk|colloquium|lecture|keynote|webinar|session|meeting|"
    r"presentation|reading group|journal club|series|event)s?"
    r"(?i:\s*(?:#|no\.?|n°|week|session|part|number)?\s*\d+)?(?:\s*[:,–—-]?\s*"
    r"(?:[A-Z]\w+\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?|\d{4}-\d{2}-\d{2}))?$"
)


def is_generic(title: str) -> bool:
    """ "Lecture Series #12", "Weekly Seminar", "Talk, March 5": the kind of event and perhaps
    its number or date, nothing about the talk."""
    return bool(_GENERIC_RE.match(squash_spaces(plain_text(title))))


def is_boilerplate(title: str, speakers: list[SpeakerInfo]) -> bool:
    """ "Seminar: Jane Doe", "Talk by Jane Doe", or just "Jane Doe": a title that names only
    the speakers, not what the talk is about."""
    text = squash_spaces(plain_text(title))
    if names_only(text, speakers):
        return True
    if not speakers:
        return boilerplate_speakers(text) is not None
    match = _BOILERPLATE_RE.match(text) or _BY_PREFIX_RE.match(text)
    return match is not None and names_only(match["rest"], speakers)


def without_speaker_names(title: str, speakers: list[SpeakerInfo]) -> str:
    """ "Jane Doe: Counting Sheep", "Counting Sheep - Jane Doe", "Counting Sheep (Jane Doe)",
    "Counting Sheep, by Jane Doe" -> "Counting Sheep"; any other title as it is."""
    if not speakers:
        return title
    separators = list(_NAME_SEPARATOR_RE.finditer(title))
    if separators:
        first, last = separators[0], separators[-1]
        if names_only(title[: first.start()], speakers) and title[first.end() :].strip():
            return title[first.end() :].strip()
        if names_only(title[last.end() :], speakers) and title[: last.start()].strip():
            return title[: last.start()].strip()
    for pattern in (_TRAILING_BY_RE, _TRAILING_PAREN_RE):
        match = pattern.match(title)
        if match and names_only(match["who"], speakers) and match["title"].strip(" ,"):
            return match["title"].strip(" ,")
    return title


def quoted_title(text: str) -> str | None:
    """A talk title quoted in prose: 'gives a talk titled "Counting Sheep"'."""
    match = _QUOTED_TITLE_RE.search(plain_text(text).replace("**", '"'))
    if match is None:
        return None
    title = squash_spaces(match["title"]).strip(" .,")
    return title if len(title.split()) >= 2 else None


def _person_like(name: str) -> bool:
    words = name.split()
    return 1 <= len(words) <= 6 and all(w[0].isupper() or (w.islower() and len(w) <= 3) for w in words)


_TITLE_SPLIT_RE = re.compile(r"\s*[:|–—]\s+|\s+-\s+")


def speakers_in_title(title: str) -> tuple[list[SpeakerInfo], str] | None:
    """ "Jane Doe (Lakeside U): Counting Sheep", "Counting Sheep - Jane Doe", "Counting Sheep
    (Jane Doe, MIT)", "Counting Sheep by Jane Doe": the speakers a title names and the title
    without them, when nothing else on the page names the speakers (a doubtful reading)."""
    text = squash_spaces(plain_text(title))
    candidates: list[tuple[str, str]] = []
    separators = list(_TITLE_SPLIT_RE.finditer(text))
    if separators:
        first, last = separators[0], separators[-1]
        candidates.append((text[: first.start()], text[first.end() :]))
        candidates.append((text[last.end() :], text[: last.start()]))
    for pattern in (_TRAILING_BY_RE, _TRAILING_PAREN_RE):
        if match := pattern.match(text):
            candidates.append((match["who"], match["title"]))
    for who, rest in candidates:
        rest = rest.strip(" ,")
        named = speakers_from_text(who)
        if named and len(rest.split()) >= 2 and all(_person_like(s.name) and len(s.name.split()) >= 2 for s in named):
            return named, rest
    return None
