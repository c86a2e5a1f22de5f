"""The public pages besides the talk page, answered from each worker's memory (blueprints/cached_pages.py).

What a visitor gets from the cache must be what Flask would have sent for that path: the same
bytes and headers, whatever the request claimed about its host, scheme or prefix, no cookie,
and never older than the content or the clock allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from blueprints import cached_pages, public
from extensions import db
from models import Semester, Series, Talk
from services import pagecache, talks

SLUG = "what-quiet-benchmarks-hide"
# Headers a response carries for its own moment; every other header is the page's.
PER_RESPONSE = {"Date", "Content-Length"}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[datetime]]:
    """One clock for the views and the cache, fixed until a test moves it (calendar files carry it)."""
    moment = [datetime.now(UTC).replace(microsecond=0)]
    monkeypatch.setattr(public, "now", lambda: moment[0])
    monkeypatch.setattr(cached_pages, "now", lambda: moment[0])
    yield moment


@pytest.fixture
def dispatched(seeded: Flask) -> list[str]:
    """The paths that reached Flask's dispatch (a page answered from the cache never does)."""
    from flask import request

    seen: list[str] = []
    seeded.before_request_funcs.setdefault(None, []).append(lambda: seen.append(request.path))
    return seen


def semester_slug(app: Flask) -> str:
    with app.app_context():
        return db.session.scalars(select(Semester.slug).order_by(Semester.id)).first() or ""


def shared_paths(app: Flask) -> list[str]:
    return ["/", "/semesters", f"/semesters/{semester_slug(app)}", "/calendar.ics", f"/talks/{SLUG}.ics", "/feed.atom"]


def page_headers(response: TestResponse) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in PER_RESPONSE}


def flask_rendering(app: Flask, client: FlaskClient, path: str) -> TestResponse:
    """What Flask sends for `path` with nothing cached."""
    app.extensions["lectern.page_cache"]._entries.clear()
    return client.get(path)


def test_each_shared_page_is_answered_from_the_cache_as_flask_renders_it(
    seeded: Flask, client: FlaskClient, clock: list[datetime], dispatched: list[str]
) -> None:
    for path in shared_paths(seeded):
        first = client.get(path)
        assert first.status_code == 200, path
        dispatched.clear()
        cached = client.get(path)
        assert dispatched == [], f"{path}: an unchanged page never reaches Flask's dispatch"
        assert cached.data == first.data, path
        assert page_headers(cached) == page_headers(first), path
        assert "Set-Cookie" not in cached.headers, path
        assert cached.cache_control.public and cached.cache_control.max_age is not None, path
        assert cached.cache_control.max_age <= seeded.config["PUBLIC_PAGE_MAX_AGE"], path
        head = client.head(path)
        assert head.status_code == 200 and head.data == b"", path
        assert int(head.headers["Content-Length"]) == len(first.data), path
        assert dispatched == [], path
        fresh = flask_rendering(seeded, client, path)
        assert dispatched == [path], path
        assert fresh.data == cached.data, f"{path}: the cached copy is byte for byte what Flask renders"
        assert page_headers(fresh) == page_headers(cached), path


def test_what_a_request_claims_about_its_address_reaches_nobody(
    seeded: Flask, client: FlaskClient, clock: list[datetime]
) -> None:
    forged = {
        "Host": "evil.example",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Prefix": "/evil",
        "SCRIPT_NAME": "/evil",
    }
    for path in shared_paths(seeded):
        seeded.extensions["lectern.page_cache"]._entries.clear()
        first = client.get(path, headers=forged)  # the forged request is the one Flask renders and keeps
        assert first.status_code == 200, path
        honest = client.get(path)
        assert b"evil" not in first.data and b"evil" not in honest.data, path
        assert honest.data == first.data, path
        assert honest.data == flask_rendering(seeded, client, path).data, path
        if path.endswith((".ics", ".atom")):
            assert b"http://lectern.test/talks/" in honest.data, f"{path}: links come from SITE_URL"
        else:
            assert b'href="/privacy"' in honest.data, f"{path}: links are paths on SITE_URL's host"


def test_a_query_string_goes_on_to_flask_and_changes_nothing(
    seeded: Flask, client: FlaskClient, clock: list[datetime], dispatched: list[str]
) -> None:
    page = client.get("/")
    dispatched.clear()
    with_query = client.get("/?utm_source=newsletter")
    assert dispatched == ["/"], "a query string is not answered from the cache"
    assert with_query.data == page.data
    dispatched.clear()
    assert client.get("/").data == page.data
    assert dispatched == [], "the cached page is still the one without a query string"


