"""Reading one talk page of any dialect but the group's own Jekyll posts: Jekyll collections,
other groups' Jekyll posts, Hugo pages and bundles, Wowchemy events.

The same steps for all, each dialect adding what is its own (`hugo.py`, `wowchemy.py`, Liquid
for Jekyll): front matter (YAML, TOML or JSON) read for the talk's facts whatever its keys are
called (`front_fields.py`), then the body's labels and tables (`labels.py`), headings and
logistics (`body.py`), speakers (`speakers.py`), the title (`titles.py`), the start
(`when.py`) and the place (`places.py`). Whatever cannot be read, or had to be chosen, is a
warning that flags the fact it concerns; nothing is guessed silently.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

from services.site_import import hugo, wowchemy
from services.site_import.body import Content, read_content
from services.site_import.detect import HUGO, JEKYLL_POST, WOWCHEMY_EVENT, SiteInfo
from services.site_import.files import (
    file_name_date,
    require_markdown,
    semester_from_folder,
    semester_slug,
)
from services.site_import.front_fields import (
    ABSTRACT_KEYS,
    AUTHOR_KEYS,
    SPEAKER_KEYS,
    FrontFacts,
    first,
    front_facts,
    normalise_keys,
)
from services.site_import.front_matter import split_front_matter
from services.site_import.labels import Labels, schedule_rows, take_labels
from services.site_import.limits import (
    NotATalk,
    normalise_newlines,
    require_a_talks_proportions,
    require_plain_text,
)
from services.site_import.liquid import (
    LinkResolver,
    drop_jekyll_noise,
    image_urls,
    resolve_liquid,
    resolve_site_url,
    resolve_site_urls,
)
from services.site_import.names import is_tbd
from services.site_import.parts import build_parts
from services.site_import.places import known_room, platform_of, read_place
from services.site_import.speakers import is_affiliation, looks_like_person, parse_speakers, speakers_from_text
from services.site_import.talk_info import SPEAKERS, TITLE, PostInfo, SpeakerInfo, Warnings
from services.site_import.text import (
    MD_LINK_RE,
    URL_RE,
    fold,
    plain_text,
    split_paragraphs,
    squash_spaces,
    text_value,
    tidy,
)
from services.site_import.titles import (
    boilerplate_speakers,
    is_boilerplate,
    is_generic,
    names_only,
    quoted_title,
    speakers_in_title,
    without_speaker_names,
)
from services.site_import.when import read_start

MAX_ROOM_CHARS = 120  # Room.name


@dataclass
class ReadContext:
    """What the reader needs to know beyond the file: the series and the site around it."""

    tz: ZoneInfo
    default_minutes: int = 60
    site_url: str | None = None
    resolve_link: LinkResolver = lambda target: target
    known_rooms: Collection[str] = ()
    site: SiteInfo = field(default_factory=SiteInfo)


def read_page(
    text: str, *, source: str, key: str, dialect: str, ctx: ReadContext, site_path: str | None = None
) -> PostInfo:
    """Read one talk page; NotATalk or PostError say why when it is not one or cannot be read.

    `source` is the path as given (for the report), `site_path` the path inside the site (what
    its folders and name say: a `_index.md`, a semester folder, a folder of talks)."""
    where = site_path or source
    require_markdown(PurePosixPath(where.replace("\\", "/")).name)
    require_plain_text(text)
    front = split_front_matter(normalise_newlines(text))
    if front.format == "none":
        raise NotATalk("no front matter")
    keys = normalise_keys(front.data)
    _require_a_talk_page(keys, where, dialect)
    if schedule_rows(front.body) >= 3:
        raise NotATalk("a page listing several talks (a schedule), not one talk; schedules go through --schedule")

    warnings = Warnings()
    speaker_keys = SPEAKER_KEYS + (("authors",) if dialect == WOWCHEMY_EVENT else ())
    facts = front_facts(keys, warnings, speaker_keys=speaker_keys, abstract_keys=ABSTRACT_KEYS)
    if dialect != WOWCHEMY_EVENT:
        facts.authors = [s for s in parse_speakers(first(keys, AUTHOR_KEYS)[1]) if looks_like_person(s.name)]
    if dialect == WOWCHEMY_EVENT and not _explicit_speakers(keys):
        facts.speakers, guessed = wowchemy.authors_as_speakers(keys, ctx.site.profiles)
        for slug in guessed:
            warnings.about(SPEAKERS, f"the author {slug!r} has no profile in content/authors; read as a name")

    body, shortcode_links = _clean_body(front.body, front.data, dialect, ctx, warnings)
    labels, body = take_labels(body)
    if facts.abstract:  # "Speaker: Jane Doe" may sit in the summary or abstract of the front matter
        front_labels, facts.abstract = take_labels(facts.abstract)
        for kind, value in front_labels.values.items():
            labels.add(kind, value)
    content = read_content(body, warnings)
    for kind in ("date", "when", "time", "location"):
        if labels.get(kind):
            content.logistics.setdefault(kind, squash_spaces(plain_text(labels.get(kind) or "")))

    file_name = PurePosixPath(where.replace("\\", "/")).name
    file_date = file_name_date(file_name, warnings)
    speakers, title = _speakers_and_title(facts, labels, content, warnings)
    if not title:
        raise NotATalk("no title in the front matter")
    if not speakers and not _talk_signals(dialect, facts, content, where):
        raise NotATalk("placeholder post with no speaker, time or description: not a talk page")

    semester = _semester(facts, where)
    reference = file_date or facts.published or _year_of_folder(where)
    when = read_start(content.logistics, facts.when, reference, semester, ctx.tz, ctx.default_minutes, warnings)
    room, platform = _place(facts, labels, content, ctx.known_rooms, warnings)
    _give_front_text(content, facts)
    parts = build_parts(content, speakers, title, warnings)
    links = _links(facts, labels, shortcode_links, ctx.site_url)
    by_label = {_LINK_KINDS.get(fold(label), label): url for label, url in reversed(links)}
    info = PostInfo(
        source=source,
        source_key=key,
        file_date=file_date,
        title=title,
        semester=semester,
        speakers=speakers,
        affiliation=_affiliation_line(speakers),
        starts_at=when.starts_at,
        ends_at=when.ends_at,
        time_known=when.time_known,
        room=room,
        online_platform=platform,
        intro_md=content.intro,
        parts=parts,
        sections=content.sections,
        recording_url=content.recording_url or by_label.get("Video"),
        slides_url=content.slides_url or by_label.get("Slides"),
        paper_url=by_label.get("Paper"),
        links=links,
        images=image_urls(body),
        warnings=warnings,
        dialect=dialect,
        doubts=warnings.doubts,
        slug_hint=text_value(keys.get("slug")) or (None if file_date else _slug_hint(key, when.starts_at)),
    )
    require_a_talks_proportions(info)
    return info


# ---------------------------------------------------------------------------------------
# Pages that are not talks


_NOT_TALK_KEYS = {
    "publication_types": "a publication page, not a talk",
    "publication": "a publication page, not a talk",
    "layout_type": None,
}
_TALK_FOLDER_WORDS = (
    "talk",
    "seminar",
    "event",
    "colloqui",
    "lecture",
    "session",
    "reading",
    "meeting",
    "speaker",
    "past",
    "upcoming",
    "schedule",
    "webinar",
    "journal",
)


def _require_a_talk_page(keys: Mapping[str, Any], source: str, dialect: str) -> None:
    for key, reason in _NOT_TALK_KEYS.items():
        if reason and key in keys and keys.get(key) not in (None, "", []):
            raise NotATalk(reason)
    hugo.require_a_page(source, keys)  # section lists and drafts are no talks, whichever generator
    if keys.get("published") is False:
        raise NotATalk("not published (published: false)")
    if dialect == JEKYLL_POST and ("archive" in {fold(c) for c in _words(keys.get("categories"))}):
        raise NotATalk("archive post listing a semester's schedule")


def _talk_signals(dialect: str, facts: FrontFacts, content: Content, source: str) -> bool:
    """Something that makes a page without a named speaker a talk all the same: the event
    type, a time of day, a place, or a folder named for talks."""
    if dialect == WOWCHEMY_EVENT:
        return True
    if facts.when is not None and facts.when.clock is not None:
        return True
    if content.logistics.get("time") or content.logistics.get("location") or facts.location or facts.room:
        return True
    folders = [fold(part) for part in PurePosixPath(source.replace("\\", "/")).parts[:-1]]
    return any(word in folder for folder in folders for word in _TALK_FOLDER_WORDS) and content.has_talk_details()


def _explicit_speakers(keys: Mapping[str, Any]) -> bool:
    return any(keys.get(key) for key in SPEAKER_KEYS)


def _words(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None]
    return str(value).split() if isinstance(value, str) else []


# ---------------------------------------------------------------------------------------
# Body


def _clean_body(
    body: str, front: Mapping[str, Any], dialect: str, ctx: ReadContext, warnings: Warnings
) -> tuple[str, list[tuple[str, str]]]:
    body, links = hugo.clean_body(resolve_site_urls(body, ctx.site_url))
    if dialect in (HUGO, WOWCHEMY_EVENT):
        return body, links
    # Hugo's shortcodes go first: "{{< youtube ... >}}" would otherwise read as Liquid.
    return resolve_liquid(drop_jekyll_noise(body), dict(front), ctx.site_url, ctx.resolve_link, warnings), links


def _give_front_text(content: Content, facts: FrontFacts) -> None:
    """The front matter's abstract and bio, where the body gives none."""
    if content.grouped or not content.parts:
        return
    single = content.parts[0]
    if single.abstract is None and facts.abstract:
        single.abstract = facts.abstract
    if single.bio is None and facts.bio:
        single.bio = facts.bio
    if single.bio is None:
        own = [s for s in facts.speakers if s.bio_md]
        if len(own) == 1 and len(facts.speakers) == 1:
            single.bio = own[0].bio_md


