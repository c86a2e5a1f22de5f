"""Reading other groups' sites: the test sites under fixtures/<dialect>/ (fictional, written for
these tests, each with an expected.yaml read by hand) and the pieces the readers share."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from extensions import db
from models import Talk
from services import talks as talk_service
from services.importer import FileReport, Importer, ImportSettings
from services.site_import.detect import HUGO, JEKYLL_COLLECTION, JEKYLL_POST, WOWCHEMY_EVENT, dialect_of
from services.site_import.front_matter import split_front_matter
from services.site_import.labels import take_labels
from services.site_import.limits import NotATalk, PostError
from services.site_import.pages import ReadContext, read_page
from services.site_import.reading import assign_keys, page_key
from services.site_import.speakers import parse_speakers
from services.site_import.titles import is_boilerplate, quoted_title, without_speaker_names
from services.site_import.when import find_month_day, read_front_datetime, read_front_time

FIXTURES = Path(__file__).parent / "fixtures"
SITES = ["jekyll-collection", "hugo-yaml", "hugo-toml", "wowchemy"]
TZ = ZoneInfo("America/Montreal")
FACTS = {"start", "title", "speakers"}


def dry_run_site(app: Flask, folder: Path, **settings: Any) -> list[FileReport]:
    with app.app_context():
        series = talk_service.configured_series(db.session, app.config)
        db.session.flush()
        reports = Importer(db.session, series, ImportSettings(**settings)).import_posts([folder])
        db.session.rollback()
    return reports


def relative(report: FileReport, folder: Path) -> str:
    return Path(report.source).resolve().relative_to(folder.resolve()).as_posix()


# The test sites ------------------------------------------------------------------------------


@pytest.mark.parametrize("site", SITES)
def test_every_talk_of_each_test_site_reads_as_expected(app: Flask, site: str) -> None:
    folder = FIXTURES / site
    expected = yaml.safe_load((folder / "expected.yaml").read_text(encoding="utf-8"))
    reports = {relative(r, folder): r for r in dry_run_site(app, folder)}
    assert not [r.line() for r in reports.values() if r.failed]
    for path, want in expected["talks"].items():
        report = reports[path]
        assert report.talk is not None, report.line()
        placeholder = any("placeholder" in w for w in report.warnings)
        got = {
            "title": report.talk["title"],
            "speakers": report.talk["speakers"],
            "affiliations": [s.affiliation for s in report.post.speakers],
            "start": None if placeholder else report.talk["starts_at"],
            "room": report.talk["room"],
            "platform": report.talk["online_platform"],
            "flagged": sorted(report.doubts & FACTS) or None,
        }
        assert got == {**want, "flagged": want.get("flagged")}, path
    for path in expected["skipped"]:
        assert reports[path].outcome == "skipped" and reports[path].reason, path


@pytest.mark.parametrize("site", SITES)
def test_importing_a_test_site_twice_changes_nothing(app: Flask, runner: FlaskCliRunner, site: str) -> None:
    folder = FIXTURES / site
    first = runner.invoke(args=["import-talks", str(folder)])
    assert first.exit_code == 0, first.stderr
    with app.app_context():
        slugs = set(db.session.scalars(select(Talk.slug)))
    second = runner.invoke(args=["import-talks", str(folder)])
    assert second.exit_code == 0
    assert "imported  " not in second.stderr and "updated   " not in second.stderr
    with app.app_context():
        assert set(db.session.scalars(select(Talk.slug))) == slugs


def test_undated_pages_get_addresses_after_their_date(app: Flask, runner: FlaskCliRunner) -> None:
    runner.invoke(args=["import-talks", str(FIXTURES / "jekyll-collection")])
    runner.invoke(args=["import-talks", str(FIXTURES / "hugo-toml")])
    with app.app_context():
        slugs = set(db.session.scalars(select(Talk.slug)))
    assert {"2029-02-06-amara-okafor", "2028-11-14-ruth-adeyemi", "2029-03-08-ibarra", "2029-03-01-aziz"} <= slugs


def test_the_dry_run_json_keeps_its_contract_for_every_format(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["import-talks", "--dry-run", "--json", str(FIXTURES / "hugo-toml")])
    assert result.exit_code == 0, result.stderr
    items = json.loads(result.stdout)
    assert items and all(
        set(item)
        == {"source", "slug", "title", "speakers", "affiliation", "starts_at", "ends_at", "timezone"}
        | {"room", "online_platform", "semester", "warnings"}
        for item in items
    )
    assert "note: Read as a Hugo site." in result.stderr


def test_a_site_time_zone_unlike_the_series_is_noted(app: Flask) -> None:
    with app.app_context():
        series = talk_service.configured_series(db.session, app.config)
        series.timezone = "Europe/Paris"
        db.session.flush()
        importer = Importer(db.session, series)
        importer.import_posts([FIXTURES / "jekyll-collection"])
        db.session.rollback()
    assert any("America/Montreal" in note and "Europe/Paris" in note for note in importer.notes)


def test_a_zone_with_the_same_clock_is_not_noted(app: Flask) -> None:
    with app.app_context():
        series = talk_service.configured_series(db.session, app.config)
        importer = Importer(db.session, series)
        importer.import_posts([FIXTURES / "hugo-yaml"])  # hugo.yaml says America/Toronto
        db.session.rollback()
    assert not any("time zone America/Toronto;" in note for note in importer.notes)


def test_the_format_hint_settles_what_the_file_leaves_open(runner: FlaskCliRunner, tmp_path: Path) -> None:
    # A Wowchemy event whose front matter has none of the theme's own keys, out of its site.
    page = tmp_path / "pages" / "clicks.md"
    page.parent.mkdir()
    page.write_text("---\ntitle: Clicks\nauthors: [tomas-varga]\ndate: 2029-05-31T15:00:00-04:00\n---\n\nText.\n")
    auto = runner.invoke(args=["import-talks", "--dry-run", "--json", str(page)])
    hinted = runner.invoke(args=["import-talks", "--dry-run", "--json", "--format", "wowchemy", str(page)])
    assert json.loads(auto.stdout)[0]["speakers"] == []
    assert json.loads(hinted.stdout)[0]["speakers"] == ["Tomas Varga"]


def test_pointing_at_a_content_folder_still_knows_the_site(app: Flask) -> None:
    folder = FIXTURES / "hugo-yaml" / "content" / "seminars"
    reports = {relative(r, folder): r for r in dry_run_site(app, folder)}
    assert reports["unfinished.md"].outcome == "skipped", "hugo.yaml above says Hugo: drafts are skipped"
    assert reports["2029-01-kim/index.md"].dialect == HUGO


# Dialects and keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fmt", "keys", "hint", "dialect"),
    [
        ("site/_posts/2029-01-01-a.md", "yaml", {}, None, JEKYLL_POST),
        ("fall-2030/2030-10-04-a.md", "yaml", {}, None, JEKYLL_POST),
        ("site/_talks/jane-doe.md", "yaml", {}, None, JEKYLL_COLLECTION),
        ("site/_past/2028-11-14-ruth.md", "yaml", {}, None, JEKYLL_COLLECTION),
        ("site/content/seminars/rao.md", "yaml", {}, None, HUGO),
        ("seminars/kim/index.md", "yaml", {}, None, HUGO),
        ("notes/rao.md", "toml", {}, None, HUGO),
        ("notes/rao.md", "yaml", {}, "hugo", HUGO),
        ("site/content/event/x/index.md", "yaml", {"event": "S", "all_day": False}, None, WOWCHEMY_EVENT),
        ("anywhere/x.md", "yaml", {"event_url": "", "date_end": ""}, None, WOWCHEMY_EVENT),
        ("site/content/talk/x/index.md", "toml", {}, None, WOWCHEMY_EVENT),
    ],
)
def test_the_dialect_is_told_from_the_file_and_its_place(path, fmt, keys, hint, dialect):
    assert dialect_of(path, fmt, keys, hint) == dialect


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("site/_posts/2024-05-20-jane.md", "2024-05-20-jane.md"),
        ("site/_posts/reading-group/jane@b688258.md", "jane.md"),
        ("site/_talks/jane-doe.md", "_talks/jane-doe.md"),
        ("site/content/talks/ibarra/index.md", "talks/ibarra.md"),
        ("site/content/talks/2029-03-01-aziz.md", "2029-03-01-aziz.md"),
    ],
)
def test_page_keys(path, key):
    assert page_key(path) == key


def test_keys_that_would_clash_take_another_folder():
    keys = assign_keys(["s/content/2028/spring/jane.md", "s/content/2029/spring/jane.md", "s/content/talks/li.md"])
    assert keys == {
        "s/content/2028/spring/jane.md": "2028/spring/jane.md",
        "s/content/2029/spring/jane.md": "2029/spring/jane.md",
        "s/content/talks/li.md": "talks/li.md",
    }


# Front matter in every format, within bounds ---------------------------------------------------


def test_toml_front_matter_keeps_its_dates_and_tables():
    front = split_front_matter(
        '+++\ntitle = "T"\ndate = 2029-04-02T15:00:00-04:00\n[params]\nspeaker = "A"\n'
        '[[speakers]]\nname = "B"\n+++\nBody.\n'
    )
    assert front.format == "toml" and front.body == "Body.\n"
    assert front.data["date"] == datetime(2029, 4, 2, 15, tzinfo=timezone(timedelta(hours=-4)))
    assert front.data["params"] == {"speaker": "A"} and front.data["speakers"] == [{"name": "B"}]


def test_json_front_matter_ends_where_its_object_closes():
    front = split_front_matter('{\n  "title": "T {braces} in a string",\n  "speaker": "A"\n}\n\nBody.\n')
    assert front.format == "json" and front.data["title"] == "T {braces} in a string"
    assert front.body.strip() == "Body."


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("+++\na = " + "[" * 100 + "]" * 100 + "\n+++\n", "nested more than 32 levels"),
        ("+++\na = " + "{b = " * 40 + "1" + "}" * 40 + "\n+++\n", "nested more than 32 levels"),
        ("+++\n" + "".join(f"k{i} = [{', '.join(['1'] * 10)}]\n" for i in range(1200)) + "+++\n", "too many values"),
        ("+++\nx = '" + "a" * 70_000 + "'\n+++\n", "larger than 64 KB"),
        ('+++\ntitle = "unclosed\n+++\n', "not valid TOML"),
        ("+++\nd = 2029-02-30\n+++\n", "not valid TOML"),
        ("{" + '"a": {' * 100 + "}" * 101 + "\n", "nested more than 32 levels"),
        ('{"title": "never closed"\n\nBody\n', "never closed"),
        ('{"title": tru}\n', "not valid JSON"),
    ],
)
def test_toml_and_json_front_matter_are_held_to_the_yaml_bounds(text, reason):
    with pytest.raises(PostError, match=re.escape(reason)):
        split_front_matter(text)


# Speakers, titles, dates, labels ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Jane Doe", [("Jane Doe", None)]),
        ("Ines Moreau, Tariq Haddad & Li Wei", [("Ines Moreau", None), ("Tariq Haddad", None), ("Li Wei", None)]),
        ("Jane Doe (Lakeside University)", [("Jane Doe", "Lakeside University")]),
        ("Jane Doe, Lakeside University", [("Jane Doe", "Lakeside University")]),
        ("Priya Raman, MIT", [("Priya Raman", "MIT")]),
        ("Jo Berg, Google", [("Jo Berg", "Google")]),
        (
            "Joanna Pike, Brightwater University and Samuel Ortiz (Coastline Labs)",
            [("Joanna Pike", "Brightwater University"), ("Samuel Ortiz", "Coastline Labs")],
        ),
        ("Ivan Petrov, University of Cambridge and PolyAI", [("Ivan Petrov", "University of Cambridge and PolyAI")]),
        (
            "Jane Doe and John Roe, Lakeside University",
            [("Jane Doe", "Lakeside University")] * 1 + [("John Roe", "Lakeside University")],
        ),
        ("Jane Doe, PhD, Associate Professor, University of X", [("Jane Doe", "University of X")]),
        ("Jane Doe, PhD student at Lakeside University", [("Jane Doe", "Lakeside University")]),
        ("Prof. Hannah Weiss - Lakeside University", [("Hannah Weiss", "Lakeside University")]),
        ("Ana, Ben & Chloé", [("Ana", None), ("Ben", None), ("Chloé", None)]),
        ("Maria van der Berg (TU Delft); Kofi Mensah", [("Maria van der Berg", "TU Delft"), ("Kofi Mensah", None)]),
        ("Jane Doe\nJohn Roe (MIT)", [("Jane Doe", None), ("John Roe", "MIT")]),
        ("Group discussion led by Dr. Lea Novak", [("Lea Novak", None)]),
        ("Roundtable discussion", []),
        ("TBD", []),
        (["Ana Sandoval", "Prof. Jo Berg"], [("Ana Sandoval", None), ("Jo Berg", None)]),
        ([{"name": "Jane Doe", "affiliation": "MIT"}], [("Jane Doe", "MIT")]),
        ([{"name": "Jo Kim", "organizations": [{"name": "ACME Labs"}]}], [("Jo Kim", "ACME Labs")]),
        ({"name": "Chidi Okonkwo", "institution": "Savanna Institute"}, [("Chidi Okonkwo", "Savanna Institute")]),
    ],
)
def test_speakers_and_their_affiliations(value, expected):
    assert [(s.name, s.affiliation) for s in parse_speakers(value)] == expected


def test_a_linked_speaker_keeps_the_link():
    (speaker,) = parse_speakers("[Jane Doe](https://jane.example.org) (Lakeside University)")
    assert (speaker.name, speaker.affiliation, speaker.url) == (
        "Jane Doe",
        "Lakeside University",
        "https://jane.example.org",
    )


@pytest.mark.parametrize(
    ("title", "boilerplate"),
    [
        ("Seminar: Jane Doe", True),
        ("Talk by Jane Doe", True),
        ("Jane Doe", True),
        ("Jane Doe (Lakeside University)", True),
        ("Colloquium #12: Jane Doe", True),
        ("Guest Lecture — Jane Doe", True),
        ("Seminar: Counting Sheep", False),
        ("Counting Sheep", False),
        ("NLP Roundtable: DeepSeek", False),
    ],
)
def test_boilerplate_titles_name_only_the_speaker(title, boilerplate):
    assert is_boilerplate(title, parse_speakers("Jane Doe")) is boilerplate


@pytest.mark.parametrize(
    "title",
    [
        "Jane Doe: Counting Sheep",
        "Counting Sheep - Jane Doe",
        "Counting Sheep (Jane Doe)",
        "Counting Sheep, by Jane Doe",
    ],
)
def test_the_speakers_name_is_taken_off_the_title(title):
    assert without_speaker_names(title, parse_speakers("Jane Doe")) == "Counting Sheep"


def test_a_quoted_title_in_prose():
    assert quoted_title('Jane will give a talk titled "Counting Sheep at Night".') == "Counting Sheep at Night"
    assert quoted_title("Jane will talk about sheep.") is None


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("March 6–7, 2029, 9am", date(2029, 3, 6), date(2029, 3, 7)),
        ("March 30 - April 2, 2029", date(2029, 3, 30), date(2029, 4, 2)),
        ("6-7 March 2029", date(2029, 3, 6), date(2029, 3, 7)),
        ("2029-03-06 to 2029-03-08", date(2029, 3, 6), date(2029, 3, 8)),
        ("2029/03/06", date(2029, 3, 6), None),
        ("20.02.2029", date(2029, 2, 20), None),
        ("March 6 - 10 am", date(2029, 3, 6), None),
    ],
)
def test_dates_and_ranges_of_days(text, first, last):
    found = find_month_day(text)
    assert date(found.year or 2029, found.month, found.day) == first
    assert (date(found.last[2] or 2029, found.last[0], found.last[1]) if found.last else None) == last


def test_a_slashed_date_either_way_is_doubtful():
    found = find_month_day("05/03/2029")
    assert (found.month, found.day, found.ambiguous) == (5, 3, True)
    assert find_month_day("14/03/2029").ambiguous is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2029-03-05T15:00:00-05:00", (date(2029, 3, 5), time(15), timezone(timedelta(hours=-5)))),
        ("2029-03-05 15:00:00 -0500", (date(2029, 3, 5), time(15), timezone(timedelta(hours=-5)))),
        ("2029-03-05 15:00", (date(2029, 3, 5), time(15), None)),
        ("2029-03-05", (date(2029, 3, 5), None, None)),
        ("2029-03-05T00:00:00Z", (date(2029, 3, 5), None, UTC)),
        ("Tuesday, March 5, 2029 at 3pm", (date(2029, 3, 5), time(15), None)),
        (datetime(2029, 3, 5, 15, 30), (date(2029, 3, 5), time(15, 30), None)),
        (date(2029, 3, 5), (date(2029, 3, 5), None, None)),
        ("soon", None),
    ],
)
def test_front_matter_dates(value, expected):
    assert read_front_datetime(value) == expected


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [(930, time(15, 30), None), ("3:30 PM", time(15, 30), None), ("15:00-16:30", time(15), time(16, 30))],
)
def test_front_matter_times_including_yaml_sexagesimal(value, start, end):
    clock = read_front_time(value)
    assert (clock.start, clock.end) == (start, end)


def test_labels_tables_and_text_labels():
    body = (
        "Intro.\n\n**Speaker:** Jane Doe (MIT)\n- Where: B-204\nTitle: Counting Sheep\n\n"
        "| | |\n|---|---|\n| **Time** | 3pm |\n| **Slides** | [pdf](https://x.example/s.pdf) |\n\n"
        "Abstract: We count.\n\nBio\n\nJane counts.\n"
    )
    labels, rest = take_labels(body)
    assert labels.values == {
        "speaker": "Jane Doe (MIT)",
        "location": "B-204",
        "title": "Counting Sheep",
        "time": "3pm",
        "slides": "[pdf](https://x.example/s.pdf)",
    }
    assert "**Abstract:** We count." in rest and "## Bio" in rest and "Speaker" not in rest


# One page at a time -----------------------------------------------------------------------------


def read(text: str, site_path: str = "site/content/talks/page.md", dialect: str = HUGO):
    return read_page(text, source=site_path, key=page_key(site_path), dialect=dialect, ctx=ReadContext(tz=TZ))


def test_a_body_time_unlike_the_front_matter_wins_with_a_warning():
    info = read("---\ntitle: T\nspeaker: Jane Doe\ndate: 2029-03-05T15:00:00-05:00\n---\n\nTime: 4pm\n")
    assert info.starts_at == datetime(2029, 3, 5, 16, tzinfo=TZ)
    assert "start" in info.doubts and any("15:00" in w for w in info.warnings)


def test_a_generated_timestamp_is_flagged():
    info = read("---\ntitle: T\nspeaker: Jane Doe\ndate: 2029-03-05T10:31:07-05:00\n---\n\nText.\n")
    assert info.starts_at == datetime(2029, 3, 5, 10, 31, 7, tzinfo=TZ)
    assert "start" in info.doubts and any("seconds" in w for w in info.warnings)


def test_an_offset_is_kept_as_the_instant():
    info = read("+++\ntitle = 'T'\nspeaker = 'Jane Doe'\ndate = 2029-02-22T20:00:00+01:00\n+++\n")
    assert info.starts_at == datetime(2029, 2, 22, 14, tzinfo=TZ) and not info.doubts


def test_a_room_and_a_platform_from_front_matter_and_body_are_kept_apart():
    info = read(
        "---\ntitle: T\nspeaker: Jane Doe\ndate: 2029-03-05T15:00:00-05:00\nlocation: Zoom\n---\n\nWhere: B-204\n"
    )
    assert (info.room, info.online_platform) == ("B-204", "Zoom")


def test_links_from_front_matter_and_the_body():
    info = read(
        "---\ntitle: T\nspeaker: Jane Doe\ndate: 2029-03-05T15:00:00-05:00\nurl_slides: https://s.example/a.pdf\n"
        "links:\n  - name: Recording\n    url: https://v.example/a\n---\n\nPaper: [arXiv](https://arxiv.example/1)\n"
    )
    assert (info.slides_url, info.recording_url, info.paper_url) == (
        "https://s.example/a.pdf",
        "https://v.example/a",
        "https://arxiv.example/1",
    )


def test_a_page_without_a_date_fails_with_the_reason():
    with pytest.raises(PostError, match="no date"):
        read("---\ntitle: T\nspeaker: Jane Doe\n---\n\nWhere: B-204\n")


def test_a_schedule_page_is_not_a_talk():
    rows = "".join(f"| March {d}, 2029 | Speaker {d} | Topic {d} |\n" for d in (1, 8, 15))
    with pytest.raises(NotATalk, match="schedule"):
        read(f"---\ntitle: Schedule\n---\n\n| Date | Speaker | Topic |\n|---|---|---|\n{rows}")


def test_another_groups_jekyll_post_is_read_without_names(app: Flask, tmp_path: Path) -> None:
    post = tmp_path / "_posts" / "2029-03-05-jane-doe.md"
    post.parent.mkdir()
    post.write_text(
        "---\ntitle: 'Seminar: Jane Doe'\nlayout: post\n---\n\n**Title:** Counting Sheep\n\n"
        "**Speaker:** Jane Doe (Lakeside University)\n\n**Time:** 3:30pm\n\n**Where:** B-204 and Zoom\n"
    )
    (report,) = dry_run_site(app, post)
    assert report.dialect == JEKYLL_POST
    assert (report.talk["title"], report.talk["speakers"], report.talk["affiliation"]) == (
        "Counting Sheep",
        ["Jane Doe"],
        "Lakeside University",
    )
    assert report.talk["starts_at"] == "2029-03-05T15:30:00-05:00"
    assert (report.talk["room"], report.talk["online_platform"]) == ("B-204", "Zoom")
