"""Speakers and parts: who gives which presentation, and whose bio is whose."""

from __future__ import annotations

import re

from services.site_import.body import BOLD_LABEL_RE, BOLD_ONLY_RE, Content, RawPart
from services.site_import.names import first_name, mentions, starts_with_name, strip_honorifics
from services.site_import.talk_info import SPEAKERS, PartInfo, SpeakerInfo, warn
from services.site_import.text import MD_LINK_RE, fold, plain_text, split_paragraphs, tidy


def speakers_from_names(names: list[str], venue: str | None, intro: str) -> list[SpeakerInfo]:
    affiliations = _affiliations(venue, len(names))
    links = [(strip_honorifics(plain_text(m["text"])), m["url"]) for m in MD_LINK_RE.finditer(intro)]
    speakers = []
    for name, affiliation in zip(names, affiliations, strict=True):
        url = next((u for text, u in links if u and fold(text) == fold(name)), None)
        speakers.append(SpeakerInfo(name=name, affiliation=affiliation, url=url))
    return speakers


def _affiliations(venue: str | None, count: int) -> list[str | None]:
    """One affiliation per speaker: the venue, split per speaker when it splits cleanly."""
    if count > 1 and venue:
        pieces = [p.strip() for p in re.split(r"\s+and\s+", venue) if p.strip()]
        if len(pieces) == count:
            return list(pieces)
    return [venue] * count


def build_parts(content: Content, speakers: list[SpeakerInfo], title: str, warnings: list[str]) -> list[PartInfo]:
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
    for paragraph in split_paragraphs(bio):
        owner, rest = _paragraph_owner(paragraph, speakers)
        if owner is not None:
            current = owner
            paragraph = rest
        if current is None:
            return None  # text before any speaker's name: not a per-speaker list
        own[current].append(paragraph)
    if sum(1 for chunks in own if chunks) < 2:
        return None
    return [tidy("\n\n".join(chunks)) or None for chunks in own]


def _paragraph_owner(paragraph: str, speakers: list[SpeakerInfo]) -> tuple[int | None, str]:
    label = BOLD_LABEL_RE.match(paragraph)
    if label:
        name = fold(strip_honorifics(label["label"]))
        for index, speaker in enumerate(speakers):
            if name in (fold(speaker.name), fold(first_name(speaker.name))):
                return index, paragraph[label.end() :]
    opening = plain_text(paragraph)
    for index, speaker in enumerate(speakers):
        if starts_with_name(opening, speaker.name):
            return index, paragraph
    return None, paragraph


def _split_by_subtitles(
    single: RawPart, speakers: list[SpeakerInfo], bios: list[str | None] | None
) -> list[RawPart] | None:
    """A shared description with one bold sub-title per speaker ("talk and response").

    Only split when the bios also split per speaker, so each part gets its own bio.
    """
    if single.abstract is None or bios is None:
        return None
    chunks: list[tuple[str, list[str]]] = []
    for paragraph in split_paragraphs(single.abstract):
        subtitle = BOLD_ONLY_RE.match(paragraph)
        if subtitle:
            chunks.append((plain_text(subtitle["title"]).strip(), []))
        elif chunks:
            chunks[-1][1].append(paragraph)
        else:
            return None  # text before the first sub-title: one description, not several
    if len(chunks) != len(speakers):
        return None
    return [RawPart(heading, tidy("\n\n".join(ps)) or None) for heading, ps in chunks]


def _assign_speakers(
    raw_parts: list[RawPart], speakers: list[SpeakerInfo], intro: str, warnings: list[str]
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
            warn(warnings, SPEAKERS, f"could not tell who presents {raw.heading!r}")
        result.append([owner] if owner else [])
    if len(raw_parts) == 1 and len(speakers) > 1:
        result[0] = list(speakers)  # one presentation by several people
    return result


def _named_in(text: str, speakers: list[SpeakerInfo], *, full_names_only: bool = False) -> SpeakerInfo | None:
    best: tuple[int, SpeakerInfo] | None = None
    for speaker in speakers:
        if full_names_only:
            found = fold(text).find(fold(speaker.name))
            position = found if found >= 0 else None
        else:
            position = mentions(text, speaker.name)
        if position is not None and (best is None or position < best[0]):
            best = (position, speaker)
    return best[1] if best else None


def _named_next_to_title(heading: str | None, intro: str, speakers: list[SpeakerInfo]) -> SpeakerInfo | None:
    """The speaker named in the intro paragraph or list item that quotes this title."""
    if not heading:
        return None
    wanted = fold(plain_text(heading)).strip("\"'“” ")
    for chunk in re.split(r"\n[ \t]*\n|\n(?=[ \t]*(?:[-*+]|\d+\.)[ \t])", intro):
        in_chunk = wanted and wanted in fold(plain_text(chunk))
        if in_chunk and (found := _named_in(plain_text(chunk), speakers, full_names_only=True)):
            return found
    return None


_TITLE_SEPARATOR_RE = re.compile(r"\s*[:–—]\s*|\s+-\s+")
_TITLE_BY_RE = re.compile(r"^(?P<title>.*?)\s*(?:\bby\s+(?P<by>.+)|\((?P<paren>[^()]+)\))$")


def _part_title(heading: str | None, who: list[SpeakerInfo], post_title: str) -> str | None:
    """The part's own title: the heading without the presenter's name."""
    if heading is None or fold(heading) == fold(post_title):
        return None
    names = {fold(speaker.name) for speaker in who}
    if fold(heading) in names:
        return None
    separators = list(_TITLE_SEPARATOR_RE.finditer(heading))
    if separators:
        first, last = separators[0], separators[-1]
        if fold(heading[: first.start()]) in names:  # "Ada Tur: Constituent Movement"
            return heading[first.end() :].strip() or None
        if fold(heading[last.end() :]) in names:  # "Constituent Movement - Ada Tur"
            return heading[: last.start()].strip() or None
    by = _TITLE_BY_RE.match(heading)
    if by and fold(by["by"] or by["paren"]) in names:
        return by["title"].strip() or None
    return heading