# ---------------------------------------------------------------------------------------
# Speakers and title


def _speakers_and_title(
    facts: FrontFacts, labels: Labels, content: Content, warnings: Warnings
) -> tuple[list[SpeakerInfo], str | None]:
    """Who speaks and what the talk is called, from wherever the page says it.

    Speakers: the front matter, else a "Speaker:" label, else the first line of a Speaker
    section, else a boilerplate title ("Seminar: Jane Doe"). Title: the front matter's,
    unless it names only the speakers; then the talk's own title from a key, a "Title:"
    label or the prose ('a talk titled "..."'); without one, the boilerplate stays, flagged.
    """
    title = _unquoted(facts.title or _plain(labels.get("title")))
    speakers = list(facts.speakers)
    if not speakers and labels.get("speaker"):
        speakers = speakers_from_text(labels.get("speaker") or "")
    if not speakers:
        speakers = _speakers_from_bio_section(content)
    from_title = False
    if not speakers and title:
        speakers = boilerplate_speakers(title) or []
        from_title = bool(speakers)
    if not speakers and title and (named := speakers_in_title(title)):
        speakers, title = named
        warnings.about(SPEAKERS, f"the speakers are read from the title {facts.title!r}; check them")
    if not speakers and facts.authors:
        speakers = facts.authors
        names = ", ".join(s.name for s in speakers)
        warnings.about(SPEAKERS, f"the page names no speaker but its author ({names}); taken as the speaker")
    _give_affiliation(speakers, facts.affiliation or _plain(labels.get("affiliation")))
    _give_urls(speakers, content.intro)
    _affiliations_in_prose(speakers, content.intro)
    if not speakers:
        warnings.about(SPEAKERS, "the page names no speaker; imported as a session without one")
    if title is None:
        return speakers, None
    return speakers, _talk_title(title, speakers, from_title, facts, labels, content, warnings)


