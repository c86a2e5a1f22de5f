"""The talk's facts in front matter, whatever a site calls its keys.

Sites name the same fact many ways (`speaker`, `speakers`, `presenter`; `date`, `start`,
`event_date`; `location`, `room`, `where`); Hugo may nest custom keys under `params`. Keys are
compared folded (case, dashes and spaces ignored); the first key that holds a value wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from services.site_import.limits import PostError
from services.site_import.speakers import affiliation_text, parse_speakers
from services.site_import.talk_info import START, SpeakerInfo, warn
from services.site_import.text import as_list, squash_spaces, text_value
from services.site_import.when import FrontWhen, read_front_datetime, read_front_time

SPEAKER_KEYS = (
    "speakers",
    "speaker",
    "presenters",
    "presenter",
    "speaker_name",
    "speaker_names",
    "speakername",
    "guests",
    "guest",
    "lecturer",
    "lecturers",
    "who",
)
TALK_TITLE_KEYS = ("talk_title", "talktitle", "talk", "topic", "seminar_title", "lecture_title", "subtitle")
# Who wrote the page: the speaker on some sites, an organizer on others (a doubtful last resort).
AUTHOR_KEYS = ("author", "authors")
SPEAKER_URL_KEYS = ("speaker_url", "speaker_website", "speaker_homepage", "speaker_link", "website", "homepage")
AFFILIATION_KEYS = (
    "affiliation",
    "affiliations",
    "speaker_affiliation",
    "speaker_institution",
    "institution",
    "institute",
    "organization",
    "organisation",
    "university",
)
START_KEYS = (
    "start",
    "starts_at",
    "start_date",
    "startdate",
    "start_datetime",
    "event_date",
    "eventdate",
    "talk_date",
    "talkdate",
    "datetime",
    "when",
    "date",
)
TIME_KEYS = ("time", "start_time", "starttime", "talk_time", "hour")
END_KEYS = ("end", "ends_at", "end_date", "date_end", "enddate", "end_datetime")
END_TIME_KEYS = ("end_time", "endtime", "time_end")
LOCATION_KEYS = ("location", "where", "place", "venue", "building", "address")
ROOM_KEYS = ("room",)
ONLINE_KEYS = (
    "online_platform",
    "platform",
    "zoom",
    "zoom_link",
    "zoom_url",
    "online",
    "meeting_url",
    "meeting_link",
    "webinar",
    "livestream",
    "stream",
)
ABSTRACT_KEYS = ("abstract", "talk_abstract", "description", "summary")
BIO_KEYS = ("bio", "speaker_bio", "biography", "about_speaker", "about_the_speaker")
SEMESTER_KEYS = ("semester", "term", "season")
# When the page was published or changed: near the talk, for a date written without its year.
PUBLISHED_KEYS = ("publishdate", "publish_date", "published", "lastmod", "last_modified_at", "date")
# (keys, label) of links a talk page may give in its front matter.
LINK_KEYS = (
    (("slides", "url_slides", "slides_url", "slide", "deck"), "Slides"),
    (("video", "url_video", "video_url", "recording", "recording_url", "youtube"), "Video"),
    (("paper", "url_pdf", "paper_url", "pdf", "preprint", "arxiv"), "Paper"),
    (("code", "url_code", "code_url", "github"), "Code"),
    (("poster", "url_poster"), "Poster"),
    (("url_dataset", "dataset"), "Dataset"),
    (("url_project", "project_url"), "Project"),
    (("event_url",), "Event"),
)


def normalise_keys(front: Mapping[str, Any]) -> dict[str, Any]:
    """Keys folded ("Start-Date" -> "start_date"), with Hugo's `params` (and `extra`) lifted up:
    a key at the top wins over the same key under them."""
    merged: dict[str, Any] = {}
    for nested in ("params", "extra"):
        value = front.get(nested)
        if isinstance(value, Mapping):
            merged.update({_fold_key(k): v for k, v in value.items()})
    merged.update({_fold_key(k): v for k, v in front.items()})
    return merged


def _fold_key(key: Any) -> str:
    """ "Start-Date", "start date", "startDate" -> "start_date"."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(key).strip())
    return text.lower().replace("-", "_").replace(" ", "_")


def first(keys: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str, Any] | tuple[None, None]:
    """The first of these keys that holds a value (not empty, not blank)."""
    for name in names:
        value = keys.get(name)
        if value is None or value == "" or value == [] or value == {}:
            continue
        if isinstance(value, str) and not value.strip():
            continue
        return name, value
    return None, None


@dataclass
class FrontFacts:
    title: str | None = None
    talk_title: str | None = None  # a separate key for the talk's own title
    speakers: list[SpeakerInfo] = field(default_factory=list)
    authors: list[SpeakerInfo] = field(default_factory=list)  # who wrote the page (a last resort)
    affiliation: str | None = None
    when: FrontWhen | None = None
    location: str | None = None
    room: str | None = None
    online: str | None = None
    abstract: str | None = None
    bio: str | None = None
    semester_words: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url)
    published: date | None = None  # when the page appeared, near the talk: a year for dates without one


