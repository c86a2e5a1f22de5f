"""Places: the room and the online platform of a Location line, kept apart."""

from __future__ import annotations

import re
from collections.abc import Collection

from services.site_import.names import is_tbd
from services.site_import.talk_info import ROOM, warn
from services.site_import.text import URL_RE, fold, squash_spaces

_PLATFORMS = (
    (re.compile(r"\bzoom\b", re.I), "Zoom"),
    (re.compile(r"\bgoogle\s*meet\b|meet\.google\.com|\bg-?meet\b", re.I), "Google Meet"),
    (re.compile(r"\b(?:microsoft|ms)\s*teams\b|\bteams\b", re.I), "Microsoft Teams"),
    (re.compile(r"\bwebex\b", re.I), "Webex"),
    (re.compile(r"\bjitsi\b", re.I), "Jitsi Meet"),
    (re.compile(r"\bbluejeans\b", re.I), "BlueJeans"),
    (re.compile(r"\bskype\b", re.I), "Skype"),
    (re.compile(r"\byoutube\b", re.I), "YouTube"),
    (re.compile(r"\bgather(?:\.town)?\b", re.I), "Gather"),
    (re.compile(r"\bdiscord\b", re.I), "Discord"),
)
# An online part with no named platform ("online only", "hybrid").
_GENERIC_ONLINE_RE = re.compile(r"\b(?:online|virtual(?:ly)?|remote(?:ly)?|hybrid|live\s?stream(?:ed)?)\b", re.I)
_GENERIC_ONLINE = "Online"
_PLACE_SEPARATOR_RE = re.compile(r"[(),;/+&]|\s[-–—|]\s|\b(?:or|and|via|on|with|plus|also)\b", re.I)
# Segments that carry no place: "(See email)", "online only", "link to follow", ...
_PLACE_NOISE_RE = re.compile(
    r"^(?:(?:see|check|the|an?|your|email|e-mail|mail|link|links|details|announcement|calendar|"
    r"invite|invitation|online|only|hybrid|virtual|virtually|remote|remotely|in|at|person|"
    r"in-person|streamed|livestream|will|be|sent|to|follow|for|by|registered|attendees|"
    r"participants|meeting|tba|tbd|tbc|is|are|mailing|list|lists|registration|register|upon|request|"
    r"after|registering|members|subscribers|on|via|sign|up|signing|password|code|id|required)\b\s*)+$",
    re.I,
)
# Reading the room out of a Location line, strongest evidence first:
#  1. a room the series already knows (earlier imports, the organizer's room list), named
#     anywhere in the line: the longest such name wins;
#  2. a room the line names outright: "room H04", "salle 2215", "Rm. B-118" (the number is
#     the room: "Room A14" and "A14" are one room), "Auditorium 2", "Lecture Hall 3";
#  3. a room code standing alone: "H04 or Zoom", "in B-118";
#  4. a capitalised place after "in the"/"at the": "We will meet in the Agora as usual";
#  5. a short phrase of its own (up to _MAX_ROOM_WORDS words: "Mila", "the Agora").
# A longer phrase with none of these is not made a room: the talk gets no room and the
# import report says what was read, so that an organizer sets the room. A room that an
# attendee cannot walk to is worse than none.
_MAX_ROOM_WORDS = 4
_MAX_ROOM_CHARS = 120  # Room.name
_ROOM_NUMBER = r"[A-Za-z]{0,3}-?\d[\w.-]*"
_NAMED_ROOM_RE = re.compile(rf"\b(?:rooms?|rm\.?|salle|local)\s*(?:no\.?\s*|#\s*)?(?P<room>{_ROOM_NUMBER})", re.I)
_KIND_ROOM_RE = re.compile(
    r"(?P<room>(?i:\b(?:(?:lecture|seminar|conference|meeting|class)\s+)?"
    r"(?:auditorium|amphith[eé][aâ]tre|amphi|hall|lab|laboratory|lounge|studio|theatre|theater|classroom))"
    r"\s+(?:\d[\w.-]*|[A-Z](?:-?\d[\w.-]*)?)(?![\w-]))"
)
_ROOM_CODE_RE = re.compile(r"(?<![\w-])(?P<room>[A-Z]{1,3}-?\d{1,4}[A-Z]?)(?![\w-])")
_THE_PLACE_RE = re.compile(r"(?i:\b(?:in|at)\s+the)\s+(?P<room>[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*){0,3})")
# "6650 Saint-Urbain", "1200 rue des Érables": a street address is where the building is.
_ADDRESS_RE = re.compile(r"^\d+[A-Za-z]?\s+\D", re.I)


