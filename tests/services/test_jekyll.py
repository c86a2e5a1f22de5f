"""Unit tests for services.jekyll: invented posts in the shape of the group's Jekyll site.

Every speaker, title and sentence here is made up; the real corpus is only spot-checked
at the end (the whole-corpus walk lives in its own test module).
"""

from __future__ import annotations

import contextlib
import re
import textwrap
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.jekyll import NotATalk, PostError, parse_post, parse_schedule, source_key_of, split_names

TZ = ZoneInfo("America/Montreal")
SOURCE = "_posts/reading-group/winter-2025/2025-03-07-mira-kowalczyk.md"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "mcgill"

JEKYLL_HEADER = """\
*{{ page.names }}*

**{{ page.venue }}**

{% include display-publication-links.html pub=page %}
"""

DEFAULT_BODY = (
    JEKYLL_HEADER
    + """
The [Reading Group]({% link _pages/reading-group.md %}) welcomes [Prof. Mira Kowalczyk](https://mira.example.org/)
for a talk on counting sheep.

## Talk Description

Sheep are hard to count when they move. We show a model that counts them anyway.

## Speaker Bio

Mira Kowalczyk studies sheep and sequences at Lakeside University.

## Logistics

Date: March 7th<br>
Time: 11:00AM <br>
Location: B12 or via Zoom (See email)
"""
)


def make_post(
    body: str = DEFAULT_BODY,
    *,
    title: str = "Counting Sheep with Transformers",
    names: str | None = "Prof. Mira Kowalczyk",
    venue: str = "Lakeside University",
    categories: tuple[str, ...] = ("Reading-Group", "Winter-2025"),
    extra_front: str = "",
) -> str:
    lines = ["---", f'title: "{title}"', f"venue: {venue}"]
    if names is not None:
        lines.append(f"names: {names}")
    lines.append("author: Somebody Else Entirely")
    lines.append("categories:")
    lines += [f"    - {c}" for c in categories]
    lines.append("layout: archive")
    if extra_front:
        lines.append(textwrap.dedent(extra_front).strip())
    lines.append("---")
    return "\n".join(lines) + "\n\n" + body


def parse(text: str, source: str = SOURCE, **kwargs):
    return parse_post(text, source=source, tz=TZ, **kwargs)


def logistics(date_line: str = "Date: March 7th", time_line: str = "Time: 11:00AM", where: str = "") -> str:
    where_line = where or "Location: B12 or via Zoom (See email)"
    return f"## Logistics\n\n{date_line}<br>\n{time_line}<br>\n{where_line}\n"


# ---------------------------------------------------------------------------------------
# Names


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mira Kowalczyk", ["Mira Kowalczyk"]),
        ("Prof. Mira Kowalczyk", ["Mira Kowalczyk"]),
        ("Dr. Tomás Ferreira and Ines Haddad", ["Tomás Ferreira", "Ines Haddad"]),
        ("  Oskar Lindqvist, Priya Raman", ["Oskar Lindqvist", "Priya Raman"]),
        ("Oskar Lindqvist, Priya Raman and Dr Lea Novak", ["Oskar Lindqvist", "Priya Raman", "Lea Novak"]),
        ("Oskar Lindqvist, Priya Raman, and Lea Novak", ["Oskar Lindqvist", "Priya Raman", "Lea Novak"]),
        ("Professor Ana Sandoval & Mx. Jo Berg", ["Ana Sandoval", "Jo Berg"]),
        ("Rountable discussion", []),
        ("Roundtable discussion", []),
        ("Group Discussion", []),
        ("Discussion", []),
        ("TBD", []),
        ("Group discussion led by Dr. Lea Novak", ["Lea Novak"]),
        (["Ana Sandoval", "Prof. Jo Berg"], ["Ana Sandoval", "Jo Berg"]),
        (None, []),
    ],
)
def test_split_names(value, expected):
    assert split_names(value) == expected


# ---------------------------------------------------------------------------------------
# A plain single-speaker post


def test_single_talk_post_reads_every_field():
    info = parse(make_post(), site_url="https://old.example.org", resolve_link=lambda path: "/schedule")

    assert info.source == SOURCE
    assert info.source_key == "2025-03-07-mira-kowalczyk.md"
    assert info.file_date == date(2025, 3, 7)
    assert info.title == "Counting Sheep with Transformers"
    assert info.semester == "winter-2025"
    assert info.affiliation == "Lakeside University"
    assert [(s.name, s.affiliation, s.url) for s in info.speakers] == [
        ("Mira Kowalczyk", "Lakeside University", "https://mira.example.org/")
    ]
    assert info.starts_at == datetime(2025, 3, 7, 11, 0, tzinfo=TZ)
    assert info.ends_at == info.starts_at + timedelta(minutes=60)
    assert info.time_known is True
    assert (info.room, info.online_platform) == ("B12", "Zoom")
    assert info.warnings == []

    [part] = info.parts
    assert part.title is None
    assert [s.name for s in part.speakers] == ["Mira Kowalczyk"]
    assert part.abstract_md == "Sheep are hard to count when they move. We show a model that counts them anyway."
    assert part.bio_md == "Mira Kowalczyk studies sheep and sequences at Lakeside University."
    assert info.speakers[0].bio_md == part.bio_md
    assert info.sections == []


def test_intro_drops_jekyll_header_lines_and_resolves_the_schedule_link():
    info = parse(make_post(), resolve_link=lambda path: f"/lectern/{path}")
    assert info.intro_md == (
        "The [Reading Group](/lectern/_pages/reading-group.md) welcomes "
        "[Prof. Mira Kowalczyk](https://mira.example.org/)\nfor a talk on counting sheep."
    )
    assert "{{" not in info.intro_md and "{%" not in info.intro_md


def test_author_is_ignored_and_names_win():
    info = parse(make_post(names="Ines Haddad"))
    assert [s.name for s in info.speakers] == ["Ines Haddad"]


