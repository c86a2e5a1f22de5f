"""Public pages through the test client, on the demo content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy import select

from extensions import db
from models import Series, Talk, TalkStatus
from services import demo, talks
from tests.conftest import dispose, make_app


def talk_by_slug(slug: str) -> Talk:
    return db.session.scalars(select(Talk).where(Talk.slug == slug)).one()


def test_home_page_shows_the_next_talk_first(seeded: Flask, client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "Next talk" in page
    next_talk_at = page.index("What Quiet Benchmarks Hide")
    assert next_talk_at < page.index("Student Lightning Talks")
    assert "Reading the Tide Tables" not in page.split("Coming up")[0], "a past talk is not the next one"


def test_talk_page_shows_what_a_visitor_needs(seeded: Flask, client: FlaskClient) -> None:
    response = client.get("/talks/what-quiet-benchmarks-hide")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Tomasz Ilunga-Berg" in page
    assert "University of the Northern Plains" in page
    assert "Auditorium 2" in page and "take the corridor on the left" in page, "room with directions"
    assert "EST" in page, "times carry the zone's abbreviation"
    assert "<table>" in page, "Markdown tables render"
    assert "The join link is never published" in page
    assert "calendar.google.com/calendar/render?action=TEMPLATE" in page
    assert "/talks/what-quiet-benchmarks-hide.ics" in page


def test_talk_page_sets_no_cookie_and_answers_revisits_with_304(seeded: Flask, client: FlaskClient) -> None:
    first = client.get("/talks/what-quiet-benchmarks-hide")
    assert "Set-Cookie" not in first.headers
    assert "public" in first.headers["Cache-Control"]
    etag = first.headers["ETag"]
    again = client.get("/talks/what-quiet-benchmarks-hide", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""


def test_an_edit_changes_the_etag_and_the_page(seeded: Flask, client: FlaskClient) -> None:
    first = client.get("/talks/what-quiet-benchmarks-hide")
    with seeded.app_context():
        talk_by_slug("what-quiet-benchmarks-hide").title = "What Loud Benchmarks Hide"
        db.session.commit()
    second = client.get("/talks/what-quiet-benchmarks-hide", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200
    assert "What Loud Benchmarks Hide" in second.get_data(as_text=True)


def test_unchanged_page_is_served_without_touching_the_database(seeded: Flask, client: FlaskClient) -> None:
    client.get("/talks/what-quiet-benchmarks-hide")
    statements: list[str] = []
    with seeded.app_context():
        from sqlalchemy import event

        engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            response = client.get("/talks/what-quiet-benchmarks-hide")
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert response.status_code == 200
    assert statements == []


def test_past_talk_shows_its_recording_and_slides(seeded: Flask, client: FlaskClient) -> None:
    page = client.get("/talks/reading-the-tide-tables").get_data(as_text=True)
    assert "This talk took place on" in page
    assert "https://example.org/recordings/tide-tables" in page
    assert "https://example.org/slides/tide-tables.pdf" in page


def test_cancelled_talk_says_so(seeded: Flask, client: FlaskClient) -> None:
    page = client.get("/talks/maps-that-talk-back").get_data(as_text=True)
    assert "This talk is cancelled" in page


def test_multi_part_talk_lists_each_presentation(seeded: Flask, client: FlaskClient) -> None:
    page = client.get("/talks/student-lightning-talks").get_data(as_text=True)
    assert "Counting Syllables in Eleven Languages" in page
    assert "Do Chatbots Apologise Too Much?" in page
    assert page.index("Ines Valtonen") < page.index("Kofi Adjei-Marsh")


def test_unknown_talk_is_a_real_404_page(seeded: Flask, client: FlaskClient) -> None:
    response = client.get("/talks/no-such-talk")
    assert response.status_code == 404
    assert "find that page" in response.get_data(as_text=True)
    assert client.get("/semesters/spring-1999").status_code == 404


def test_unpublished_talk_is_hidden_everywhere(seeded: Flask, client: FlaskClient) -> None:
    with seeded.app_context():
        talk_by_slug("what-quiet-benchmarks-hide").published = False
        db.session.commit()
    assert client.get("/talks/what-quiet-benchmarks-hide").status_code == 404
    assert client.get("/talks/what-quiet-benchmarks-hide.ics").status_code == 404
    for url in ("/", "/calendar.ics", "/feed.atom", "/semesters"):
        assert "Quiet Benchmarks" not in client.get(url).get_data(as_text=True), url


def test_semester_page_lists_talks_and_other_entries(seeded: Flask, client: FlaskClient) -> None:
    with seeded.app_context():
        semester = talk_by_slug("what-quiet-benchmarks-hide").semester
        slug = semester.slug
    listing = client.get("/semesters").get_data(as_text=True)
    assert f"/semesters/{slug}" in listing
    page = client.get(f"/semesters/{slug}").get_data(as_text=True)
    assert "What Quiet Benchmarks Hide" in page
    assert "Cancelled" in page


def test_talk_calendar_file_is_public_and_stable(seeded: Flask, client: FlaskClient) -> None:
    first = Calendar.from_ical(client.get("/talks/what-quiet-benchmarks-hide.ics").data)
    assert str(first["METHOD"]) == "PUBLISH"
    assert first.walk("VTIMEZONE"), "the zone travels with the file"
    (event,) = first.walk("VEVENT")
    assert not event.get("ATTENDEE")
    assert "What Quiet Benchmarks Hide" in str(event["SUMMARY"])
    with seeded.app_context():
        talk = talk_by_slug("what-quiet-benchmarks-hide")
        expected_start = talk.starts_at
        talk.title = "Renamed"
        db.session.commit()
    assert event.decoded("DTSTART") == expected_start
    assert str(event["DTSTART"].params["TZID"]) == "America/Montreal"
    (again,) = Calendar.from_ical(client.get("/talks/what-quiet-benchmarks-hide.ics").data).walk("VEVENT")
    assert str(again["UID"]) == str(event["UID"]), "the UID survives edits"


def test_series_calendar_holds_every_published_talk(seeded: Flask, client: FlaskClient) -> None:
    calendar = Calendar.from_ical(client.get("/calendar.ics").data)
    events = calendar.walk("VEVENT")
    assert len(events) == len(demo.TALKS)
    cancelled = [e for e in events if str(e["STATUS"]) == "CANCELLED"]
    assert [str(e["SUMMARY"]) for e in cancelled] == ["Maps That Talk Back (Beatriz Sørensen)"]


def test_feed_lists_upcoming_talks_only(seeded: Flask, client: FlaskClient) -> None:
    response = client.get("/feed.atom")
    assert response.mimetype == "application/atom+xml"
    body = response.get_data(as_text=True)
    assert "What Quiet Benchmarks Hide" in body
    assert "Reading the Tide Tables" not in body


def test_home_page_without_any_talk_still_works(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "No talk is scheduled yet" in response.get_data(as_text=True)


def test_talk_turns_past_when_it_ends(seeded: Flask, client: FlaskClient) -> None:
    client.get("/talks/what-quiet-benchmarks-hide")  # cached while upcoming
    with seeded.app_context():
        talk = talk_by_slug("what-quiet-benchmarks-hide")
        talk.starts_at = datetime.now(UTC) - timedelta(hours=2)
        talk.ends_at = datetime.now(UTC) - timedelta(hours=1)
        db.session.commit()
    page = client.get("/talks/what-quiet-benchmarks-hide").get_data(as_text=True)
    assert "This talk took place on" in page


def test_script_in_a_description_comes_out_inert(seeded: Flask, client: FlaskClient) -> None:
    with seeded.app_context():
        talk = talk_by_slug("what-quiet-benchmarks-hide")
        talk.intro_md = (
            'Hello <script>alert("x")</script> <img src="/a.png" onerror="alert(1)"> [x](javascript:alert(1))'
        )
        talk.status = TalkStatus.SCHEDULED
        db.session.commit()
    page = client.get("/talks/what-quiet-benchmarks-hide").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "onerror" not in page
    assert 'href="javascript:' not in page


def test_series_is_created_from_configuration(app: Flask, client: FlaskClient) -> None:
    client.get("/")
    with app.app_context():
        assert db.session.scalars(select(Series)).one().timezone == "America/Montreal"


def test_a_revisit_is_answered_from_the_cache_with_the_same_headers(seeded: Flask, client: FlaskClient) -> None:
    first = client.get("/talks/what-quiet-benchmarks-hide")
    dispatched: list[str] = []
    seeded.before_request_funcs.setdefault(None, []).append(lambda: dispatched.append("flask"))
    second = client.get("/talks/what-quiet-benchmarks-hide")
    assert dispatched == [], "an unchanged page never reaches Flask's dispatch"
    assert second.data == first.data
    for header in ("Content-Type", "ETag", "Cache-Control", "Content-Security-Policy", "X-Content-Type-Options"):
        assert second.headers[header] == first.headers[header], header
    assert "Set-Cookie" not in second.headers
    revalidated = client.get("/talks/what-quiet-benchmarks-hide", headers={"If-None-Match": first.headers["ETag"]})
    assert revalidated.status_code == 304 and revalidated.data == b""
    weak = client.get("/talks/what-quiet-benchmarks-hide", headers={"If-None-Match": "W/" + first.headers["ETag"]})
    assert weak.status_code == 304, "If-None-Match compares weakly, as HTTP says"
    assert revalidated.headers["ETag"] == first.headers["ETag"]
    head = client.head("/talks/what-quiet-benchmarks-hide")
    assert head.status_code == 200 and head.data == b""
    assert int(head.headers["Content-Length"]) == len(first.data)
    assert dispatched == []


def test_a_change_sends_the_next_visit_through_flask_again(seeded: Flask, client: FlaskClient) -> None:
    client.get("/talks/what-quiet-benchmarks-hide")
    client.get("/talks/what-quiet-benchmarks-hide")
    with seeded.app_context():
        talk_by_slug("what-quiet-benchmarks-hide").published = False
        db.session.commit()
    assert client.get("/talks/what-quiet-benchmarks-hide").status_code == 404


def test_a_forged_host_header_never_reaches_other_visitors(seeded: Flask, client: FlaskClient) -> None:
    forged = client.get("/talks/what-quiet-benchmarks-hide", headers={"Host": "evil.example"})
    assert "evil.example" not in forged.get_data(as_text=True)
    page = client.get("/talks/what-quiet-benchmarks-hide").get_data(as_text=True)
    assert "evil.example" not in page
    assert "lectern.test%2Ftalks%2Fwhat-quiet-benchmarks-hide" in page, "links are built from SITE_URL"
    for url in ("/feed.atom", "/calendar.ics", "/talks/what-quiet-benchmarks-hide.ics"):
        assert "evil.example" not in client.get(url, headers={"Host": "evil.example"}).get_data(as_text=True), url


def test_links_other_than_web_and_mail_are_not_links(seeded: Flask, client: FlaskClient) -> None:
    with seeded.app_context():
        talk = talk_by_slug("what-quiet-benchmarks-hide")
        talk.speakers[0].url = "javascript:alert(1)"
        talk.slides_url = "data:text/html,<script>alert(2)</script>"
        db.session.commit()
    page = client.get("/talks/what-quiet-benchmarks-hide").get_data(as_text=True)
    assert "javascript:" not in page and "data:text/html" not in page
    assert "Tomasz Ilunga-Berg" in page


def test_a_site_under_a_path_prefix_links_under_it_once(tmp_path: Path) -> None:
    # The proxy passes paths on as they came: https://example.org/seminars/talks/<slug>.
    app = make_app(tmp_path, SITE_URL="https://example.org/seminars/")
    with app.app_context():
        series = talks.get_series(
            db.session, name="Prefixed", timezone="America/Montreal", default_minutes=60, contact_email=""
        )
        db.session.flush()
        demo.seed(db.session, series, today=datetime.now(UTC))
        db.session.commit()
    client = app.test_client()
    slug = "what-quiet-benchmarks-hide"
    try:
        talk = client.get(f"/seminars/talks/{slug}")
        assert talk.status_code == 200
        html = talk.get_data(as_text=True)
        assert f'href="/seminars/talks/{slug}/rsvp"' in html and 'href="/seminars/static/' in html
        assert "/seminars/seminars/" not in html

        feed = client.get("/seminars/feed.atom").get_data(as_text=True)
        assert f"https://example.org/seminars/talks/{slug}" in feed
        assert "/seminars/seminars/" not in feed
        calendar = Calendar.from_ical(client.get(f"/seminars/talks/{slug}.ics").data)
        [event] = calendar.walk("VEVENT")
        assert str(event["URL"]) == f"https://example.org/seminars/talks/{slug}"
    finally:
        dispose(app)
