"""What one file may ask of Lectern, and the two ways a file is refused.

Every reader, whatever the site's format, holds a file to these bounds before and after
reading it: a hostile or broken file fails alone, with a one-line reason.
"""

from __future__ import annotations

import re

from services.site_import.talk_info import PostInfo


class NotATalk(Exception):
    """The file is not a talk post (schedule, archive, image, placeholder). str() is a one-line reason."""


class PostError(Exception):
    """The file looks like a talk post but cannot be read. str() says why, in one line."""


# Bounds on what one file may ask of Lectern. A real post's front matter is a dozen short
# lines (a few hundred bytes, two levels deep, no aliases) and the whole post a few KB; these
# leave wide headroom while a hostile file is refused before it costs seconds or memory.
MAX_POST_BYTES = 1024 * 1024  # the whole file; uploads are also held to MAX_CONTENT_LENGTH
MAX_FRONT_MATTER_BYTES = 64 * 1024
MAX_YAML_DEPTH = 32  # nested lists and maps, aliases counted as the value they repeat
MAX_YAML_NODES = 10_000  # every value, each alias counted as the whole value it repeats
# What one talk may hold. A talk has a handful of speakers; the lengths follow the columns
# they are stored in (models.py), so nothing is cut or refused by the database later.
MAX_SPEAKERS = 30
MAX_PARTS = 30
MAX_SECTIONS = 100
MAX_TITLE_CHARS = 500
MAX_NAME_CHARS = 200
MAX_AFFILIATION_CHARS = 300
MAX_HEADING_CHARS = 300
MAX_URL_CHARS = 2000


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# C0 control characters other than tab, line feed and carriage return. PostgreSQL refuses NUL
# in text, and none of them belong in a post; the file is refused rather than silently changed.
_CONTROL_CHAR_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def require_plain_text(text: str) -> None:
    size = len(text.encode("utf-8"))
    if size > MAX_POST_BYTES:
        raise PostError(file_too_large(size))
    found = _CONTROL_CHAR_RE.search(text)
    if found is not None:
        line = normalise_newlines(text[: found.start()]).count("\n") + 1
        raise PostError(
            f"the file contains the control character U+{ord(found[0]):04X} on line {line}; "
            "nothing was imported: remove it and import the file again"
        )


def file_too_large(size: int) -> str:
    return f"the file is larger than {MAX_POST_BYTES // 1024} KB ({size // 1024} KB); a talk post is a few KB"


def require_a_talks_proportions(info: PostInfo) -> None:
    """Refuse a post that reads but holds more than any talk does (thousands of speakers, ...)."""
    everyone = info.speakers + [s for part in info.parts for s in part.speakers]
    count = max(len(info.speakers), max((len(p.speakers) for p in info.parts), default=0))
    if count > MAX_SPEAKERS:
        raise PostError(f"the post names {count} speakers; a talk has at most {MAX_SPEAKERS}")
    if len(info.parts) > MAX_PARTS:
        raise PostError(f"the post has {len(info.parts)} presentations; a talk has at most {MAX_PARTS}")
    if len(info.sections) > MAX_SECTIONS:
        raise PostError(f"the post has {len(info.sections)} sections; a talk page has at most {MAX_SECTIONS}")
    too_long = [
        ("the title", [info.title] + [p.title or "" for p in info.parts], MAX_TITLE_CHARS),
        ("a speaker's name", [s.name for s in everyone], MAX_NAME_CHARS),
        ("the venue", [info.affiliation or ""] + [s.affiliation or "" for s in everyone], MAX_AFFILIATION_CHARS),
        ("a section heading", [section.heading for section in info.sections], MAX_HEADING_CHARS),
        (
            "a link",
            [info.recording_url or "", info.slides_url or "", info.paper_url or ""] + [s.url or "" for s in everyone],
            MAX_URL_CHARS,
        ),
    ]
    for what, values, limit in too_long:
        if any(len(value) > limit for value in values):
            raise PostError(f"{what} is longer than {limit} characters")
