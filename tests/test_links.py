"""Links are made one way, from SITE_URL, for pages and emails, under a path prefix too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from icalendar import Calendar

import jobs
from extensions import db
from links import absolute
from tests.conftest import dispose, make_app
from tests.rsvp_support import html_part, make_talk, outbox_rows, sent_to, text_part


@pytest.mark.parametrize(
    ("site_url", "path", "link"),
    [
        ("http://lectern.test", "/talks/x", "http://lectern.test/talks/x"),
        ("http://lectern.test", "/", "http://lectern.test/"),
        ("https://example.org/seminars/", "/talks/x", "https://example.org/seminars/talks/x"),
        ("https://example.org/seminars", "/rsvp/abc", "https://example.org/seminars/rsvp/abc"),
        ("https://example.org/seminars/", "/", "https://example.org/seminars/"),
    ],
)
def test_a_path_goes_under_the_site_url_once(site_url: str, path: str, link: str) -> None:
    assert absolute(site_url, path) == link


def test_an_emails_talk_and_manage_links_are_under_the_sites_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(tmp_path, SITE_URL="https://example.org/seminars/")
    client = app.test_client()
    try:
        with app.app_context():
            make_talk(5, slug="prefixed")
        data = {"name": "Ada", "email": "ada@example.org", "mode": "room"}
        assert client.post("/seminars/talks/prefixed/rsvp", data=data).status_code == 303  # sent at once

        # The consumer has no request: the same links, made in an app context alone.
        with monkeypatch.context() as later:
            later.setattr(jobs, "dispatch", lambda ids: None)
            data = {"name": "Bob", "email": "bob@example.org", "mode": "room"}
            assert client.post("/seminars/talks/prefixed/rsvp", data=data).status_code == 303
        with app.app_context():
            [owed] = [row.id for row in outbox_rows() if row.done_at is None]
            db.session.rollback()
            assert jobs.deliver_message.call_local(owed) == "sent"

        calendar = Calendar.from_ical(client.get("/seminars/talks/prefixed.ics").data)
        [event] = calendar.walk("VEVENT")
        page_link = str(event["URL"])
        assert page_link == "https://example.org/seminars/talks/prefixed"

        for address in ("ada@example.org", "bob@example.org"):
            [email] = sent_to(app, address)
            text, html = text_part(email), html_part(email)
            assert page_link in text and f'href="{page_link}"' in html, "the talk link a page gives"
            assert "/seminars/seminars/" not in text + html
            found = re.search(r"https://example\.org(/seminars/rsvp/[A-Za-z0-9_.\-]+)", text)
            assert found, "the manage link, under the prefix"
            assert f'href="{found.group(0)}"' in html
            followed = client.get(found.group(1))
            assert followed.status_code == 200
            assert "You have a seat in the room" in followed.get_data(as_text=True)
    finally:
        dispose(app)