def front_facts(
    keys: Mapping[str, Any],
    warnings: list[str],
    *,
    speaker_keys: tuple[str, ...] = SPEAKER_KEYS,
    abstract_keys: tuple[str, ...] = ABSTRACT_KEYS,
) -> FrontFacts:
    """Read the facts a talk page's (normalised) front matter gives."""
    facts = FrontFacts()
    facts.title = _one_line(keys.get("title"))
    facts.talk_title = _one_line(first(keys, TALK_TITLE_KEYS)[1])
    facts.speakers = parse_speakers(first(keys, speaker_keys)[1])
    if len(facts.speakers) == 1 and not facts.speakers[0].url:
        url = text_value(first(keys, SPEAKER_URL_KEYS)[1])
        facts.speakers[0].url = url if url and _is_link(url) else None
    facts.affiliation = affiliation_text(first(keys, AFFILIATION_KEYS)[1])
    facts.when = front_when(keys, warnings)
    location = first(keys, LOCATION_KEYS)[1]
    facts.location = _one_line(location) if not isinstance(location, Mapping) else None
    facts.room = _one_line(first(keys, ROOM_KEYS)[1])
    facts.online = _one_line(first(keys, ONLINE_KEYS)[1])
    facts.abstract = _markdown(first(keys, abstract_keys)[1])
    facts.bio = _markdown(first(keys, BIO_KEYS)[1])
    facts.semester_words = [str(v) for k in (*SEMESTER_KEYS, "categories", "tags") for v in as_list(keys.get(k))]
    facts.links = front_links(keys)
    facts.published = _published(keys)
    return facts


def _published(keys: Mapping[str, Any]) -> date | None:
    for key in PUBLISHED_KEYS:
        try:
            read = read_front_datetime(keys.get(key))
        except PostError:
            continue
        if read is not None:
            return read[0]
    return None


def front_when(keys: Mapping[str, Any], warnings: list[str]) -> FrontWhen | None:
    """When the front matter says the talk is; None when it gives no date."""
    key, value = first(keys, START_KEYS)
    if key is None:
        return None
    read = read_front_datetime(value)
    if read is None:
        if key != "date":
            warn(warnings, START, f"cannot read the front matter's {key} {squash_spaces(str(value))[:80]!r}")
        return None
    day, clock, tzinfo = read
    when = FrontWhen(day=day, clock=clock, tzinfo=tzinfo, key=key)
    time_key, time_value = first(keys, TIME_KEYS)
    if time_key is not None and when.clock is None:
        clock_read = read_front_time(time_value)
        if clock_read is not None:
            when.clock, when.end_clock = clock_read.start, clock_read.end
            when.key = f"{key} and {time_key}"
        else:
            warn(warnings, START, f"cannot read the front matter's {time_key} {str(time_value)[:40]!r}")
    if when.clock is not None and when.clock.second and "and" not in when.key:
        # Generators stamp new pages with the minute and second they were made ("10:31:07").
        when.doubt = (
            f"the front matter {key} {_shown(value)} has seconds: it may say when the page was "
            "written rather than when the talk is; check the time"
        )
    _read_end(keys, when)
    when.all_day = keys.get("all_day") is True or keys.get("allday") is True
    if when.all_day:
        when.clock = None
    return when


def _read_end(keys: Mapping[str, Any], when: FrontWhen) -> None:
    end_key, end_value = first(keys, END_KEYS)
    if end_key is not None:
        try:
            read = read_front_datetime(end_value)
        except PostError:
            read = None
        if read is not None:
            when.end_day, when.end_clock, when.end_tzinfo = read[0], read[1] or when.end_clock, read[2]
            if when.end_day == when.day:
                when.end_day = None
    time_key, time_value = first(keys, END_TIME_KEYS)
    if time_key is not None and (clock := read_front_time(time_value)) is not None:
        when.end_clock = clock.start


def front_links(keys: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, url) for each link the front matter gives: known keys, then a `links` list
    ([{name: ..., url: ...}], Wowchemy's shape, or {label: url})."""
    found: list[tuple[str, str]] = []
    for names, label in LINK_KEYS:
        for name in names:
            url = text_value(keys.get(name))
            if url and _is_link(url):
                found.append((label, url))
                break
    links = keys.get("links")
    items = links.items() if isinstance(links, Mapping) else enumerate(as_list(links))
    for label, item in items:
        if isinstance(item, Mapping):
            url = text_value(item.get("url") or item.get("href") or item.get("link"))
            name = text_value(item.get("name") or item.get("label") or item.get("title")) or "Link"
        else:
            url, name = text_value(item), (str(label) if isinstance(label, str) else "Link")
        if url and _is_link(url) and (name, url) not in found:
            found.append((name, url))
    return found


def _is_link(text: str) -> bool:
    return text.startswith(("http://", "https://", "/")) and " " not in text.strip()


def _one_line(value: Any) -> str | None:
    if isinstance(value, date | time | Mapping | list | bool):
        return None
    text = text_value(value)
    return squash_spaces(text) if text else None


def _markdown(value: Any) -> str | None:
    if isinstance(value, Mapping | list | bool):
        return None
    text = text_value(value)
    return text.strip() if text else None


def _shown(value: Any) -> str:
    return repr(value.isoformat()) if hasattr(value, "isoformat") else repr(str(value))