def _talk_title(
    title: str,
    speakers: list[SpeakerInfo],
    from_title: bool,
    facts: FrontFacts,
    labels: Labels,
    content: Content,
    warnings: Warnings,
) -> str:
    if not (is_boilerplate(title, speakers) or from_title or is_generic(title)):
        return without_speaker_names(title, speakers)
    own = (
        _unquoted(facts.talk_title)
        or _unquoted(_plain(labels.get("title")))
        or quoted_title(content.intro)
        or _bold_title(content.intro, speakers)
        or _heading_title(content, speakers)
    )
    if own and not is_boilerplate(own, speakers) and not is_generic(own):
        return own
    what = "the kind of event" if is_generic(title) else "the speaker"
    warnings.about(
        TITLE,
        f"the title {title!r} names {what}, not the talk, and the page gives no other title; "
        "an organizer should set it",
    )
    return title


def _unquoted(title: str | None) -> str | None:
    """A title without the quotes wrapped around all of it ("“Counting Sheep”")."""
    if title and len(title) > 2 and title[0] in "\"“'‘«" and title[-1] in "\"”'’»":
        return title[1:-1].strip() or title
    return title


def _heading_title(content: Content, speakers: list[SpeakerInfo]) -> str | None:
    """The body's first heading, when it is neither a known section nor a speaker's name."""
    if not content.sections or content.grouped:
        return None
    heading = content.sections[0].heading
    if len(heading.split()) < 2 or names_only(heading, speakers):
        return None
    return heading