def test_venue_is_stripped_and_empty_venue_is_none():
    assert parse(make_post(venue="  Hilltop Institute  ")).affiliation == "Hilltop Institute"
    empty = parse(make_post(venue=""))
    assert empty.affiliation is None
    assert empty.speakers[0].affiliation is None


def test_default_minutes_sets_the_length():
    info = parse(make_post(), default_minutes=90)
    assert info.ends_at - info.starts_at == timedelta(minutes=90)


# ---------------------------------------------------------------------------------------
# File names and semesters


def test_source_key_drops_the_commit_suffix_and_folders():
    info = parse(make_post(), source="_history/_posts/reading-group/winter-2025/2025-03-07-mira-kowalczyk@a1b2c3d.md")
    assert info.source_key == "2025-03-07-mira-kowalczyk.md"


def test_file_date_with_one_digit_day():
    text = make_post(logistics("Date: March 1st"))
    info = parse(text, source="_posts/reading-group/winter-2025/2025-3-1-mira.md")
    assert info.file_date == date(2025, 3, 1)
    assert info.starts_at.date() == date(2025, 3, 1)


def test_semester_comes_from_the_folder_when_categories_lack_it():
    text = make_post(categories=("Reading-Group",))
    assert parse(text).semester == "winter-2025"
    assert parse(text, source="drafts/2025-03-07-mira.md").semester is None


def test_year_comes_from_the_semester_when_the_file_name_has_no_date():
    info = parse(make_post(logistics("Date: Friday March 7")), source="_posts/winter-2025/mira.md")
    assert info.file_date is None
    assert info.starts_at.date() == date(2025, 3, 7)


def test_year_is_the_one_nearest_the_file_name_across_new_year():
    text = make_post(logistics("Date: January 3rd"))
    info = parse(text, source="_posts/fall-2024/2024-12-20-mira.md")
    assert info.starts_at.date() == date(2025, 1, 3)


# ---------------------------------------------------------------------------------------
# Dates


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Date: March 7th", date(2025, 3, 7)),
        ("Date: March 7", date(2025, 3, 7)),
        ("Date: Friday, March 7th", date(2025, 3, 7)),
        ("Date: Friday March 7", date(2025, 3, 7)),
        ("Date: Mar. 7", date(2025, 3, 7)),
        ("Date: 7 March 2025", date(2025, 3, 7)),
        ("Date: March 7, 2025", date(2025, 3, 7)),
        ("Date: 2025-03-07", date(2025, 3, 7)),
        ("**Date:** March 7th", date(2025, 3, 7)),
        ("- Date: March 7th", date(2025, 3, 7)),
        ("When: Friday March 7th", date(2025, 3, 7)),
    ],
)
def test_date_phrasings(line, expected):
    info = parse(make_post(logistics(line)))
    assert info.starts_at.date() == expected
    assert info.warnings == []


def test_a_wrong_ordinal_is_still_the_day():
    text = make_post(logistics("Date: May 30rd"), categories=("Winter-2025",))
    info = parse(text, source="_posts/winter-2025/2025-05-30-mira.md")
    assert info.starts_at.date() == date(2025, 5, 30)


def test_body_date_wins_over_the_file_name_with_a_warning():
    info = parse(make_post(logistics("Date: March 14th")))
    assert info.starts_at.date() == date(2025, 3, 14)
    assert info.file_date == date(2025, 3, 7)
    assert "file name says 2025-03-07 but the post says 2025-03-14; using the post's date" in info.warnings


def test_a_weekday_that_does_not_match_the_date_is_reported():
    info = parse(make_post(logistics("Date: Thursday March 7th")))
    assert info.starts_at.date() == date(2025, 3, 7)
    assert any("2025-03-07 is a Friday" in w for w in info.warnings)


def test_logistics_heading_at_level_one():
    body = "Intro words.\n\n# Logistics\n\nDate: March 7th<br>\nTime: 3PM<br>\nLocation: B12\n"
    info = parse(make_post(body))
    assert info.starts_at == datetime(2025, 3, 7, 15, 0, tzinfo=TZ)
    assert info.room == "B12"


def test_logistics_lines_without_a_heading():
    body = "## Abstract\n\nWe count sheep.\n\nDate: March 7th<br>\nTime: 11:00AM<br>\nWhere: B12 and on Zoom\n"
    info = parse(make_post(body))
    assert info.starts_at == datetime(2025, 3, 7, 11, 0, tzinfo=TZ)
    assert (info.room, info.online_platform) == ("B12", "Zoom")
    assert info.parts[0].abstract_md == "We count sheep."


def test_logistics_lines_on_one_source_line():
    body = "Intro.\n\n## Logistics\n\nDate: March 7th<br>Time: 2:30 PM<br>Location: B12\n"
    info = parse(make_post(body))
    assert info.starts_at == datetime(2025, 3, 7, 14, 30, tzinfo=TZ)
    assert info.room == "B12"


def test_logistics_in_prose():
    body = "Intro.\n\n## Logistics\n\nWe meet on Friday March 7th at 1:30 PM, details by email.\n"
    info = parse(make_post(body))
    assert info.starts_at == datetime(2025, 3, 7, 13, 30, tzinfo=TZ)


# ---------------------------------------------------------------------------------------
# Times and zones


