"""The importer on the real corpus (../shared/corpus/mcgill) and on posts written here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from extensions import db
from models import EntryKind, Room, ScheduleEntry, Semester, Talk
from tests.conftest import CORPUS, skip_or_fail
from tests.services.corpus_expected import EXPECTED, HISTORY, RENAMED_TO, SCHEDULE_EXPECTED, SKIPPED

POSTS = CORPUS / "_posts"


@pytest.fixture(autouse=True)
def _corpus_present() -> None:
    if not POSTS.is_dir():
        skip_or_fail(f"the corpus is not at {CORPUS}")


def run_import(runner: FlaskCliRunner, *args: str) -> Result:
    return runner.invoke(args=["import-talks", *args])


def dry_run(runner: FlaskCliRunner, *paths: Path | str) -> tuple[list[dict[str, Any]], Result]:
    result = run_import(runner, "--dry-run", "--json", *map(str, paths))
    return json.loads(result.stdout), result


def relative(source: str) -> str:
    return Path(source).resolve().relative_to(CORPUS.resolve()).as_posix()


def facts(item: dict[str, Any]) -> dict[str, Any]:
    return {key: item[key] for key in ("speakers", "affiliation", "starts_at", "room", "online_platform", "semester")}


def talk_count() -> int:
    return db.session.scalar(select(func.count(Talk.id))) or 0


# The whole corpus -------------------------------------------------------------------------


def test_every_post_in_the_corpus_imports_with_the_right_facts(runner: FlaskCliRunner) -> None:
    talks, result = dry_run(runner, POSTS)
    assert result.exit_code == 0, result.stderr
    by_path = {relative(item["source"]): item for item in talks}
    assert set(by_path) == set(EXPECTED)
    wrong = {
        path: (facts(by_path[path]), expected)
        for path, expected in EXPECTED.items()
        if facts(by_path[path]) != expected
    }
    assert wrong == {}
    for path in SKIPPED:
        assert f"skipped   {CORPUS / path}" in result.stderr


def test_the_seed_post_reads_exactly_as_the_contract_says(runner: FlaskCliRunner) -> None:
    post = POSTS / "reading-group/summer-2024/2024-07-29-ivan-vulic.md"
    (item,), _ = dry_run(runner, post)
    assert item == {
        "source": str(post),
        "slug": "2024-07-29-ivan-vulic",
        "title": "Balancing between Efficiencies, Modularity, and Performance of (L)LMs",
        "speakers": ["Ivan Vulić"],
        "affiliation": "University of Cambridge and PolyAI",
        "starts_at": "2024-07-29T11:00:00-04:00",
        "ends_at": "2024-07-29T12:00:00-04:00",
        "timezone": "America/Montreal",
        "room": "Auditorium 1",
        "online_platform": "Zoom",
        "semester": "summer-2024",
        "warnings": [],
    }


def test_a_dry_run_writes_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    talks, result = dry_run(runner, POSTS)
    assert len(talks) == len(EXPECTED)
    assert "Dry run, nothing written" in result.stderr
    with app.app_context():
        assert talk_count() == 0


def test_history_posts_read_as_they_were(runner: FlaskCliRunner) -> None:
    talks, result = dry_run(runner, *(CORPUS / path for path in HISTORY))
    assert result.exit_code == 0, result.stderr
    by_path = {relative(item["source"]): item for item in talks}
    for path, expected in HISTORY.items():
        if expected["starts_at"] is None:  # a placeholder with no time: only the day is known
            assert by_path[path]["starts_at"].startswith(Path(path).name[:10])
            expected = {**expected, "starts_at": by_path[path]["starts_at"]}
            assert by_path[path]["room"] is None
            continue
        assert facts(by_path[path]) == expected, path


def test_a_date_that_disagrees_with_the_file_name_warns(runner: FlaskCliRunner) -> None:
    post = POSTS / "reading-group/fall-2024/2024-11-07-boyuan-zheng.md"
    (item,), _ = dry_run(runner, post)
    assert item["starts_at"].startswith("2024-11-08")
    assert any("2024-11-07" in warning and "2024-11-08" in warning for warning in item["warnings"])


def test_importing_the_tree_twice_changes_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    first = run_import(runner, str(POSTS))
    assert first.exit_code == 0, first.stderr
    assert first.stderr.count("imported  ") == len(EXPECTED)
    with app.app_context():
        slugs = set(db.session.scalars(select(Talk.slug)))
    second = run_import(runner, str(POSTS))
    assert second.exit_code == 0
    assert second.stderr.count("unchanged ") == len(EXPECTED)
    assert "imported  " not in second.stderr and "updated   " not in second.stderr
    with app.app_context():
        assert set(db.session.scalars(select(Talk.slug))) == slugs


def test_the_site_root_skips_what_is_not_a_post_with_a_reason(runner: FlaskCliRunner) -> None:
    talks, result = dry_run(runner, CORPUS)
    assert result.exit_code == 0, result.stderr
    assert len(talks) == len(EXPECTED), "older versions in _history are not part of the tree"
    for line in result.stderr.splitlines():
        if line.startswith("skipped"):
            assert "(" in line and line.endswith(")"), f"a skip says why: {line}"
    assert "_history" in result.stderr and "older version" in result.stderr
    assert "_config.yml" in result.stderr


@pytest.mark.parametrize("history", sorted(RENAMED_TO))
def test_a_renamed_post_updates_the_same_talk_and_keeps_its_slug(
    app: Flask, runner: FlaskCliRunner, history: str
) -> None:
    first = run_import(runner, str(CORPUS / history))
    assert first.exit_code == 0, first.stderr
    with app.app_context():
        (old_slug,) = db.session.scalars(select(Talk.slug))
    result = run_import(runner, str(POSTS))
    assert result.exit_code == 0, result.stderr
    current = RENAMED_TO[history]
    with app.app_context():
        assert talk_count() == len(EXPECTED), "no second talk for the renamed post"
        talk = db.session.scalars(select(Talk).where(Talk.slug == old_slug)).one()
        assert talk.source_key == Path(current).name
        assert talk.starts_at.isoformat() == _utc(EXPECTED[current]["starts_at"])
        assert talk.speaker_names == EXPECTED[current]["speakers"]


def _utc(iso: str) -> str:
    from datetime import UTC, datetime

    return datetime.fromisoformat(iso).astimezone(UTC).isoformat()


# Posts written here -----------------------------------------------------------------------

GOOD_POST = """---
title: "Counting Clouds with Language Models"
venue: Université Exemple
names: Prof. Alma Reyes and Dr. Jonah Whitfield
categories:
    - Reading-Group
    - Fall-2030