def _plain(text: str | None) -> str | None:
    return squash_spaces(plain_text(text)) or None if text else None


def _speakers_from_bio_section(content: Content) -> list[SpeakerInfo]:
    """A "Speaker" section that opens with the speaker's name on a line of its own."""
    if content.grouped or not content.parts or not content.parts[0].bio:
        return []
    paragraphs = split_paragraphs(content.parts[0].bio)
    opening = paragraphs[0]
    words = plain_text(opening).split()
    if len(words) > 12 or opening.rstrip().endswith(".") or len(paragraphs) < 1:
        return []
    speakers = speakers_from_text(opening)
    if speakers and all(len(s.name.split()) >= 2 for s in speakers):
        content.parts[0].bio = tidy("\n\n".join(paragraphs[1:])) or None
        return speakers
    return []


def _give_affiliation(speakers: list[SpeakerInfo], affiliation: str | None) -> None:
    """A page-wide affiliation goes to the speakers who have none (split per speaker when it
    splits cleanly on "and", as "Lakeside University and Hilltop Institute" does for two)."""
    missing = [s for s in speakers if not s.affiliation]
    if not affiliation or not missing:
        return
    pieces = [p.strip() for p in affiliation.split(" and ") if p.strip()]
    if len(missing) > 1 and len(pieces) == len(missing):
        for speaker, piece in zip(missing, pieces, strict=True):
            speaker.affiliation = piece
        return
    for speaker in missing:
        speaker.affiliation = affiliation


def _give_urls(speakers: list[SpeakerInfo], intro: str) -> None:
    links = {fold(plain_text(m["text"])): m["url"] for m in MD_LINK_RE.finditer(intro) if m["url"]}
    for speaker in speakers:
        speaker.url = speaker.url or links.get(fold(speaker.name))


def _affiliations_in_prose(speakers: list[SpeakerInfo], intro: str) -> None:
    """ "Jane Doe (Lakeside University) will speak on ...": an affiliation in parentheses
    right after a speaker's name in the prose, for a speaker who has none."""
    plain = squash_spaces(plain_text(intro))
    for speaker in speakers:
        if speaker.affiliation:
            continue
        match = re.search(rf"(?<!\w){re.escape(speaker.name)}\s*\((?P<aff>[^()]{{2,120}})\)", plain)
        if match and is_affiliation(match["aff"]):
            speaker.affiliation = match["aff"].strip()


