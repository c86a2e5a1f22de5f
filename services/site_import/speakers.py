"""Speakers written any way a site writes them, with their affiliations.

"Jane Doe", "A and B", "A, B & C", "Jane Doe (Lakeside University)", "Jane Doe, Lakeside
University", a YAML or TOML list of names, a list of mappings ({name, affiliation, url}):
each gives SpeakerInfo with the affiliation kept apart from the name. A comma separates both
people ("A, B & C") and a person from their institution ("Jane Doe, MIT"); what follows a
comma is an institution when it reads as one (a word such as University or Lab, an acronym,
a single word after a full name), else another person.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from services.site_import.names import is_tbd, split_names, strip_honorifics
from services.site_import.talk_info import SpeakerInfo
from services.site_import.text import MD_LINK_RE, as_list, fold, plain_text, squash_spaces, text_value

# Keys of a speaker given as a mapping, most specific first.
NAME_KEYS = ("name", "full_name", "fullname", "display_name", "title", "speaker")
AFFILIATION_KEYS = (
    "affiliation",
    "speaker_affiliation",
    "institute",
    "affiliations",
    "institution",
    "organization",
    "organisation",
    "organizations",
    "org",
    "affil",
    "university",
    "company",
    "employer",
)
URL_KEYS = ("url", "website", "homepage", "home", "web", "link", "page", "site")
BIO_KEYS = ("bio", "biography", "about", "short_bio")

_AFFILIATION_WORDS_RE = re.compile(
    r"(?i:\b(?:univ\.?|universit(?:y|é|e|ät|at|ad|à|a|eit|ade)|uni|college|collège|institute?|instituto|istituto|"
    r"school|[ée]cole|labs?|laborator(?:y|ies)|laboratoire|research|inc\.?|ltd\.?|llc|gmbh|corp(?:oration)?|company|"
    r"cent(?:er|re)|department|dept\.?|faculty|hospital|clinic|foundation|academy|polytechni(?:que|c)|politecnico|"
    r"observatory|museum|library|council|agency|ministry|group|team|technolog(?:y|ies)|tech|state|national|"
    r"health|systems|conservato(?:ry|ire)|seminary|press|bank|society|association|consortium|network|"
    r"government|google|deepmind|microsoft|meta|amazon|apple|nvidia|openai|anthropic|ibm|intel|mila|inria|cnrs)\b)"
    r"|\bAI\b|\s(?:of|for|für)\s"
)
# "MIT", "UCL", "KAIST", "UdeM", "ETH": short, with at least two capitals.
_ACRONYM_RE = re.compile(r"^(?=(?:[^A-Z]*[A-Z]){2})[A-Z][A-Za-z&.\-]{1,7}$")
_ROLE_RE = re.compile(
    r"^(?:(?:assistant|associate|full|adjunct|visiting|emerit(?:us|a)|senior|junior|principal|staff|lead|"
    r"research|postdoctoral|doctoral|graduate|undergraduate|master'?s|ph\.?\s?d\.?|msc|bsc)\s+)*"
    r"(?:professor|prof\.?|lecturer|researcher|scientist|engineer|student|candidate|postdoc|fellow|director|"
    r"chair|head|dean|manager|founder|co-?founder|ceo|cto|member|intern|affiliate)s?\b",
    re.I,
)
# Where the place starts after a role: the last "at" ("Professor of Linguistics at MIT"), else "of".
_ROLE_AT_RE = re.compile(r"^.*\b(?:at|@|with)\s+(?=\S)|^.*?\bof\s+(?=\S)", re.I)
_DEGREE_RE = re.compile(r"^(?:ph\.?\s?d|m\.?d|m\.?sc|b\.?sc|jr|sr|ii|iii)\.?$", re.I)
_PARTICLES = {
    "de", "da", "das", "do", "dos", "di", "del", "della", "van", "von", "der", "den", "ter", "la", "le",
    "du", "bin", "ibn", "al", "el", "y", "zu", "af", "st.", "mac",
}  # fmt: skip
_SEPARATOR_RE = re.compile(r"\s*(?:;|,\s*and\s+|,\s*&\s*|,|&|\+|\band\b|\s/\s)\s*", re.I)
_LINE_BREAK_RE = re.compile(r"\n|<br\s*/?>", re.I)
_NAME_THEN_PLACE_RE = re.compile(r"^(?P<name>.+?)\s+(?:[-–—|@]|from|at)\s+(?P<aff>.+)$", re.I)
_WITH_RE = re.compile(r"\b(?:led|hosted|moderated|chaired|run|given|presented)\s+by\s+(?P<who>.+)$", re.I)
_SESSION_WITH_RE = re.compile(r"^[^:]*?\b(?:with|featuring|feat\.)\s+(?P<who>.+)$", re.I)


def parse_speakers(value: Any) -> list[SpeakerInfo]:
    """Every speaker a front matter value or a "Speaker:" line names, in order."""
    speakers: list[SpeakerInfo] = []
    for item in as_list(value) if isinstance(value, list | tuple) else [value]:
        if isinstance(item, Mapping):
            if speaker := speaker_from_mapping(item):
                speakers.append(speaker)
        elif item is not None and not isinstance(item, bool):
            speakers.extend(speakers_from_text(str(item)))
    return speakers


def speaker_from_mapping(item: Mapping[str, Any]) -> SpeakerInfo | None:
    keys = {fold(key).replace(" ", "_").replace("-", "_"): value for key, value in item.items()}
    raw_name = next((keys[k] for k in NAME_KEYS if text_value(keys.get(k))), None)
    if raw_name is None:
        return None
    named = speakers_from_text(str(raw_name))
    if not named:
        return None
    speaker = named[0]
    affiliation = next((a for k in AFFILIATION_KEYS if (a := affiliation_text(keys.get(k)))), None)
    speaker.affiliation = affiliation or speaker.affiliation
    speaker.url = next((u for k in URL_KEYS if (u := text_value(keys.get(k))) and _is_url(u)), speaker.url)
    speaker.bio_md = next((b for k in BIO_KEYS if (b := text_value(keys.get(k)))), None)
    return speaker


def affiliation_text(value: Any) -> str | None:
    """An affiliation given as text, a list of texts or a list of {name: ...} (Wowchemy)."""
    if isinstance(value, Mapping):
        value = value.get("name") or value.get("title")
    if isinstance(value, list | tuple):
        names = [affiliation_text(v) for v in value]
        return " and ".join(n for n in names if n) or None
    text = text_value(value)
    return squash_spaces(plain_text(text)) if text else None


def speakers_from_text(text: str) -> list[SpeakerInfo]:
    """Speakers from a line: names joined by commas, "and", "&" or ";", each perhaps with an
    affiliation in parentheses, after a comma or a dash, perhaps linked ([Jane Doe](https://...)).
    Several lines (a YAML block, "<br>") are one speaker or list each."""
    lines = [line for line in _LINE_BREAK_RE.split(text) if line.strip()]
    if len(lines) > 1:
        return [speaker for line in lines for speaker in speakers_from_text(line)]
    urls = {fold(strip_honorifics(plain_text(m["text"]))): m["url"] for m in MD_LINK_RE.finditer(text) if m["url"]}
    line = squash_spaces(plain_text(text)).strip(" .;:")
    if not line or is_tbd(line):
        return []
    if led := _WITH_RE.search(line) or _SESSION_WITH_RE.search(line):
        line = led["who"]
    elif split_names(line) == [] and not looks_like_person(line):
        return []  # a session label ("Roundtable discussion")
    pieces = _pieces(line)
    singles = all(len(p.split()) == 1 for p, _, _ in pieces)
    people: list[tuple[str, list[str], list[str]]] = []  # name, affiliation pieces, their joiners
    for piece, paren, joiner in pieces:
        piece = piece.strip()
        role = _ROLE_RE.match(piece) if people else None
        if role and not re.search(r"\b(?:at|with)\b|@", piece, re.I) and not _names_a_place(piece[role.end() :]):
            continue  # "Jane Doe, Associate Professor, ...": the role is neither a person nor a place
        text_piece = _without_role(piece) if role else strip_honorifics(piece)
        if not text_piece or _DEGREE_RE.match(text_piece):
            continue
        if people and (is_affiliation(text_piece, singles) or (not singles and not looks_like_person(text_piece))):
            people[-1][1].append(text_piece)
            people[-1][2].append(joiner)
            continue
        people.append((text_piece, [paren] if paren else [], []))
    speakers = [
        SpeakerInfo(name=name, affiliation=_join(affiliation, joiners), url=urls.get(fold(name)))
        for name, affiliation, joiners in people
    ]
    _share_a_trailing_affiliation(speakers, pieces)
    return speakers


def _pieces(line: str) -> list[tuple[str, str | None, str]]:
    """(text, parenthesised affiliation, the separator before it), split outside parentheses."""
    pieces: list[tuple[str, str | None, str]] = []
    depth, start, joiner = 0, 0, ""
    index = 0
    while index < len(line):
        char = line[index]
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif depth == 0 and (separator := _SEPARATOR_RE.match(line, index)):
            pieces.append(_piece(line[start:index], joiner))
            joiner = "and" if re.search(r"\band\b|&|\+", separator.group(), re.I) else ","
            start = index = separator.end()
            continue
        index += 1
    pieces.append(_piece(line[start:], joiner))
    return [p for p in pieces if p[0] or p[1]]


def _piece(text: str, joiner: str) -> tuple[str, str | None, str]:
    text = text.strip(" .")
    match = re.match(r"^(?P<name>[^()\[\]]*?)\s*[(\[](?P<paren>[^()\[\]]+)[)\]]\s*$", text)
    if match and match["name"]:
        return match["name"].strip(" ,"), squash_spaces(match["paren"]).strip(" ,") or None, joiner
    # "Jane Doe - Lakeside University", "Jane Doe | MIT", "Jane Doe from MIT", "Jane Doe @ MIT"
    match = _NAME_THEN_PLACE_RE.match(text)
    if match and looks_like_person(strip_honorifics(match["name"])) and is_affiliation(match["aff"]):
        return match["name"], match["aff"], joiner
    return text, None, joiner


def _names_a_place(text: str) -> bool:
    """An institution's telling word, not merely "of" ("Professor of Linguistics" names none)."""
    return bool(_AFFILIATION_WORDS_RE.search(re.sub(r"\s(?:of|for|für)\s", " ", f" {text} ")))


def _without_role(text: str) -> str:
    """ "PhD student at Lakeside University" -> "Lakeside University"."""
    if _ROLE_RE.match(text) and (at := _ROLE_AT_RE.match(text)):
        return text[at.end() :].strip()
    return text


def is_affiliation(text: str, among_single_names: bool = False) -> bool:
    """An institution: a telling word, an acronym, a number, or one word after a full name
    (unless everyone is named by one word: "Ana, Ben & Chloé")."""
    single = len(text.split()) == 1 and not among_single_names
    return bool(_AFFILIATION_WORDS_RE.search(text) or _ACRONYM_RE.match(text) or re.search(r"\d", text) or single)


def looks_like_person(text: str) -> bool:
    """Two to six words, each capitalised (or a particle such as "van", or an initial)."""
    words = text.split()
    if not 1 <= len(words) <= 6 or _AFFILIATION_WORDS_RE.search(text) or re.search(r"\d", text):
        return False
    return all(w[0].isupper() or w.lower() in _PARTICLES or re.match(r"^[A-Z]\.$", w) for w in words)


def _join(pieces: list[str], joiners: list[str]) -> str | None:
    if not pieces:
        return None
    text = pieces[0]
    for piece, joiner in zip(pieces[1:], joiners[-(len(pieces) - 1) :] if len(pieces) > 1 else [], strict=False):
        text += f" and {piece}" if joiner == "and" else f", {piece}"
    return text


def _share_a_trailing_affiliation(speakers: list[SpeakerInfo], pieces: list[tuple[str, str | None, str]]) -> None:
    """ "A and B, Lakeside University": the one affiliation, after the last name, is both's."""
    if len(speakers) < 2 or any(s.affiliation for s in speakers[:-1]) or not speakers[-1].affiliation:
        return
    if all(joiner == "and" for _, _, joiner in pieces[1 : len(speakers)]) and pieces[-1][1] is None:
        for speaker in speakers[:-1]:
            speaker.affiliation = speakers[-1].affiliation


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://", "/", "mailto:"))