@pytest.mark.parametrize(
    ("line", "start", "end"),
    [
        ("Time: 11:00AM <br>", time(11, 0), None),
        ("Time: 10:30 AM", time(10, 30), None),
        ("Time: 3PM", time(15, 0), None),
        ("Time: 11 a.m.", time(11, 0), None),
        ("Time: 14:00", time(14, 0), None),
        ("Time: 1:30 PM ET", time(13, 30), None),
        ("Time: 11:00 AM EST", time(11, 0), None),
        ("Time: noon", time(12, 0), None),
        ("Time: 12 PM", time(12, 0), None),
        ("Time: 11AM-12:30PM", time(11, 0), time(12, 30)),
        ("Time: 11-12:30PM", time(11, 0), time(12, 30)),
        ("Time: 1-2:30 PM", time(13, 0), time(14, 30)),
        ("Time: 11:00 AM -- 1:00 PM", time(11, 0), time(13, 0)),
        ("Time: 11AM to 12:30", time(11, 0), time(12, 30)),
        ("**Time:** 9:45am", time(9, 45), None),
    ],
)
def test_time_phrasings(line, start, end):
    info = parse(make_post(logistics(time_line=line)))
    assert info.time_known is True
    assert info.starts_at == datetime.combine(date(2025, 3, 7), start, tzinfo=TZ)
    expected_end = datetime.combine(date(2025, 3, 7), end, tzinfo=TZ) if end else info.starts_at + timedelta(hours=1)
    assert info.ends_at == expected_end
    assert info.warnings == []


def test_when_line_gives_date_and_time():
    text = make_post("Intro.\n\n## Logistics\n\nWhen: Friday March 7th at 2PM<br>\nWhere: B12\n")
    assert parse(text).starts_at == datetime(2025, 3, 7, 14, 0, tzinfo=TZ)


def test_an_hour_without_am_pm_in_the_afternoon_range_is_read_as_pm_with_a_warning():
    info = parse(make_post(logistics(time_line="Time: 2:00")))
    assert info.starts_at.time() == time(14, 0)
    assert any("no AM/PM" in w for w in info.warnings)


def test_a_foreign_zone_is_reported_but_read_as_local():
    info = parse(make_post(logistics(time_line="Time: 11:00 AM PST")))
    assert info.starts_at.time() == time(11, 0)
    assert any("PST" in w for w in info.warnings)


def test_summer_talk_is_in_daylight_time_and_est_is_just_eastern():
    text = make_post(logistics("Date: July 11th", "Time: 11:00 AM EST"), categories=("Summer-2025",))
    info = parse(text, source="_posts/summer-2025/2025-07-11-mira.md")
    assert info.starts_at.isoformat() == "2025-07-11T11:00:00-04:00"


def test_winter_talk_is_in_standard_time():
    text = make_post(logistics("Date: January 17th", "Time: 11:00AM"))
    info = parse(text, source="_posts/winter-2025/2025-01-17-mira.md")
    assert info.starts_at.isoformat() == "2025-01-17T11:00:00-05:00"


def test_no_time_gives_a_noon_placeholder():
    body = "Intro.\n\n## Logistics\n\nDate: March 7th<br>\nLocation: B12\n"
    info = parse(make_post(body), default_minutes=45)
    assert info.time_known is False
    assert info.starts_at == datetime(2025, 3, 7, 12, 0, tzinfo=TZ)
    assert info.ends_at == info.starts_at + timedelta(minutes=45)
    assert any("no time" in w for w in info.warnings)


def test_time_tbd_gives_a_placeholder():
    info = parse(make_post(logistics(time_line="Time: TBD")))
    assert info.time_known is False
    assert info.starts_at.time() == time(12, 0)


def test_unreadable_time_is_a_warning_not_an_error():
    info = parse(make_post(logistics(time_line="Time: after lunch")))
    assert info.time_known is False
    assert any("after lunch" in w for w in info.warnings)


def test_placeholder_post_without_logistics_is_still_a_talk():
    body = (
        JEKYLL_HEADER
        + "\nThe group is glad to have [Ines Haddad](https://ines.example.org) visit.\n\nMore details *TBA*.\n"
    )
    info = parse(make_post(body, names="Ines Haddad"), source="_posts/winter-2025/2025-03-07-ines-haddad@0a1b2c3.md")
    assert info.time_known is False
    assert info.starts_at == datetime(2025, 3, 7, 12, 0, tzinfo=TZ)
    assert (info.room, info.online_platform) == (None, None)
    assert [s.name for s in info.speakers] == ["Ines Haddad"]
    assert info.speakers[0].url == "https://ines.example.org"
    assert info.parts[0].abstract_md is None


# ---------------------------------------------------------------------------------------
# Places


@pytest.mark.parametrize(
    ("line", "room", "platform"),
    [
        ("Location: Auditorium 3 or via Zoom (See email)", "Auditorium 3", "Zoom"),
        ("Location: Zoom (See email)", None, "Zoom"),
        ("Location: B12 or Zoom (See email)", "B12", "Zoom"),
        ("Location: B12", "B12", None),
        ("Location: Room B12, Mila", "B12", None),
        ("Location: in B12 and on Zoom", "B12", "Zoom"),
        ("Location: online only (Google Meet)", None, "Google Meet"),
        ("Location: Zoom", None, "Zoom"),
        ("Location: Microsoft Teams", None, "Microsoft Teams"),
        ("Location: Webex (link in the announcement)", None, "Webex"),
        ("Location: hybrid", None, "Online"),
        ("Location: Lecture Hall 5 / https://meet.google.com/abc-defg-hij", "Lecture Hall 5", "Google Meet"),
        ("Where: the Agora", "Agora", None),
        ("Location: TBA", None, None),
    ],
)
def test_location_phrasings(line, room, platform):
    info = parse(make_post(logistics(where=line)))
    assert (info.room, info.online_platform) == (room, platform)


