"""The event content type of the Hugo Academic / Wowchemy theme (`content/event/<name>/index.md`).

Its front matter names the talk's facts itself: `title`, `event` (the series, not the talk),
`event_url`, `location`, `address` (a street address, never a room), `summary`, `abstract`,
`date` (the start; `publishDate` is only when the page appeared), `date_end`, `all_day`,
`authors` (author profiles in `content/authors/<slug>/_index.md`, else names as written),
`links`, `url_slides`, `url_video`, `url_pdf`, `url_code`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from services.site_import.speakers import looks_like_person
from services.site_import.talk_info import SpeakerInfo
from services.site_import.text import as_list, text_value

# Keys only the event archetype writes (present even when left empty).
_EVENT_KEYS = ("event", "event_url", "date_end", "all_day", "url_slides", "url_video")
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
SITE_OWNER = "admin"


def is_event(keys: Mapping[str, Any]) -> bool:
    return sum(1 for key in _EVENT_KEYS if key in keys) >= 2 or (
        "event" in keys and isinstance(keys.get("address"), Mapping)
    )


def authors_as_speakers(
    keys: Mapping[str, Any], profiles: Mapping[str, SpeakerInfo]
) -> tuple[list[SpeakerInfo], list[str]]:
    """The event's presenters from `authors`: a profile's name and organization when the site has
    one for that slug, else the name as written. The site owner (`admin`) presents only when no
    one else is listed and their profile names a person. Also returns the slugs read as names
    for want of a profile (the report warns about them)."""
    authors = [str(a).strip() for a in as_list(keys.get("authors")) if text_value(a)]
    speakers: list[SpeakerInfo] = []
    guessed: list[str] = []
    for author in authors:
        profile = profiles.get(author) or profiles.get(author.lower())
        if author.lower() == SITE_OWNER and (
            len(authors) > 1 or profile is None or not looks_like_person(profile.name)
        ):
            continue  # the site's owner: a group, or not the one presenting
        if profile is not None:
            speakers.append(SpeakerInfo(profile.name, profile.affiliation, profile.url, profile.bio_md))
        elif not _SLUG_RE.match(author) or " " in author:
            speakers.append(SpeakerInfo(author))
        else:  # "jane-doe" with no profile: the theme shows the slug; a name is the best reading
            speakers.append(SpeakerInfo(" ".join(part.capitalize() for part in re.split(r"[-_]", author) if part)))
            guessed.append(author)
    return speakers, guessed
