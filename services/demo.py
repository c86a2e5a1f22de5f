"""Demo content for a fresh installation: fictional talks dated around today.

Running it again moves the demo talks to dates relative to the new today, so the home page
always has something upcoming. Talks that did not come from here are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ChatAssignment, EntryKind, Room, ScheduleEntry, Series, Speaker, Talk, TalkPart, TalkStatus
from services import chats
from services.talk_editing import semester_for_day

DEMO_PREFIX = "demo:"
DEMO_ORGANIZER = "organizer@example.org"

ROOMS = {
    "Auditorium 2": (
        120,
        "Ground floor of the main building. From the front entrance, walk past the reception desk "
        "and take the corridor on the left; the auditorium is the second door.",
    ),
    "Room B12": (
        30,
        "Basement level, east wing. Take the stairs beside the elevators down one floor; B12 faces the lounge.",
    ),
}


@dataclass
class DemoTalk:
    key: str
    slug: str
    title: str
    days_from_today: int
    start: time
    parts: list[tuple[str | None, list[tuple[str, str, str | None]], str, str]]
    room: str | None = "Auditorium 2"
    platform: str | None = "Zoom"
    status: TalkStatus = TalkStatus.SCHEDULED
    minutes: int = 60
    intro: str = ""
    recording_url: str | None = None
    slides_url: str | None = None
    links: list[dict[str, str]] = field(default_factory=list)
    chats: DemoChats | None = None


@dataclass
class DemoChats:
    """Chat slots after the talk (per speaker), and the fictional people who booked or asked."""

    count: int
    minutes: int
    capacity: int
    assignment: ChatAssignment = ChatAssignment.FIRST_COME
    # (name, email, slot numbers: the booked one, or wishes in order before a draw, topic)
    people: list[tuple[str, str, list[int], str]] = field(default_factory=list)


TALKS = [
    DemoTalk(
        key="tide-tables",
        slug="reading-the-tide-tables",
        title="Reading the Tide Tables: Forecasting with Small Language Models",
        days_from_today=-13,
        start=time(11, 0),
        parts=[
            (
                None,
                [("Maren Okafor", "Harbour Institute of Technology", None)],
                "Coastal towns publish tide tables a year ahead, yet the notes that fishers keep by hand "
                "record what the tables miss. This talk describes a small model trained on those notes "
                "and asks when a few million parameters are enough.\n\n"
                "We compare it with a physical model and a large general-purpose model, and discuss what "
                "each gets wrong.",
                "Maren Okafor builds forecasting tools for coastal communities. Before research she worked "
                "as a ferry navigator, which is where her interest in tides began.",
            )
        ],
        recording_url="https://example.org/recordings/tide-tables",
        slides_url="https://example.org/slides/tide-tables.pdf",
    ),
    DemoTalk(
        key="quiet-benchmarks",
        slug="what-quiet-benchmarks-hide",
        title="What Quiet Benchmarks Hide",
        days_from_today=3,
        start=time(11, 30),
        intro="Coffee is served from 11:15 in front of the auditorium. Newcomers are welcome.",
        parts=[
            (
                None,
                [("Tomasz Ilunga-Berg", "University of the Northern Plains", "https://example.org/~tomasz")],
                "Leaderboards reward models that are right on average. This talk looks at the examples "
                "nobody inspects: the ones every model gets right for the wrong reason, and the ones "
                "annotators disagreed about from the start.\n\n"
                "| Benchmark | Items inspected | Label problems |\n|---|---:|---:|\n"
                "| Reading comprehension | 600 | 41 |\n| Entailment | 450 | 57 |\n\n"
                "We close with a short checklist for anyone publishing a new test set.",
                "Tomasz Ilunga-Berg is an assistant professor who studies evaluation. He co-organises a "
                "workshop on data quality and keeps bees.",
            )
        ],
        links=[{"label": "Paper", "url": "https://example.org/papers/quiet-benchmarks"}],
    ),
    DemoTalk(
        key="whale-song",
        slug="whale-song-token-by-token",
        title="Whale Song, Token by Token",
        days_from_today=7,
        start=time(14, 0),
        room="Room B12",
        intro="The speaker stays after the talk for short chats: book one from the talk's page.",
        parts=[
            (
                None,
                [("Aroha Lindgren-Mbeki", "Coastal Acoustics Lab", None)],
                "Humpback songs repeat and change over a season. This talk treats recordings as "
                "sequences of sound units and asks what a language model learns from them, and what "
                "it cannot know without the ocean around the sound.",
                "Aroha Lindgren-Mbeki records and models marine mammal sounds. She spends part of "
                "each year on a research boat and the rest writing software for it.",
            )
        ],
        chats=DemoChats(
            count=4,
            minutes=15,
            capacity=2,
            people=[
                ("Priya Castellanos", "priya@example.org", [0], "Tagging song units by hand"),
                ("Jonah Whitfield", "jonah@example.org", [0], ""),
                ("Lea Marchetti", "lea@example.org", [2], "Hydrophone placement"),
            ],
        ),
    ),
    DemoTalk(
        key="lightning",
        slug="student-lightning-talks",
        title="Student Lightning Talks",
        days_from_today=10,
        start=time(13, 0),
        minutes=60,
        room="Room B12",
        intro="Two students present their summer projects, fifteen minutes each with questions.",
        parts=[
            (
                "Counting Syllables in Eleven Languages",
                [("Ines Valtonen", "Lectern University", None)],
                "A pronunciation-free way to count syllables, tested on poetry corpora.",
                "Ines is an undergraduate in linguistics and computer science.",
            ),
            (
                "Do Chatbots Apologise Too Much?",
                [("Kofi Adjei-Marsh", "Lectern University", None)],
                "A survey of apologies in customer-service conversations, human and generated.",
                "Kofi is a first-year master's student interested in dialogue.",
            ),
        ],
        chats=DemoChats(
            count=3,
            minutes=10,
            capacity=1,
            assignment=ChatAssignment.DRAW,
            people=[
                ("Sam Oduya", "sam@example.org", [0, 1], "Syllables in Finnish poetry"),
                ("Rosa Lindqvist", "rosa@example.org", [0, 3], ""),
                ("Malik Brennan", "malik@example.org", [3, 4, 5], "Apologies in support chats"),
            ],
        ),
    ),
    DemoTalk(
        key="maps",
        slug="maps-that-talk-back",
        title="Maps That Talk Back",
        days_from_today=17,
        start=time(11, 0),
        status=TalkStatus.CANCELLED,
        parts=[
            (
                None,
                [("Beatriz Sørensen", "Institute for Spatial Computing", None)],
                "Describing routes in natural language, and what goes wrong at roundabouts.",
                "Beatriz Sørensen works on grounded language and navigation.",
            )
        ],
    ),
    DemoTalk(
        key="roundtable",
        slug="roundtable-open-models",
        title="Roundtable: Open Models in the Lab",
        days_from_today=24,
        start=time(15, 0),
        room=None,
        platform="Google Meet",
        status=TalkStatus.TENTATIVE,
        parts=[
            (
                None,
                [],
                "An open discussion on running open-weight models on shared lab hardware: scheduling, "
                "costs and etiquette. Bring a question.",
                "",
            )
        ],
    ),
]


def on_a_weekday(day: date) -> date:
    """Saturday moves back to Friday and Sunday on to Monday: the demo series meets on weekdays."""
    return day - timedelta(days=1) if day.weekday() == 5 else day + timedelta(days=1) if day.weekday() == 6 else day


def seed(session: Session, series: Series, today: datetime, *, sign_ups: bool = True) -> int:
    """The demo talks; with `sign_ups`, also the fictional people who booked its chats (signed up)."""
    tz = ZoneInfo(series.timezone)
    local_today = today.astimezone(tz).date()
    if not series.description:
        series.description = "A weekly series of research talks, open to everyone."
    rooms = {name: _room(session, series, name, capacity, directions) for name, (capacity, directions) in ROOMS.items()}
    created = 0
    for demo in TALKS:
        day = on_a_weekday(local_today + timedelta(days=demo.days_from_today))
        semester = semester_for_day(session, series, day)
        talk = session.scalars(select(Talk).where(Talk.source_key == DEMO_PREFIX + demo.key)).first()
        if talk is None:
            talk = Talk(series=series, slug=demo.slug, source_key=DEMO_PREFIX + demo.key)
            session.add(talk)
            created += 1
        starts_at = datetime.combine(day, demo.start, tzinfo=tz)
        moved_by = starts_at - talk.starts_at if talk.starts_at is not None else None
        talk.title = demo.title
        talk.status = demo.status
        talk.starts_at = starts_at
        talk.ends_at = starts_at + timedelta(minutes=demo.minutes)
        talk.room = rooms[demo.room] if demo.room else None
        talk.online_platform = demo.platform
        talk.semester = semester
        talk.intro_md = demo.intro
        talk.recording_url = demo.recording_url
        talk.slides_url = demo.slides_url
        talk.paper_url = next((link["url"] for link in demo.links if link["label"] == "Paper"), None)
        talk.links = demo.links
        talk.parts = [
            TalkPart(
                position=index,
                title=title,
                abstract_md=abstract,
                bio_md=bio,
                speakers=[
                    Speaker(position=n, name=name, affiliation=affiliation, url=url)
                    for n, (name, affiliation, url) in enumerate(speakers)
                ],
            )
            for index, (title, speakers, abstract, bio) in enumerate(demo.parts)
        ]
        if demo.chats is not None:
            _chats(session, talk, demo.chats, moved_by, today, sign_ups=sign_ups)
    _schedule_entries(session, series, local_today)
    return created


def _chats(
    session: Session, talk: Talk, spec: DemoChats, moved_by: timedelta | None, today: datetime, *, sign_ups: bool
) -> None:
    """The talk's chats: made once, with their bookings (or wishes); moved with the talk afterwards."""
    session.flush()
    slots = chats.slots_of(session, talk.id)
    if slots:
        for slot in slots if moved_by else []:
            slot.starts_at += moved_by
        return
    talk.chat_assignment = spec.assignment
    for name in talk.speaker_names if len(talk.speaker_names) > 1 else [""]:
        chats.add_slots(
            session,
            talk.id,
            first_starts_at=None,
            count=spec.count,
            minutes=spec.minutes,
            capacity=spec.capacity,
            place=None,
            speaker_name=name,
            now=today,
        )
    slots = chats.slots_of(session, talk.id)
    for name, email, numbers, topic in spec.people if sign_ups else []:
        chats.book(
            session,
            talk.id,
            name=name,
            email=email,
            slot_ids=[slots[n].id for n in numbers],
            topic=topic,
            now=today,
        )


ENTRIES = (
    (31, EntryKind.BREAK, "Reading week: no session."),
    (38, EntryKind.TBD, "Speaker to be announced."),
)


def _schedule_entries(session: Session, series: Series, local_today: date) -> None:
    """Put the demo's schedule entries at their dates from today, replacing earlier copies."""
    labels = [label for _days, _kind, label in ENTRIES]
    for old in session.scalars(select(ScheduleEntry).where(ScheduleEntry.label.in_(labels))):
        session.delete(old)
    for days, kind, label in ENTRIES:
        day = on_a_weekday(local_today + timedelta(days=days))
        semester = semester_for_day(session, series, day)
        session.add(ScheduleEntry(semester=semester, position=100 + days, kind=kind, on_date=day, label=label))


def _room(session: Session, series: Series, name: str, capacity: int, directions: str) -> Room:
    room = session.scalars(select(Room).where(Room.series_id == series.id, Room.name == name)).first()
    if room is None:
        room = Room(series=series, name=name, capacity=capacity, directions=directions)
        session.add(room)
    return room