---

*{{ page.names }}*

**{{ page.venue }}**

{% include display-publication-links.html pub=page %}

The [reading group]({% link _pages/reading-group.md %}) welcomes two speakers.
<img src="/assets/images/clouds.png" alt="clouds">

## Talk Description

Clouds are hard to count. <script>alert("no")</script>

## Speaker Bio

Both speakers study the weather.

## Logistics

Date: October 4th<br>
Time: 2:30PM <br>
Location: Room 101 or via Zoom (See email)
"""


def write_post(folder: Path, name: str, text: str = GOOD_POST) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_a_changed_post_updates_its_talk(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    post = write_post(tmp_path / "fall-2030", "2030-10-04-alma-reyes.md")
    assert "imported" in run_import(runner, str(post)).stderr
    post.write_text(GOOD_POST.replace("Time: 2:30PM", "Time: 3PM"))
    result = run_import(runner, str(post))
    assert "updated   " in result.stderr
    with app.app_context():
        talk = db.session.scalars(select(Talk)).one()
        assert talk.starts_at.isoformat() == "2030-10-04T19:00:00+00:00"
        assert talk.sequence == 1, "a new time is a change that matters to attendees"


def test_one_broken_file_fails_alone_and_leaves_nothing_half_written(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "fall-2030"
    write_post(folder, "2030-10-04-alma-reyes.md")
    write_post(folder, "2030-10-11-broken.md", "---\ntitle: [unclosed\n---\nbody")
    write_post(folder, "no-date-anywhere.md", GOOD_POST.replace("Date: October 4th<br>\n", ""))
    result = run_import(runner, str(folder))
    assert result.exit_code == 1
    assert "failed    " + str(folder / "2030-10-11-broken.md") in result.stderr
    assert "failed    " + str(folder / "no-date-anywhere.md") in result.stderr
    assert "imported  " + str(folder / "2030-10-04-alma-reyes.md") in result.stderr
    with app.app_context():
        talks = db.session.scalars(select(Talk)).all()
        assert [t.source_key for t in talks] == ["2030-10-04-alma-reyes.md"]
        assert len(talks[0].parts) == 1 and talks[0].parts[0].abstract_md


def test_site_relative_images_resolve_against_the_old_site(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    post = write_post(tmp_path / "fall-2030", "2030-10-04-alma-reyes.md")
    (item,), _ = dry_run(runner, "--site-url", "https://old.example.org/", post)
    assert run_import(runner, "--site-url", "https://old.example.org", str(post)).exit_code == 0
    with app.app_context():
        talk = db.session.scalars(select(Talk)).one()
        assert 'src="https://old.example.org/assets/images/clouds.png"' in talk.intro_md
        assert "](/semesters)" in talk.intro_md, "{% link %} points at Lectern's own schedule"
    assert item["speakers"] == ["Alma Reyes", "Jonah Whitfield"]


def test_imported_page_shows_the_post_without_jekyll_noise(
    app: Flask, runner: FlaskCliRunner, client, tmp_path: Path
) -> None:
    post = write_post(tmp_path / "fall-2030", "2030-10-04-alma-reyes.md")
    run_import(runner, str(post))
    page = client.get("/talks/2030-10-04-alma-reyes").get_data(as_text=True)
    assert "Clouds are hard to count." in page
    assert "<script>alert" not in page
    assert "{{" not in page and "{%" not in page and "(See email)" not in page
    assert "<dt>Where</dt><dd>101" in page, "'Room 101' and '101' name one room"
    assert "2:30 PM – 3:30 PM EDT" in page


# Schedules ------------------------------------------------------------------------------


def test_schedule_pages_put_every_row_on_the_semester(app: Flask, runner: FlaskCliRunner) -> None:
    assert run_import(runner, str(POSTS)).exit_code == 0
    for path, expected in SCHEDULE_EXPECTED.items():
        result = run_import(runner, "--schedule", "--json", str(CORPUS / path))
        (report,) = json.loads(result.stdout)
        if expected["semester"] is None:
            assert report["outcome"] == "skipped", path
            continue
        assert report["semester"] == expected["semester"], path
        expected_other = sorted((r["kind"], r["date"]) for r in expected["unlinked"] if r["kind"] != "tbd")
        got_other = sorted((e["kind"], e["date"]) for e in report["entries"] if e["kind"] != "tbd")
        assert got_other == expected_other, path
        # A "to be announced" row may name a speaker whose talk exists by now: it then links that talk.
        expected_tbd = sum(1 for r in expected["unlinked"] if r["kind"] == "tbd")
        got_tbd = sum(1 for e in report["entries"] if e["kind"] == "tbd")
        assert report["linked"] + got_tbd == expected["linked"] + expected_tbd, path
        assert report["linked"] >= expected["linked"], path
        with app.app_context():
            semester = db.session.scalars(select(Semester).where(Semester.slug == expected["semester"])).one()
            assert len(semester.entries) == len(report["entries"]), "a newer page replaces the semester's entries"


def test_semester_page_shows_the_imported_schedule(app: Flask, runner: FlaskCliRunner, client) -> None:
    run_import(runner, str(POSTS))
    run_import(runner, "--schedule", str(CORPUS / "_posts/reading-group/archive/2024-09-01-fall-2024.md"))
    page = client.get("/semesters/fall-2024").get_data(as_text=True)
    assert page.count('class="schedule-row') == 9 + 3
    with app.app_context():
        kinds = {e.kind for e in db.session.scalars(select(ScheduleEntry))}
    assert EntryKind.CONFERENCE in kinds
    assert "Conference" in page


def test_a_schedule_row_that_disagrees_with_its_post_warns(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    run_import(runner, str(POSTS))
    page = tmp_path / "schedule.md"
    source = (CORPUS / "_posts/reading-group/archive/2024-09-01-fall-2024.md").read_text()
    page.write_text(source)
    result = run_import(runner, "--schedule", str(page))
    assert "keeping the post's" in result.stderr, "Tu Vu: the schedule says 11:00, the post 11:30"


def test_a_single_file_never_takes_over_another_talk_by_the_same_speakers(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    first = write_post(tmp_path / "fall-2030", "2030-10-04-alma-reyes.md")
    second = write_post(
        tmp_path / "fall-2030",
        "2030-11-08-alma-reyes-again.md",
        GOOD_POST.replace("Counting Clouds", "Counting Rain").replace("October 4th", "November 8th"),
    )
    run_import(runner, str(first))
    result = run_import(runner, str(second))
    assert "imported  " in result.stderr and "renamed" not in result.stderr
    with app.app_context():
        assert sorted(db.session.scalars(select(Talk.title))) == [
            "Counting Clouds with Language Models",
            "Counting Rain with Language Models",
        ]


def test_a_reimported_post_that_moved_tells_the_people_signed_up(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from models import TalkStatus
    from services import signups

    post = write_post(tmp_path / "fall-2030", "2030-10-04-alma-reyes.md")
    run_import(runner, str(post))
    with app.app_context():
        talk = db.session.scalars(select(Talk)).one()
        signups.sign_up(db.session, talk.id, name="Kim", email="kim@example.org", mode="online", now=datetime.now(UTC))
        db.session.commit()
    mail = app.extensions["lectern.mailer"].outbox
    mail.clear()
    post.write_text(GOOD_POST.replace("Time: 2:30PM", "Time: 4PM"))
    result = run_import(runner, str(post))
    assert "people signed up are told" in result.stderr
    assert [m["Subject"] for m in mail if m["To"].endswith("<kim@example.org>")] == [
        "Changed: “Counting Clouds with Language Models”"
    ]
    with app.app_context():
        talk = db.session.scalars(select(Talk)).one()
        talk.status = TalkStatus.CANCELLED
        db.session.commit()
    post.write_text(GOOD_POST.replace("Time: 2:30PM", "Time: 5PM"))
    run_import(runner, str(post))
    with app.app_context():
        assert db.session.scalars(select(Talk)).one().status == TalkStatus.CANCELLED, "the cancellation stays"


# Hostile posts ----------------------------------------------------------------------------

DEEP_POST = "---\ntitle: Deep\nnames: " + "{a: " * 1000 + "b" + "}" * 1000 + "\n---\n\nText.\n"


def test_a_post_nested_a_thousand_deep_fails_alone_and_the_next_file_imports(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "fall-2030"
    deep = write_post(folder, "2030-10-01-deep.md", DEEP_POST)
    good = write_post(folder, "2030-10-04-alma-reyes.md")
    result = run_import(runner, str(folder))
    assert result.exit_code == 1
    assert f"failed    {deep} (front matter is nested more than" in result.stderr
    assert f"imported  {good}" in result.stderr
    with app.app_context():
        assert [t.source_key for t in db.session.scalars(select(Talk))] == ["2030-10-04-alma-reyes.md"]


def test_an_alias_bomb_fails_and_the_next_file_imports(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    from tests.services.test_jekyll import alias_bomb

    folder = tmp_path / "fall-2030"
    bomb = write_post(folder, "2030-10-01-bomb.md", alias_bomb(6))
    good = write_post(folder, "2030-10-04-alma-reyes.md")
    result = run_import(runner, str(folder))
    assert result.exit_code == 1
    assert f"failed    {bomb} (front matter uses YAML aliases that expand too far" in result.stderr
    assert f"imported  {good}" in result.stderr


def test_a_file_larger_than_a_post_can_be_fails_unread(runner: FlaskCliRunner, tmp_path: Path) -> None:
    huge = write_post(tmp_path, "2030-10-01-huge.md", GOOD_POST + "Sheep. " * 200_000)
    result = run_import(runner, str(huge))
    assert result.exit_code == 1
    assert f"failed    {huge} (the file is larger than 1024 KB" in result.stderr


def test_a_nul_byte_never_reaches_the_database(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    post = write_post(tmp_path / "fall-2030", "2030-10-04-alma-reyes.md", GOOD_POST.replace("hard to", "hard\x00 to"))
    result = run_import(runner, str(post))
    assert result.exit_code == 1
    assert "control character U+0000 on line" in result.stderr
    with app.app_context():
        assert talk_count() == 0


def test_a_schedule_page_nested_a_thousand_deep_fails_alone(runner: FlaskCliRunner, tmp_path: Path) -> None:
    page = write_post(tmp_path, "schedule.md", DEEP_POST.replace("title: Deep", "title: Winter 2031"))
    result = run_import(runner, "--schedule", str(page))
    assert result.exit_code == 1
    assert f"failed    {page} (front matter is nested more than" in result.stderr


def test_a_post_that_breaks_the_parser_in_a_way_no_rule_foresaw_fails_alone(
    runner: FlaskCliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services import jekyll

    real_parse = jekyll.parse_post

    def parse_or_break(text: str, **kwargs: Any) -> jekyll.PostInfo:
        if "odd" in kwargs["source"]:
            raise RecursionError("maximum recursion depth exceeded")
        return real_parse(text, **kwargs)

    monkeypatch.setattr(jekyll, "parse_post", parse_or_break)
    folder = tmp_path / "fall-2030"
    odd = write_post(folder, "2030-10-01-odd.md")
    good = write_post(folder, "2030-10-04-alma-reyes.md")
    result = run_import(runner, str(folder))
    assert result.exit_code == 1
    assert f"failed    {odd} (could not be read: an unexpected error" in result.stderr
    assert f"imported  {good}" in result.stderr


# Rooms in location phrases the corpus does not show ------------------------------------------

LATER_SEMESTER = Path(__file__).parent / "fixtures" / "winter-2031"
# file -> (room, online platform); each post phrases its Location its own way.
LATER_PLACES = {
    "2031-01-10-odile-brassard.md": ("K17", "Zoom"),  # building, street address, then the room
    "2031-01-17-tavita-moana.md": ("Auditorium 4", "Zoom"),  # online, screencast in a room
    "2031-01-24-group-discussion.md": ("Atrium", None),  # a room named in passing
    "2031-01-31-rene-aubertin.md": ("2215", "Microsoft Teams"),  # "salle 2215", in French
    "2031-02-07-ingrid-solberg.md": ("C-210", "Google Meet"),  # "Hybrid: Seminar Room C-210 and ..."
    "2031-02-14-kwame-asante.md": ("Lecture Hall 3", "YouTube"),  # streamed, watch party in a hall
    "2031-02-21-lucia-ferraro.md": ("B-118", "Webex"),  # "Rm. B-118 (second floor)"
    "2031-02-28-yusuf-demir.md": ("Reading Lounge", "Online"),  # "Join us in the Reading Lounge, ..."
    "2031-03-07-margaux-lefevre.md": ("Amphithéâtre 1", "Zoom"),  # "Amphithéâtre 1 du pavillon ..."
    "2031-03-14-hana-kobayashi.md": (None, None),  # a long phrase naming no room: warned about
}


def test_each_location_phrasing_gives_the_room_and_keeps_the_platform_apart(runner: FlaskCliRunner) -> None:
    talks, result = dry_run(runner, LATER_SEMESTER)
    assert result.exit_code == 0, result.stderr
    got = {Path(item["source"]).name: (item["room"], item["online_platform"]) for item in talks}
    assert got == LATER_PLACES


def test_a_long_location_naming_no_room_is_warned_about_and_sets_no_room(app: Flask, runner: FlaskCliRunner) -> None:
    post = LATER_SEMESTER / "2031-03-14-hana-kobayashi.md"
    (item,), result = dry_run(runner, post)
    (warning,) = item["warnings"]
    assert "'the usual place near the big window upstairs'" in warning
    assert "no room" in warning and "organizer should set it" in warning
    assert f"warning: {warning}" in result.stderr
    assert run_import(runner, str(post)).exit_code == 0
    with app.app_context():
        assert db.session.scalars(select(Talk)).one().room is None
        assert db.session.scalar(select(func.count(Room.id))) == 0, "the phrase never becomes a room"


def add_rooms(app: Flask, *names: str) -> None:
    from services import talks

    with app.app_context():
        series = talks.configured_series(db.session, app.config)
        db.session.add_all(Room(series=series, name=name, directions="") for name in names)
        db.session.commit()


def test_a_room_the_series_knows_is_found_anywhere_in_the_line_longest_first(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    add_rooms(app, "Room K17", "Studio", "Studio B", "Window Seat", "Zoom")
    folder = tmp_path / "fall-2030"
    lines = {
        "2030-10-04-a.md": "Lakeside Institute, 1200 rue des Érables, k17 or via Zoom",  # "Room K17" = "K17"
        "2030-10-04-b.md": "Upstairs in studio b, with coffee, and on Zoom",  # "Studio B" over "Studio"
        "2030-10-04-c.md": "the usual place near the big window seat upstairs",  # a known room in passing
        "2030-10-04-d.md": "Online on Zoom only",  # a room called Zoom is no place to walk to
    }
    for name, where in lines.items():
        write_post(folder, name, GOOD_POST.replace("Location: Room 101 or via Zoom (See email)", f"Location: {where}"))
    talks, result = dry_run(runner, folder)
    assert result.exit_code == 0, result.stderr
    got = {Path(item["source"]).name: (item["room"], item["online_platform"], item["warnings"]) for item in talks}
    assert got == {
        "2030-10-04-a.md": ("Room K17", "Zoom", []),
        "2030-10-04-b.md": ("Studio B", "Zoom", []),
        "2030-10-04-c.md": ("Window Seat", None, []),
        "2030-10-04-d.md": (None, "Zoom", []),
    }


def test_a_room_read_from_one_post_is_known_to_the_next(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "fall-2030"
    first = "Location: Hybrid: Seminar Room C-210 and Google Meet"
    later = "Location: As last time, upstairs at c-210 beside the kitchen"
    write_post(folder, "2030-10-04-a.md", GOOD_POST.replace("Location: Room 101 or via Zoom (See email)", first))
    write_post(folder, "2030-10-04-b.md", GOOD_POST.replace("Location: Room 101 or via Zoom (See email)", later))
    assert run_import(runner, str(folder)).exit_code == 0
    with app.app_context():
        assert [t.room.name for t in db.session.scalars(select(Talk).order_by(Talk.starts_at))] == ["C-210", "C-210"]