def test_an_organizers_edit_shows_on_the_next_request(
    seeded: Flask, client: FlaskClient, clock: list[datetime], dispatched: list[str]
) -> None:
    paths = shared_paths(seeded)
    for path in paths:
        client.get(path)
    with seeded.app_context():
        talk = db.session.scalars(select(Talk).where(Talk.slug == SLUG)).one()
        talk.title = "Benchmarks Told Plainly"
        db.session.scalars(select(Series)).one().name = "Tuesday Talks"
        db.session.commit()
    dispatched.clear()
    for path in paths:
        text = client.get(path).get_data(as_text=True)
        assert "Benchmarks Told Plainly" in text or "Tuesday Talks" in text, path
    assert sorted(dispatched) == sorted(paths), "every page was rendered again"


def test_the_home_page_moves_on_when_the_next_talk_ends(
    seeded: Flask, client: FlaskClient, clock: list[datetime], dispatched: list[str]
) -> None:
    with seeded.app_context():
        upcoming = talks.upcoming_talks(db.session, clock[0], limit=12)
        first, second = talks.next_talk(upcoming), talks.next_talk(upcoming[1:])
        assert first is not None and second is not None
        # The next talk is on now and ends before midnight (the day's change moves the page on too).
        midnight = public.next_midnight(clock[0], ZoneInfo(first.series.timezone))
        first.starts_at = clock[0] - timedelta(minutes=30)
        first.ends_at = clock[0] + (midnight - clock[0]) / 2
        db.session.commit()
        first_title, second_title, ends = first.title, second.title, first.ends_at.replace(tzinfo=UTC)
    page = client.get("/")
    assert first_title in page.get_data(as_text=True).split("Coming up")[0]
    until_end = (ends - clock[0]).total_seconds()
    assert page.cache_control.max_age <= max(until_end, 0) + 1, "no proxy keeps it past the talk's end"

    clock[0] = ends - timedelta(seconds=1)
    dispatched.clear()
    assert client.get("/").data == page.data and dispatched == [], "still cached just before the end"

    clock[0] = ends + timedelta(seconds=1)
    later = client.get("/").get_data(as_text=True)
    assert dispatched == ["/"], "the cached copy expired when the talk ended"
    assert second_title in later.split("Coming up")[0], "the next talk moved up"


def test_a_page_that_is_not_there_is_never_kept(
    seeded: Flask, client: FlaskClient, clock: list[datetime], dispatched: list[str]
) -> None:
    assert client.get("/semesters/no-such-semester").status_code == 404
    assert client.get("/talks/no-such-talk.ics").status_code == 404
    dispatched.clear()
    assert client.get("/semesters/no-such-semester").status_code == 404
    assert dispatched == ["/semesters/no-such-semester"]


def test_a_kept_copy_tells_proxies_to_keep_it_no_longer_than_it_holds(
    seeded: Flask, client: FlaskClient, clock: list[datetime], dispatched: list[str]
) -> None:
    """A page kept an hour before sign-up closes must not, served a minute before, let a proxy
    keep it past the close: its max-age shrinks with the time left, on the talk page too."""
    with seeded.app_context():
        talk = db.session.scalars(select(Talk).where(Talk.slug == SLUG)).one()
        talk.rsvp_closes_at = clock[0] + timedelta(hours=1)
        db.session.commit()
        closes = talk.signup_deadline.replace(tzinfo=UTC)
    page = f"/talks/{SLUG}"
    assert client.get(page).cache_control.max_age == seeded.config["PUBLIC_PAGE_MAX_AGE"]
    client.get(page)  # now kept with its headers

    clock[0] = closes - timedelta(seconds=20)
    dispatched.clear()
    near = client.get(page)
    assert dispatched == [], "still the kept copy"
    assert near.cache_control.max_age == 20
    again = client.get(page, headers={"If-None-Match": near.headers["ETag"]})
    assert again.status_code == 304 and again.cache_control.max_age == 20


def test_a_new_release_is_not_taken_for_the_page_a_proxy_holds(seeded: Flask, client: FlaskClient) -> None:
    """The ETag names the release: after an upgrade, a proxy revalidating its copy gets the new page."""
    page = f"/talks/{SLUG}"
    old = client.get(page)
    assert client.get(page, headers={"If-None-Match": old.headers["ETag"]}).status_code == 304

    cache = seeded.extensions["lectern.page_cache"]
    cache._entries.clear()
    cache.release = "next-release"  # what another release's workers compute
    upgraded = client.get(page, headers={"If-None-Match": old.headers["ETag"]})
    assert upgraded.status_code == 200 and upgraded.data == old.data
    assert upgraded.headers["ETag"] != old.headers["ETag"]


def test_the_release_fingerprint_follows_the_files_that_render_pages(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "talk.html").write_text("<h1>{{ talk.title }}</h1>")
    (tmp_path / "app.py").write_text("app = 1\n")
    before = pagecache.release_fingerprint.__wrapped__(tmp_path)
    assert pagecache.release_fingerprint.__wrapped__(tmp_path) == before, "the same files, the same release"
    (tmp_path / "templates" / "talk.html").write_text("<h1 class=title>{{ talk.title }}</h1>")
    assert pagecache.release_fingerprint.__wrapped__(tmp_path) != before