def read_place(
    location: str | None, known_rooms: Collection[str], warnings: list[str]
) -> tuple[str | None, str | None]:
    """(room, online platform) from a Location line; see the order of evidence above."""
    if not location or is_tbd(location):
        return None, None
    platform = platform_of(location)
    text = squash_spaces(URL_RE.sub(" ", location))
    room = known_room(text, known_rooms) or _room_named_in(text)
    if room is not None:
        return room, platform
    segments = [p for p in (_place_segment(s) for s in _PLACE_SEPARATOR_RE.split(text)) if p]
    words = sum(len(segment.split()) for segment in segments)
    if words > _MAX_ROOM_WORDS:
        warn(
            warnings,
            ROOM,
            f"the location {location.strip()!r} names no room Lectern recognises; "
            "the talk has no room: an organizer should set it",
        )
        return None, platform
    room = next((seg for seg in segments if not _ADDRESS_RE.match(seg) and len(seg) <= _MAX_ROOM_CHARS), None)
    return room, platform


def known_room(text: str, known_rooms: Collection[str]) -> str | None:
    """The longest room of the series that the line names, on word boundaries, in any case."""
    folded = fold(text)
    best: tuple[int, str] | None = None
    for name in known_rooms:
        if platform_of(name) is not None:  # a "room" called Zoom or Online is no place to walk to
            continue
        for variant in _room_variants(name):
            if len(variant) < 2 or (best is not None and len(variant) <= best[0]):
                continue
            if re.search(rf"(?<!\w){re.escape(variant)}(?!\w)", folded):
                best = (len(variant), name)
    return best[1] if best else None


def _room_variants(name: str) -> set[str]:
    """'Room A14' -> {'room a14', 'a14'}: the forms a post may use for one room."""
    folded = fold(name)
    bare = re.sub(r"^(?:room|salle|local|rm\.?)\s+(?=\S*\d)", "", folded)
    return {folded, bare}


def _room_named_in(text: str) -> str | None:
    for pattern in (_NAMED_ROOM_RE, _KIND_ROOM_RE, _ROOM_CODE_RE, _THE_PLACE_RE):
        for match in pattern.finditer(text):
            room = match["room"].rstrip(".-")
            usable = room and len(room) <= _MAX_ROOM_CHARS and platform_of(room) is None
            if usable and not _PLACE_NOISE_RE.match(room):
                return room[0].upper() + room[1:]
    return None


def platform_of(text: str) -> str | None:
    found = [(m.start(), name) for pattern, name in _PLATFORMS if (m := pattern.search(text))]
    if found:
        return min(found)[1]
    return _GENERIC_ONLINE if _GENERIC_ONLINE_RE.search(text) else None


def _place_segment(segment: str) -> str | None:
    text = segment.strip(" .:'\"")
    if not text or _PLACE_NOISE_RE.match(text) or any(p.search(text) for p, _ in _PLATFORMS):
        return None
    text = re.sub(r"^(?:(?:in|at)\s+)?(?:the\s+)?", "", text, flags=re.I)
    # "Room A14" and "A14" name the same room; keep the name, not the word.
    text = re.sub(r"^room\s+(?=\S*\d)", "", text, flags=re.I)
    return text.strip() or None
