"""Taking the talks back out as Jekyll posts: the group's post shape, schedule pages in its table
format, and a round trip (import, export, import into an empty Lectern) that changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import select

from extensions import db
from models import Talk
from services import site_export
from services import talks as talk_service
from services.importer import Importer
from tests.conftest import CORPUS, dispose, make_app, skip_or_fail

FIXTURES = Path(__file__).parent / "fixtures"
SITES = [FIXTURES / name for name in ("jekyll-collection", "hugo-yaml", "hugo-toml", "wowchemy", "winter-2031")]


@pytest.fixture
def second_app(tmp_path: Path) -> Iterator[Flask]:
    (tmp_path / "second").mkdir()
    app = make_app(tmp_path / "second")
    yield app
    dispose(app)


def import_into(app: Flask, *paths: Path) -> None:
    with app.app_context():
        series = talk_service.configured_series(db.session, app.config)
        db.session.flush()
        importer = Importer(db.session, series)
        for path in paths:
            reports = importer.import_posts([path])
            assert not [r.line() for r in reports if r.failed]
        db.session.commit()


def export_from(app: Flask, folder: Path) -> site_export.ExportReport:
    with app.app_context():
        series = talk_service.configured_series(db.session, app.config)
        return site_export.export_jekyll(db.session, series, folder)


def talk_facts(app: Flask) -> dict[str, dict[str, Any]]:
    """What an attendee sees of each talk, by address."""
    with app.app_context():
        return {
            talk.slug: {
                "title": talk.title,
                "starts_at": talk.starts_at.isoformat(),
                "ends_at": talk.ends_at.isoformat(),
                "speakers": [(s.name, s.affiliation, s.url) for s in talk.speakers],
                "parts": [(p.title, p.abstract_md, p.bio_md, [s.name for s in p.speakers]) for p in talk.parts],
                "intro": talk.intro_md,
                "sections": [(s.heading, s.body_md) for s in talk.sections],
                "room": talk.room.name if talk.room else None,
                "online_platform": talk.online_platform,
                "links": sorted((link["label"], link["url"]) for link in talk.links),
                "paper_url": talk.paper_url,
                "slides_url": talk.slides_url,
                "recording_url": talk.recording_url,
                "semester": talk.semester.slug if talk.semester else None,
                "status": talk.status.value,
            }
            for talk in db.session.scalars(select(Talk))
        }


def test_a_round_trip_through_the_export_changes_nothing(app: Flask, second_app: Flask, tmp_path: Path) -> None:
    import_into(app, *SITES)
    report = export_from(app, tmp_path / "site")
    assert len(report.posts) == len(talk_facts(app))
    import_into(second_app, tmp_path / "site")
    assert talk_facts(second_app) == talk_facts(app)


def test_the_groups_own_posts_survive_the_round_trip(app: Flask, second_app: Flask, tmp_path: Path) -> None:
    if not (CORPUS / "_posts").is_dir():
        skip_or_fail(f"the corpus is not at {CORPUS}")
    import_into(app, CORPUS / "_posts")
    export_from(app, tmp_path / "site")
    import_into(second_app, tmp_path / "site")
    assert talk_facts(second_app) == talk_facts(app)


def test_a_post_has_the_shape_of_the_groups_posts(app: Flask, tmp_path: Path) -> None:
    import_into(app, FIXTURES / "jekyll-collection")
    export_from(app, tmp_path / "site")
    text = (tmp_path / "site/_posts/2029-02-06-amara-okafor.md").read_text()
    _, front_text, body = text.split("---\n", 2)
    front = yaml.safe_load(front_text)
    assert list(front)[:8] == ["title", "venue", "names", "author", "tags", "categories", "layout", "classes"]
    assert (front["names"], front["venue"]) == ("Amara Okafor", "Saltmarsh University")
    assert "speakers" not in front and "room" not in front, "names, venue and Location say it all"
    assert body.startswith("\n*{{ page.names }}*\n\n**{{ page.venue }}**\n\n{% include display-publication-links.html")
    assert "## Talk Description\n\nStorytellers on the coast" in body
    assert "## Speaker Bio\n\nAmara Okafor records" in body
    assert body.rstrip().endswith("## Logistics\n\nDate: February 6th<br>\nTime: 3:30PM <br>\nLocation: 2.14")


def test_what_names_and_the_location_line_would_lose_is_said_outright(app: Flask, tmp_path: Path) -> None:
    import_into(app, FIXTURES / "jekyll-collection")
    export_from(app, tmp_path / "site")
    front = yaml.safe_load((tmp_path / "site/_posts/2029-02-13-bell-castro.md").read_text().split("---\n")[1])
    assert front["speakers"][0] == {
        "name": "Harriet Bell",
        "affiliation": "Greyfield Institute",
        "url": "https://harriet.example.org/",
    }
    front = yaml.safe_load((tmp_path / "site/_posts/2029-03-06-pike-ortiz.md").read_text().split("---\n")[1])
    assert "room" not in front, "'Seminar Room C' reads back from the Location line"


def test_a_room_the_location_line_would_not_give_back_is_named(app: Flask, second_app: Flask, tmp_path: Path) -> None:
    import_into(app, FIXTURES / "jekyll-collection")
    with app.app_context():
        room = db.session.scalars(select(Talk).where(Talk.slug == "2029-03-06-pike-ortiz")).one().room
        room.name = "the reading corner past the kitchen upstairs"
        db.session.commit()
    export_from(app, tmp_path / "site")
    front = yaml.safe_load((tmp_path / "site/_posts/2029-03-06-pike-ortiz.md").read_text().split("---\n")[1])
    assert front["room"] == "the reading corner past the kitchen upstairs"
    import_into(second_app, tmp_path / "site")
    assert talk_facts(second_app)["2029-03-06-pike-ortiz"]["room"] == "the reading corner past the kitchen upstairs"


def test_a_workshop_over_two_days_and_a_talk_without_a_time(app: Flask, tmp_path: Path) -> None:
    import_into(app, FIXTURES / "jekyll-collection")
    export_from(app, tmp_path / "site")
    workshop = (tmp_path / "site/_posts/2029-04-03-field-methods-workshop.md").read_text()
    assert "Date: April 3rd-4th<br>\nTime: 9:30AM-4PM <br>" in workshop
    placeholder = (tmp_path / "site/_posts/2029-02-27-moreau-haddad-wei.md").read_text()
    assert "Time: TBD <br>" in placeholder


def test_each_semester_gets_its_schedule_in_the_groups_table(app: Flask, runner, tmp_path: Path) -> None:
    import_into(app, FIXTURES / "winter-2031")
    report = export_from(app, tmp_path / "site")
    archive = tmp_path / "site/_posts/archive/2031-01-01-winter-2031.md"
    page = tmp_path / "site/_pages/reading-group.md"
    assert set(report.pages) == {archive, page}
    table = archive.read_text()
    assert "| **Date @ Time** | **Speaker(s)** | **Topic** | **More Information** |" in table
    assert "| January 10th @ 11:30AM | Odile Brassard | " in table
    assert "[click here]({% link _posts/2031-01-10-odile-brassard.md %})" in table
    result = runner.invoke(args=["import-talks", "--schedule", "--json", str(archive)])
    (read,) = json.loads(result.stdout)
    assert (read["semester"], read["linked"], read["entries"]) == ("winter-2031", 10, [])


def test_a_moved_talk_keeps_its_address(app: Flask, second_app: Flask, tmp_path: Path) -> None:
    if not (CORPUS / "_posts").is_dir():
        skip_or_fail(f"the corpus is not at {CORPUS}")
    post = CORPUS / "_posts/reading-group/fall-2024/2024-11-07-boyuan-zheng.md"  # the talk is on the 8th
    import_into(app, post)
    export_from(app, tmp_path / "site")
    exported = tmp_path / "site/_posts/2024-11-08-boyuan-zheng.md"
    assert "slug: 2024-11-07-boyuan-zheng" in exported.read_text()
    import_into(second_app, exported)
    assert list(talk_facts(second_app)) == ["2024-11-07-boyuan-zheng"]


def test_export_talks_writes_the_site(app: Flask, runner, tmp_path: Path) -> None:
    import_into(app, FIXTURES / "hugo-toml")
    result = runner.invoke(args=["export-talks", "--format", "jekyll", str(tmp_path / "out")])
    assert result.exit_code == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "out/_posts").glob("*.md"))
    assert "2029-03-01-aziz.md" in written and len(written) == len(talk_facts(app))
    # The pages named no semester: each talk went in the one its date falls in, so each has its table.
    assert "posts and 3 schedule pages" in result.stderr
    schedule = (tmp_path / "out/_pages/reading-group.md").read_text(encoding="utf-8")
    assert "| May 3rd @ 3PM | Inês Duarte | Nasal Vowels in Atlantic Portuguese |" in schedule, "the latest semester"