@pytest.mark.parametrize(
    ("line", "room", "platform"),
    [
        ("Location: Lakeside Institute, 1200 rue des Érables, room K17 or via Zoom", "K17", "Zoom"),
        ("Location: Online on Zoom, screencast in Auditorium 4", "Auditorium 4", "Zoom"),
        ("Location: We will meet in the Atrium as usual", "Atrium", None),
        ("Location: salle 2215, pavillon Lionel-Groulx, et sur Teams", "2215", "Microsoft Teams"),
        ("Location: Hybrid: Seminar Room C-210 and Google Meet", "C-210", "Google Meet"),
        ("Location: Streamed on YouTube; watch party in lecture hall 3", "Lecture hall 3", "YouTube"),
        ("Location: Rm. B-118 (second floor) / Webex", "B-118", "Webex"),
        ("Location: Join us in the Reading Lounge, third floor, or online", "Reading Lounge", "Online"),
        ("Location: Amphithéâtre 1 du pavillon principal, en ligne sur Zoom", "Amphithéâtre 1", "Zoom"),
        ("Location: upstairs, in K17, https://zoom.us/j/123", "K17", "Zoom"),
        ("Location: Lakeside Institute, 1200 rue des Érables", None, None),
        ("Location: room 1" + "x" * 200 + " or Zoom", None, "Zoom"),  # longer than any room name
    ],
)
def test_rooms_in_phrasings_the_corpus_does_not_show(line, room, platform):
    info = parse(make_post(logistics(where=line)))
    assert (info.room, info.online_platform) == (room, platform)


def test_a_known_room_named_in_passing_wins_and_the_longest_name_first():
    rooms = ["Studio", "Studio B", "Room Q5", "Online"]
    where = {
        "Location: after lunch, upstairs in studio b, bring a mug": "Studio B",
        "Location: the little studio at the end of the corridor": "Studio",
        "Location: Q5 or via Zoom (See email)": "Room Q5",
        "Location: online only": None,
    }
    for line, room in where.items():
        info = parse(make_post(logistics(where=line)), known_rooms=rooms)
        assert (line, info.room, info.warnings) == (line, room, [])


def test_a_long_location_naming_no_room_gives_no_room_and_a_warning():
    info = parse(make_post(logistics(where="Location: the usual place near the big window upstairs")))
    assert info.room is None
    assert info.warnings == [
        "the location 'the usual place near the big window upstairs' names no room Lectern recognises; "
        "the talk has no room: an organizer should set it"
    ]


# ---------------------------------------------------------------------------------------
# Liquid, links and site URLs


def test_page_values_in_prose_are_resolved():
    body = "Our guest {{ page.names }} from {{ page.venue }} will speak.\n\n" + logistics()
    info = parse(make_post(body))
    assert info.intro_md.startswith("Our guest Prof. Mira Kowalczyk from Lakeside University will speak.")


def test_publication_links_follow_the_include_order_and_labels():
    extra = """
    link: https://papers.example.org/sheep
    code: https://code.example.org/sheep
    webpage: https://sheep.example.org
    twitter: https://social.example.org/sheep
    video: https://videos.example.org/sheep
    demo: https://demo.example.org/sheep
    """
    info = parse(make_post(extra_front=extra))
    assert info.links == [
        ("Paper", "https://papers.example.org/sheep"),
        ("Code", "https://code.example.org/sheep"),
        ("Page", "https://sheep.example.org"),
        ("Tweet", "https://social.example.org/sheep"),
        ("Video", "https://videos.example.org/sheep"),
        ("Demo", "https://demo.example.org/sheep"),
    ]
    assert info.paper_url == "https://papers.example.org/sheep"
    assert info.recording_url == "https://videos.example.org/sheep"


def test_no_publication_links_when_the_keys_are_absent_or_empty():
    info = parse(make_post(extra_front="link: ''\ncode:"))
    assert info.links == []
    assert info.paper_url is None


def test_unknown_liquid_is_dropped_with_a_warning():
    body = "Hello {% comment %} there.\n\n" + logistics()
    info = parse(make_post(body))
    assert "{%" not in info.intro_md
    assert any("comment" in w for w in info.warnings)


SITE_BODY = """\
Intro with a logo: <img src="/assets/images/sponsor.png" alt="sponsor" width="300"/>

![A diagram](/assets/images/diagram.png) and [the handout](/assets/handout.pdf).
Also ![remote](https://img.example.org/x.png) and a protocol-relative ![cdn](//cdn.example.org/y.png).

## Logistics

Date: March 7th<br>
Time: 11:00AM<br>
Location: B12
"""


def test_site_relative_urls_are_resolved_against_the_site_url():
    info = parse(make_post(SITE_BODY), site_url="https://old.example.org/")
    assert info.images == [
        "https://old.example.org/assets/images/sponsor.png",
        "https://old.example.org/assets/images/diagram.png",
        "https://img.example.org/x.png",
        "//cdn.example.org/y.png",
    ]
    assert "(https://old.example.org/assets/handout.pdf)" in info.intro_md
    assert 'src="https://old.example.org/assets/images/sponsor.png"' in info.intro_md


def test_site_relative_urls_are_kept_without_a_site_url():
    info = parse(make_post(SITE_BODY))
    assert info.images[:2] == ["/assets/images/sponsor.png", "/assets/images/diagram.png"]
    assert "(/assets/handout.pdf)" in info.intro_md


def test_the_resolvers_url_is_not_prefixed_with_the_old_site():
    info = parse(make_post(), site_url="https://old.example.org", resolve_link=lambda path: "/schedule")
    assert "[Reading Group](/schedule)" in info.intro_md


def test_relative_front_matter_links_are_resolved_too():
    info = parse(make_post(extra_front="link: /assets/papers/sheep.pdf"), site_url="https://old.example.org")
    assert info.paper_url == "https://old.example.org/assets/papers/sheep.pdf"


# ---------------------------------------------------------------------------------------
# Sections


@pytest.mark.parametrize(
    "heading", ["Talk Description", "Paper Abstract", "Abstract", "Roundtable Description", "Routable Description"]
)
def test_abstract_headings(heading):
    body = f"Intro.\n\n## {heading}\n\nThe words of the abstract.\n\n" + logistics()
    info = parse(make_post(body))
    assert info.parts[0].abstract_md == "The words of the abstract."
    assert info.sections == [] or all(s.heading != heading for s in info.sections)