def _bold_title(intro: str, speakers: list[SpeakerInfo]) -> str | None:
    """A paragraph of its own in bold (or a quoted one) at the top: the talk's title."""
    for paragraph in split_paragraphs(intro)[:3]:
        text = paragraph.strip()
        if (text.startswith(("**", "__")) and text.endswith(("**", "__"))) or (text[:1] in '"“' and text[-1:] in '"”'):
            candidate = squash_spaces(plain_text(text)).strip('"“” ')
            if len(candidate.split()) >= 2 and not is_boilerplate(candidate, speakers):
                return candidate
    return None


def _affiliation_line(speakers: list[SpeakerInfo]) -> str | None:
    seen: list[str] = []
    for speaker in speakers:
        if speaker.affiliation and speaker.affiliation not in seen:
            seen.append(speaker.affiliation)
    return " and ".join(seen) or None


# ---------------------------------------------------------------------------------------
# Place, links, semester


def _place(
    facts: FrontFacts, labels: Labels, content: Content, known_rooms: Collection[str], warnings: Warnings
) -> tuple[str | None, str | None]:
    """The room and the online platform, from the body's Location and the front matter's
    location, room and online keys; a room named outright in the front matter is taken as is."""
    body_location = content.logistics.get("location")
    room, platform = read_place(body_location, known_rooms, warnings) if body_location else (None, None)
    if facts.location and (room is None or platform is None):
        quiet = Warnings() if room is not None else warnings
        front_room, front_platform = read_place(facts.location, known_rooms, quiet)
        room, platform = room or front_room, platform or front_platform
    if facts.room and not is_tbd(facts.room) and platform_of(facts.room) is None:
        room = known_room(facts.room, known_rooms) or facts.room[:MAX_ROOM_CHARS]
    online = facts.online or _plain(labels.get("online"))
    if online and platform is None:
        platform = facts.online if facts.online and not URL_RE.search(facts.online) else platform_of(online)
        if platform is None and URL_RE.search(online):
            platform = "Online"
    return room, platform


def _links(
    facts: FrontFacts, labels: Labels, shortcode_links: list[tuple[str, str]], site_url: str | None
) -> list[tuple[str, str]]:
    found = [(label, resolve_site_url(url, site_url)) for label, url in facts.links]
    for kind, label in (("slides", "Slides"), ("video", "Video"), ("paper", "Paper")):
        value = labels.get(kind)
        if value and (url := _first_url(value)) and label not in dict(found):
            found.append((label, resolve_site_url(url, site_url)))
    for label, url in shortcode_links:
        if label not in dict(found):
            found.append((label, url))
    return found


# Link labels that say which of the talk's own links a link is.
_LINK_KINDS = {
    "recording": "Video",
    "video": "Video",
    "youtube": "Video",
    "watch": "Video",
    "slides": "Slides",
    "slide deck": "Slides",
    "deck": "Slides",
    "paper": "Paper",
    "pdf": "Paper",
    "preprint": "Paper",
    "article": "Paper",
}


def _first_url(text: str) -> str | None:
    link = MD_LINK_RE.search(text)
    if link and link["url"]:
        return link["url"]
    bare = URL_RE.search(text)
    return bare[0] if bare else None


def _semester(facts: FrontFacts, source: str) -> str | None:
    for word in facts.semester_words:
        if slug := semester_slug(word):
            return slug
    return semester_from_folder(source)


def _slug_hint(key: str, starts_at: datetime) -> str:
    """An undated page's address: its name after the talk's date ("2029-02-06-amara-okafor"),
    or its name alone when it starts with a year already ("2029-01-kim")."""
    stem = PurePosixPath(key).stem
    return stem if re.match(r"^\d{4}\b", stem) else f"{starts_at:%Y-%m-%d}-{stem}"


def _year_of_folder(site_path: str) -> date | None:
    """A folder named for a year ("talks/2029/...", "2029-spring/"): the middle of that year, as
    the reference for dates written without one."""
    for part in reversed(PurePosixPath(site_path.replace("\\", "/")).parts[:-1]):
        if match := re.match(r"^(?:19|20)\d{2}(?!\d)", part):
            return date(int(match[0]), 7, 1)
    return None
