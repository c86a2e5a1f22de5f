"""What a reader makes of one talk file: the plain data the importer consumes, whatever the format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass
class SpeakerInfo:
    name: str
    affiliation: str | None = None
    url: str | None = None
    # This speaker's own bio when the post's bio text can be split per speaker.
    bio_md: str | None = None


@dataclass
class PartInfo:
    """One presentation of a talk; most talks have one, intern sessions several."""

    title: str | None
    speakers: list[SpeakerInfo]
    abstract_md: str | None = None
    bio_md: str | None = None


@dataclass
class SectionInfo:
    heading: str
    body_md: str


@dataclass
class PostInfo:
    source: str  # the path as given to the importer
    source_key: str  # normalised file name, e.g. "2024-05-20-tianbao-xie.md" (a "@commit" suffix removed)
    file_date: date | None  # the date in the file name
    title: str
    semester: str | None  # e.g. "summer-2024"
    speakers: list[SpeakerInfo]  # every speaker, in order; empty for a group session
    affiliation: str | None  # the post's venue as given; None when empty
    starts_at: datetime  # aware, in the series' zone
    ends_at: datetime
    time_known: bool  # False when the post gives no time (placeholder posts)
    room: str | None
    online_platform: str | None  # "Zoom", "Google Meet", "Microsoft Teams", ...
    intro_md: str  # text before the first section, Liquid resolved
    parts: list[PartInfo]  # at least one
    sections: list[SectionInfo] = field(default_factory=list)  # anything else, in order
    recording_url: str | None = None
    slides_url: str | None = None
    paper_url: str | None = None
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url)
    images: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Where the file came from and what is doubtful in it (see Warnings).
    dialect: str = "jekyll-post"
    doubts: set[str] = field(default_factory=set)
    # The talk's address when the file name gives none worth keeping (an undated page, "index.md").
    slug_hint: str | None = None


# What a warning casts doubt on: the facts an organizer must check before the talk is announced.
START, TITLE, SPEAKERS, ROOM = "start", "title", "speakers", "room"


class Warnings(list[str]):
    """The warnings about one file, in order, and which of the talk's facts they cast doubt on.

    A reader warns whenever it cannot read something or has to choose: the import report shows
    the messages, and `doubts` says which facts (start, title, speakers, room) they concern, so
    that a doubtful talk is flagged rather than silently guessed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.doubts: set[str] = set()

    def about(self, fact: str, message: str) -> None:
        self.append(message)
        self.doubts.add(fact)


def warn(warnings: list[str], fact: str, message: str) -> None:
    """Add a warning that casts doubt on `fact` (recorded when the list is a Warnings)."""
    if isinstance(warnings, Warnings):
        warnings.about(fact, message)
    else:
        warnings.append(message)