@pytest.mark.parametrize("heading", ["Speaker Bio", "Speaker Bios", "Bio", "About the speaker"])
def test_bio_headings(heading):
    body = f"Intro.\n\n## {heading}\n\nMira likes sheep.\n\n" + logistics()
    assert parse(make_post(body)).parts[0].bio_md == "Mira likes sheep."


def test_recording_slides_and_other_sections():
    body = (
        "Intro.\n\n## Talk Description\n\nAbstract words.\n\n"
        "## Reading list\n\n- One paper\n- Another paper\n\n"
        "## Recording\n\nWatch it [on the video site](https://videos.example.org/watch/1) later.\n\n"
        "## Slides\n\nhttps://slides.example.org/deck.pdf\n\n"
        "## Acknowledgements\n\nThanks to the hosts.\n\n" + logistics()
    )
    info = parse(make_post(body))
    assert info.recording_url == "https://videos.example.org/watch/1"
    assert info.slides_url == "https://slides.example.org/deck.pdf"
    assert [(s.heading, s.body_md) for s in info.sections] == [
        ("Reading list", "- One paper\n- Another paper"),
        ("Acknowledgements", "Thanks to the hosts."),
    ]
    assert info.parts[0].abstract_md == "Abstract words."


def test_sub_headings_stay_inside_their_section():
    body = "Intro.\n\n## Abstract\n\nMain words.\n\n### Background\n\nOlder work.\n\n" + logistics()
    info = parse(make_post(body))
    assert info.parts[0].abstract_md == "Main words.\n\n### Background\n\nOlder work."
    assert info.sections == []


def test_inline_labels_without_headings():
    body = (
        "Intro sentence.\n\n**Abstract:** Sheep, counted.\n\nMore abstract.\n\n"
        "**Speaker bio:** Mira counts.\n\n" + logistics()
    )
    info = parse(make_post(body))
    assert info.intro_md == "Intro sentence."
    assert info.parts[0].abstract_md == "Sheep, counted.\n\nMore abstract."
    assert info.parts[0].bio_md == "Mira counts."


# ---------------------------------------------------------------------------------------
# Multi-part posts

INTERN_BODY = (
    JEKYLL_HEADER
    + """
Our interns give short talks. The speakers are [Oskar Lindqvist](https://oskar.example.org) and [Priya Raman](https://priya.example.org).

# Oskar Lindqvist

## Talk Description

Oskar's abstract.

## Bio

Oskar is an intern.

# Priya Raman: Folding Paper with Robots

## Talk Description

Priya's abstract.

## Bio

Priya Raman is also an intern.

# Logistics

Date: March 7th<br>
Time: 11:30AM <br>
Location: Auditorium 3 or via Zoom (See email)
"""
)


def test_one_part_per_speaker_heading():
    info = parse(make_post(INTERN_BODY, names="Oskar Lindqvist, Priya Raman", venue="Lakeside + Hilltop"))
    assert [(p.title, [s.name for s in p.speakers]) for p in info.parts] == [
        (None, ["Oskar Lindqvist"]),
        ("Folding Paper with Robots", ["Priya Raman"]),
    ]
    assert [p.abstract_md for p in info.parts] == ["Oskar's abstract.", "Priya's abstract."]
    assert [p.bio_md for p in info.parts] == ["Oskar is an intern.", "Priya Raman is also an intern."]
    assert [(s.url, s.affiliation) for s in info.speakers] == [
        ("https://oskar.example.org", "Lakeside + Hilltop"),
        ("https://priya.example.org", "Lakeside + Hilltop"),
    ]
    assert info.starts_at == datetime(2025, 3, 7, 11, 30, tzinfo=TZ)
    assert info.sections == []


TWO_TALKS_BODY = """\
The group hosts two talks back to back.

- 11AM EST:
[Tomás Ferreira](https://tomas.example.org), visiting, will speak on "Rivers as Graphs".

- 12PM EST: a break.

- 12:30PM EST:
[Ines Haddad](https://ines.example.org) will speak on " Maps That Forget".

## Maps That Forget

**Talk description:** Forgetting maps, explained.

A second paragraph of the description.

**Speaker bio:** Ines draws maps.

## Rivers as Graphs

**Talk description:** Rivers, but graphs.

**Speaker bio:** Tomás is a hydrologist.

## Logistics

Date: March 7th <br>
Time: 11:00AM <br>
Location: Auditorium 3 or via Zoom (See email)
"""


def test_parts_with_inline_labels_take_their_speaker_from_the_intro_or_bio():
    info = parse(
        make_post(TWO_TALKS_BODY, names="Tomás Ferreira and Ines Haddad", venue="River College and Map School")
    )
    assert [(p.title, [s.name for s in p.speakers]) for p in info.parts] == [
        ("Maps That Forget", ["Ines Haddad"]),
        ("Rivers as Graphs", ["Tomás Ferreira"]),
    ]
    assert info.parts[0].abstract_md == "Forgetting maps, explained.\n\nA second paragraph of the description."
    assert info.parts[0].bio_md == "Ines draws maps."
    assert [(s.name, s.affiliation) for s in info.speakers] == [
        ("Tomás Ferreira", "River College"),
        ("Ines Haddad", "Map School"),
    ]


def test_parts_fall_back_to_first_names_in_the_bio():
    body = (
        "Two members present.\n\n## First Topic\n\n**Talk description:** One.\n\n**Speaker bio:** Lea works here.\n\n"
        "## Second Topic\n\n**Talk description:** Two.\n\n**Speaker bio:** Jo works there.\n\n" + logistics()
    )
    info = parse(make_post(body, names="Jo Berg and Lea Novak"))
    assert [[s.name for s in p.speakers] for p in info.parts] == [["Lea Novak"], ["Jo Berg"]]
    assert info.speakers[1].bio_md == "Lea works here."


def test_talk_and_response_split_into_two_parts():
    body = (
        "A talk by [Ana Sandoval](https://ana.example.org) and a reply by [Jo Berg](https://jo.example.org).\n\n"
        "## Talk and Response Description\n\n"
        "**Why Ducks Do Not Need Maps**\n\nAna's argument about ducks.\n\n"
        "**A Reply on Ducks by Jo Berg**\n\nJo disagrees, politely.\n\n"
        "## Speaker Bios\n\n**Ana Sandoval:** Ana studies ducks.\n\n**Jo Berg:** Jo studies maps.\n\n" + logistics()
    )
    info = parse(make_post(body, names="Ana Sandoval and Jo Berg", venue=""))
    assert [(p.title, [s.name for s in p.speakers], p.abstract_md, p.bio_md) for p in info.parts] == [
        ("Why Ducks Do Not Need Maps", ["Ana Sandoval"], "Ana's argument about ducks.", "Ana studies ducks."),
        ("A Reply on Ducks", ["Jo Berg"], "Jo disagrees, politely.", "Jo studies maps."),
    ]
    assert [s.bio_md for s in info.speakers] == ["Ana studies ducks.", "Jo studies maps."]
    assert [s.affiliation for s in info.speakers] == [None, None]


def test_two_speakers_one_talk_keep_one_part_and_split_their_bios():
    body = (
        "Intro.\n\n## Talk Description\n\nA shared abstract.\n\n"
        "## Speaker Bios\n\nAna Sandoval is a researcher.\n\nShe also sails.\n\nJo Berg is a student.\n\n" + logistics()
    )
    info = parse(make_post(body, names="Ana Sandoval and Jo Berg", venue="One Lab"))
    [part] = info.parts
    assert part.title is None
    assert [s.name for s in part.speakers] == ["Ana Sandoval", "Jo Berg"]
    assert part.bio_md == "Ana Sandoval is a researcher.\n\nShe also sails.\n\nJo Berg is a student."
    assert [s.bio_md for s in info.speakers] == [
        "Ana Sandoval is a researcher.\n\nShe also sails.",
        "Jo Berg is a student.",
    ]
    assert [s.affiliation for s in info.speakers] == ["One Lab", "One Lab"]


def test_group_session_has_no_speaker_and_one_part():
    body = "A roundtable for everyone.\n\n## Roundtable Description\n\nWe will talk.\n\n" + logistics()
    info = parse(make_post(body, names="Rountable discussion", venue="Mila"))
    assert info.speakers == []
    [part] = info.parts
    assert part.speakers == [] and part.abstract_md == "We will talk."


# ---------------------------------------------------------------------------------------
# Not talks and errors


@pytest.mark.parametrize(
    ("text", "source", "reason"),
    [
        (make_post(categories=("Reading-Group", "Archive")), SOURCE, "archive post listing a semester's schedule"),
        ("\x89PNG", "_posts/reading-group/winter-2025/portrait.png", "not a Markdown post (image)"),
        ("plain words", "_posts/reading-group/notes.txt", "not a Markdown post (txt file)"),
        ("No front matter here.\n", SOURCE, "no front matter"),
        ("---\nnames: Ana Sandoval\n---\nText.\n", SOURCE, "no title in the front matter"),
        ("---\ntitle: Schedule\npermalink: /rg/\n---\nText.\n", "_pages/reading-group.md", "site page"),
        ("---\ntitle: Coming soon\n---\n\n", SOURCE, "placeholder post"),
    ],
)
def test_not_a_talk(text, source, reason):
    with pytest.raises(NotATalk, match=re.escape(reason)) as caught:
        parse(text, source=source)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "source", "reason"),
    [
        ("---\ntitle: [unclosed\n---\nText.\n", SOURCE, "not valid YAML"),
        ("---\n- just\n- a list\n---\nText.\n", SOURCE, "key: value"),
        (make_post(logistics("Date: sometime soon")), SOURCE, "cannot read the date"),
        (make_post(logistics("Date: February 30th")), SOURCE, "does not exist"),
        (make_post("Intro only, no logistics.\n"), "_posts/misc/mira.md", "no date"),
        (make_post(logistics("Date: March 7th"), categories=("Reading-Group",)), "_posts/misc/mira.md", "no year"),
    ],
)
def test_post_errors(text, source, reason):
    with pytest.raises(PostError, match=re.escape(reason)) as caught:
        parse(text, source=source)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "---\n---\n",
        "---\ntitle: 42\nnames: 7\nvenue: [a, b]\ncategories: {x: 1}\n---\n## Logistics\nDate: 99/99\n",
        "---\ntitle: T\nnames: A\n---\n## Logistics\n\nDate: March 7th\nTime: 25:99\nLocation: (((\n",
        "---\ntitle: T\nnames: A\n---\n# \n## \n### Logistics\nWhen: Dec 32\n",
        "---\ntitle: T\nnames: A\n---\n{{ page.names | upcase }} {% link %} {{ }}\n```\n# not a heading\n```\n",
        "---\ntitle: T\nnames: A\n---\n**Talk description:**\n\n**Speaker bio:**\n\n> ## Quoted heading\n",
        "---\r\ntitle: T\r\nnames: A\r\n---\r\n## Logistics\r\nDate: March 7th\r\nTime: 11-\r\n",
    ],
)
def test_malformed_posts_raise_only_the_two_errors(text):
    # Anything but these two escaping (KeyError, ValueError, ...) fails the test.
    with contextlib.suppress(NotATalk, PostError):
        parse(text)


def test_windows_line_endings_are_fine():
    info = parse(make_post().replace("\n", "\r\n"))
    assert info.starts_at == datetime(2025, 3, 7, 11, 0, tzinfo=TZ)
    assert info.parts[0].abstract_md.startswith("Sheep are hard")


# ---------------------------------------------------------------------------------------
# Schedules

SCHEDULE_PAGE = """\
---
title: Reading Group
permalink: /reading-group/
---

The reading group meets at the lab.

## Schedule

For the Winter 2025 semester, we meet on **Fridays at 1PM**. All times are in ET.

| **Date @ Time** | **Speaker(s)** | **Topic** | **More Information** |
|---|---|---|---|
| Jan 17th @ 3PM | Group Discussion | Roundtable: What Is New | [click here]({% link _posts/rg/2025-01-17-rt.md %}) |
| **Tuesday** Jan. 21 @ **10:00** | Prof. Ana Sandoval | Ducks | [click here]({% link _posts/rg/2025-01-21-ana.md  %})
| January 31st @ 1PM | Jo Berg and Lea Novak | *TBA* | *TBA* |
| February 7th @ 1PM | TBD | TBD | |
| February 14th @ 1PM | Oskar Lindqvist | Talk cancelled | |
| February 21st | Reading week: no meeting | | |
| February 28th @ 1:00 PM -- 3:00 PM | Poster presentations for the course | Student projects | |
| March 3rd to 7th | **NAACL 2025** | | |
| Talks for the 10th and 17th move to April due to the conference |
| March 21st @ 1PM | Group Discussion Led by Priya Raman | Reviewing | [here]({% link _posts/rg/2025-03-21-rt.md %}) |
| March 28th @ 1PM | Intern Presentations | *TBA* | *TBA* |
| April 4th @ 1PM | Ines Haddad | Maps That Forget | |

## History

Older notes.
"""


def test_schedule_page():
    info = parse_schedule(SCHEDULE_PAGE, source="_pages/reading-group@abc1234.md")
    assert (info.semester, info.name) == ("winter-2025", "Winter 2025")
    assert info.intro_md == "For the Winter 2025 semester, we meet on **Fridays at 1PM**. All times are in ET."
    rows = [(r.kind, r.local_date, r.local_time, r.speakers, r.title, r.post_key) for r in info.rows]
    assert rows == [
        ("talk", date(2025, 1, 17), time(15, 0), [], "Roundtable: What Is New", "2025-01-17-rt.md"),
        ("talk", date(2025, 1, 21), time(10, 0), ["Ana Sandoval"], "Ducks", "2025-01-21-ana.md"),
        ("tbd", date(2025, 1, 31), time(13, 0), ["Jo Berg", "Lea Novak"], None, None),
        ("tbd", date(2025, 2, 7), time(13, 0), [], None, None),
        ("cancelled", date(2025, 2, 14), time(13, 0), ["Oskar Lindqvist"], "Talk cancelled", None),
        ("break", date(2025, 2, 21), None, [], None, None),
        ("note", date(2025, 2, 28), time(13, 0), [], None, None),
        ("conference", date(2025, 3, 3), None, [], None, None),
        ("conference", None, None, [], None, None),
        ("talk", date(2025, 3, 21), time(13, 0), ["Priya Raman"], "Reviewing", "2025-03-21-rt.md"),
        ("tbd", date(2025, 3, 28), time(13, 0), [], "Intern Presentations", None),
        ("talk", date(2025, 4, 4), time(13, 0), ["Ines Haddad"], "Maps That Forget", None),
    ]
    assert info.rows[6].end_time == time(15, 0)
    assert info.rows[5].text == "February 21st — Reading week: no meeting"
    assert info.rows[7].text == "March 3rd to 7th — NAACL 2025"
    assert info.rows[0].text == "Jan 17th @ 3PM — Group Discussion — Roundtable: What Is New"


def test_schedule_archive_post_takes_the_semester_from_its_title():
    text = (
        "---\ntitle: Spring 2025\ncategories:\n    - Reading-Group\n    - Archive\n---\n\n"
        "We met on Mondays.\n\n| Date | Speaker | Topic |\n|---|---|---|\n| May 5th @ 11:00 | Jo Berg | Maps |\n"
    )
    info = parse_schedule(text, source="_posts/reading-group/archive/2025-05-01-spring-2025.md")
    assert (info.semester, info.name, info.intro_md) == ("spring-2025", "Spring 2025", "We met on Mondays.")
    assert [(r.kind, r.local_date, r.local_time) for r in info.rows] == [("talk", date(2025, 5, 5), time(11, 0))]


def test_schedule_intro_with_liquid_is_dropped():
    text = (
        "For the Fall 2024 semester, see [here]({% link x.md %}).\n\n| A | B | C |\n|---|---|---|\n| Sep 6 | Jo | T |\n"
    )
    assert parse_schedule(text, source="page.md").intro_md is None


def test_schedule_without_a_table_is_not_a_schedule():
    with pytest.raises(NotATalk, match="no schedule table"):
        parse_schedule("---\ntitle: Reading Group\n---\n\n## History\n\nWords.\n", source="_pages/rg.md")


def test_schedule_without_a_semester_is_an_error():
    with pytest.raises(PostError, match="semester"):
        parse_schedule("| A | B |\n|---|---|\n| x | y |\n", source="_pages/rg.md")


# ---------------------------------------------------------------------------------------
# Spot checks against two real posts (read only; the full corpus walk is elsewhere)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not available")
def test_corpus_spot_check_boyuan_zheng_date_disagreement():
    path = CORPUS / "_posts/reading-group/fall-2024/2024-11-07-boyuan-zheng.md"
    info = parse(path.read_text(encoding="utf-8"), source="_posts/reading-group/fall-2024/2024-11-07-boyuan-zheng.md")
    assert info.starts_at.isoformat() == "2024-11-08T11:30:00-05:00"
    assert (info.room, info.online_platform) == ("A14", "Zoom")
    assert len(info.warnings) == 1 and "using the post's date" in info.warnings[0]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not available")
def test_corpus_spot_check_history_placeholder():
    rel = "_history/_posts/reading-group/summer-2024/2024-05-20-tianbao-xie@b688258.md"
    info = parse((CORPUS / rel).read_text(encoding="utf-8"), source=rel)
    assert info.source_key == "2024-05-20-tianbao-xie.md"
    assert info.time_known is False
    assert info.starts_at.date() == date(2024, 5, 20)
    assert [s.name for s in info.speakers] == ["Tianbao Xie"]


@pytest.mark.parametrize(
    ("source", "key"),
    [
        ("_history/_posts/rg/summer-2024/2024-05-20-someone@b688258.md", "2024-05-20-someone.md"),
        ("2024-11-1-someone.md", "2024-11-1-someone.md"),
        ("C:\\site\\_posts\\2024-11-01-someone@0123abcd.markdown", "2024-11-01-someone.markdown"),
        ("someone@example.md", "someone@example.md"),  # not a commit: kept
    ],
)
def test_source_key_of(source, key):
    assert source_key_of(source) == key


# ---------------------------------------------------------------------------------------
# Hostile posts: every one is refused with a reason, before it costs time or memory


def alias_bomb(levels: int, width: int = 9) -> str:
    """Front matter whose last anchor expands to width**levels names, in a few hundred bytes."""
    lines = ["---", 'title: "Many Sheep"', "categories: [Reading-Group, Winter-2025]"]
    previous = None
    for level in range(levels):
        name = f"l{level}"
        items = ", ".join([f"*{previous}" if previous else "Sheep"] * width)
        lines.append(f"{name}: &{name} [{items}]")
        previous = name
    lines += [f"names: *{previous}", "---", "", logistics()]
    return "\n".join(lines)


@pytest.mark.parametrize("levels", [5, 6])
def test_an_alias_bomb_is_refused_before_it_expands(levels):
    text = alias_bomb(levels)
    assert len(text.encode()) < 1024
    with pytest.raises(PostError, match="front matter uses YAML aliases that expand too far"):
        parse(text)


def test_aliases_a_real_post_might_use_still_work():
    text = make_post(extra_front="room: &where B12\nalso: *where\nnames2: &n [Ana Sandoval]\nnames3: *n")
    assert parse(text).title == "Counting Sheep with Transformers"


def test_an_alias_to_the_value_that_holds_it_is_refused():
    text = make_post(extra_front="loop: &loop [a, *loop]")
    with pytest.raises(PostError, match="alias"):
        parse(text)


@pytest.mark.parametrize(
    "nested",
    [
        "deep: " + "{a: " * 1000 + "1" + "}" * 1000,
        "deep: " + "[" * 1000 + "]" * 1000,
        # Indented block maps a thousand deep would pass the size bound first: a hundred will do.
        "deep:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(100)) + " " * 101 + "end",
    ],
    ids=["flow-maps", "flow-lists", "block-maps"],
)
def test_front_matter_nested_too_deep_is_refused(nested):
    with pytest.raises(PostError, match=r"front matter is nested more than \d+ levels deep"):
        parse(make_post(extra_front=nested))


def test_aliases_cannot_stack_nesting_past_the_bound():
    # Each anchor is shallow, but each one holds the one before: 30 anchors, 30 levels.
    lines = ["l0: &l0 [x]"] + [f"l{i}: &l{i} [*l{i - 1}]" for i in range(1, 30)] + ["deep: [[[*l29]]]"]
    with pytest.raises(PostError, match="nested more than"):
        parse(make_post(extra_front="\n".join(lines)))


def test_front_matter_larger_than_the_bound_is_refused():
    filler = "\n".join(f"note{i}: {'sheep ' * 20}" for i in range(600))
    with pytest.raises(PostError, match=r"front matter is larger than \d+ KB"):
        parse(make_post(extra_front=filler))


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ("date: 2025-13-45", "front matter has a value that cannot be read"),
        ("number: " + "9" * 5000, "front matter has a value that cannot be read"),
    ],
)
def test_front_matter_values_python_cannot_build_are_post_errors(extra, reason):
    with pytest.raises(PostError, match=reason):
        parse(make_post(extra_front=extra))


def test_thousands_of_speakers_are_refused():
    names = ", ".join(f"Speaker Number{i}" for i in range(2000))
    with pytest.raises(PostError, match=r"names 2000 speakers; a talk has at most \d+"):
        parse(make_post(names=names))


@pytest.mark.parametrize(
    ("post", "reason"),
    [
        (make_post(title="Sheep " * 1_000), r"the title is longer than \d+ characters"),
        (make_post(title="Sheep " * 20_000), r"front matter is larger than \d+ KB"),
        (make_post(names="Mira " + "Kowalczyk" * 100), r"a speaker's name is longer than \d+ characters"),
        (make_post(venue="Lakeside " * 100), r"the venue is longer than \d+ characters"),
    ],
)
def test_oversized_talk_fields_are_refused(post, reason):
    with pytest.raises(PostError, match=reason):
        parse(post)


@pytest.mark.parametrize(("char", "shown"), [("\x00", "U+0000"), ("\x07", "U+0007"), ("\x1b", "U+001B")])
def test_control_characters_are_refused_with_their_line(char, shown):
    text = make_post(DEFAULT_BODY.replace("hard to count", f"hard{char} to count"))
    line = text[: text.index(char)].count("\n") + 1
    with pytest.raises(PostError, match=re.escape(f"control character {shown} on line {line}")) as caught:
        parse(text)
    assert "nothing was imported" in str(caught.value)


def test_tabs_and_line_ends_are_not_control_characters_here():
    assert parse(make_post().replace("Sheep are", "Sheep\tare").replace("\n", "\r\n")).title


def test_a_schedule_page_with_an_alias_bomb_is_refused():
    page = alias_bomb(6).replace("names:", "rows:") + "\n| Date | Speaker |\n|--|--|\n| Jan 5 | A |\n"
    with pytest.raises(PostError, match="expand too far"):
        parse_schedule(page, source="_pages/reading-group.md")


def test_a_schedule_page_with_a_nul_byte_is_refused():
    with pytest.raises(PostError, match="control character U\\+0000"):
        parse_schedule("# Winter 2025 semester\n\n| Date |\n|--|\n| Jan\x00 5 |\n", source="_pages/rg.md")
