"""Attendees in Chromium: from the announcement email to a personal Zoom link, the waiting list,
and the same core with JavaScript off.

The organizer's part (mailing lists, the Zoom meeting, the announcement) is done beforehand with
Flask's test client; everything the attendees do is done in the browser, on the real forms,
with the emails read at the SMTP server and the join link issued by the fake Zoom.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import expect
from sqlalchemy import select

from extensions import db
from models import Talk
from tests.adapters.test_mail_smtp import SMTPServer
from tests.blueprints.conftest import ADA, logged_in, settings_form
from tests.journeys.conftest import LISTS, Journey, link_in, text_of
from tests.zoom_fake import FakeZoom

pytestmark = pytest.mark.browser

SLUG = "whale-song-token-by-token"  # the demo talk with first-come chats, in Room B12, online by Zoom
TITLE = "Whale Song, Token by Token"


@pytest.fixture
def ada(seeded: Flask) -> Iterator[FlaskClient]:
    yield logged_in(seeded, ADA)


@pytest.fixture
def talk_id(seeded: Flask) -> int:
    with seeded.app_context():
        return db.session.scalars(select(Talk.id).where(Talk.slug == SLUG)).one()


@pytest.fixture
def announced(seeded: Flask, ada: FlaskClient, talk_id: int, smtp: SMTPServer, zoom: FakeZoom) -> int:
    """The organizers' part: the mailing list, the Zoom meeting, the announcement sent. Returns the meeting id."""
    settings = settings_form(announce_lists=", ".join(LISTS))
    assert ada.post("/organize/settings", data=settings).status_code == 302
    assert ada.post(f"/organize/talks/{talk_id}/meeting/create", data={}).status_code == 302
    assert ada.post(f"/organize/talks/{talk_id}/announcement").status_code == 302
    (meeting_id,) = zoom.meetings
    return meeting_id


def messages_to(smtp: SMTPServer, address: str) -> list[Any]:
    return [received.message for received in smtp.received if address in received.rcpt_tos]


def sign_up(journey: Journey, base: str, name: str, email: str, mode: str = "In the room") -> None:
    page = journey.page
    page.goto(f"{base}/talks/{SLUG}/rsvp")
    journey.step("sign-up form")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label(mode, exact=True).check()
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{base}/talks/{SLUG}/rsvp/sent**")
    journey.step("signed up")


def manage_link(smtp: SMTPServer, email: str, base: str, kind_words: str) -> str:
    """The manage link in the latest email to `email` whose text says `kind_words`."""
    texts = [text_of(message) for message in messages_to(smtp, email)]
    matching = [text for text in texts if kind_words in text]
    assert matching, f"no email to {email} says {kind_words!r}; got:\n" + "\n---\n".join(texts)
    return link_in(matching[-1], rf"{base}/rsvp/[A-Za-z0-9_.\-]+")


def test_an_attendee_goes_from_the_announcement_to_their_own_zoom_link(
    announced: int, serve: Any, journeys: Any, seeded: Flask, smtp: SMTPServer, zoom: FakeZoom
) -> None:
    base = serve(seeded)
    (announcement,) = messages_to(smtp, LISTS[0])
    talk_url = link_in(text_of(announcement), rf"{base}/talks/{SLUG}(?=[>\s])")

    grace = journeys("attendee")
    page = grace.page
    page.goto(talk_url)
    assert page.get_by_role("heading", level=1).inner_text() == TITLE
    assert page.get_by_text("Aroha Lindgren-Mbeki").first.is_visible()
    grace.step("talk page from the announcement")

    # The sign-up form, by keyboard alone: Tab to each field, type, Enter on the button.
    page.get_by_role("link", name="Sign up").first.click()
    page.wait_for_url(f"{base}/talks/{SLUG}/rsvp")
    grace.step("sign-up form")
    focused = "document.activeElement && (document.activeElement.id || document.activeElement.name)"
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate(focused) == "name":
            break
    assert page.evaluate(focused) == "name", "Tab reaches the name field"
    page.keyboard.type("Grace Hopper")
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "email"
    page.keyboard.type("grace@example.org")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "radio", "the attendance choice comes next"
    for _ in range(4):  # the checked choice, or the first: arrows move to "In the room"
        if page.evaluate("document.activeElement.labels[0].innerText.trim()") == "In the room":
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    assert page.get_by_label("In the room", exact=True).is_checked()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "submit":
            break
    assert page.evaluate("document.activeElement.value") == "Sign up"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/talks/{SLUG}/rsvp/sent**")
    grace.step("asked to check the email")

    manage = manage_link(smtp, "grace@example.org", base, "You have a seat in the room")
    page.goto(manage)
    expect(page.get_by_role("heading", name="You have a seat in the room")).to_be_visible()
    grace.step("manage page, seated")

    page.locator("label.slot-choice:not(.is-full)").first.click()
    page.locator("#book-topic").fill("Tagging song units")
    page.get_by_role("button", name="Book this chat").click()
    expect(page.get_by_role("heading", name="Your chat", exact=False)).to_be_visible()
    expect(page.locator(".status-card", has_text="Tagging song units")).to_be_visible()
    grace.step("chat booked")

    page.get_by_label("Online", exact=True).check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("heading", name="You will follow online")).to_be_visible()
    join_url = zoom.registrant(announced, "grace@example.org")["join_url"]
    join = page.get_by_role("link", name="Join online")
    assert join.get_attribute("href") == join_url, "the link is the one Zoom gave for Grace"
    expect(page.get_by_role("heading", name="Your chat", exact=False)).to_be_visible()  # the chat stays booked
    grace.step("online with a personal join link")

    # The link is Grace's alone: no public page shows it.
    for path in ("/", f"/talks/{SLUG}", f"/talks/{SLUG}/rsvp", f"/talks/{SLUG}/chat", "/semesters", "/feed.atom"):
        public = page.request.get(base + path)
        assert public.ok, path
        assert join_url not in public.text().replace("&amp;", "&"), path
    page.goto(f"{base}/talks/{SLUG}")
    grace.step("talk page again", check=True)
    grace.assert_accessible()


def test_the_first_on_the_waiting_list_gets_the_seat_given_back(
    announced: int, serve: Any, journeys: Any, seeded: Flask, smtp: SMTPServer, talk_id: int
) -> None:
    with seeded.app_context():
        db.session.get(Talk, talk_id).room_capacity = 1
        db.session.commit()
    base = serve(seeded)

    first = journeys("waiting-list-first")
    sign_up(first, base, "Ines Valtonen", "ines@example.org")
    second = journeys("waiting-list-second")
    sign_up(second, base, "Kofi Adjei-Marsh", "kofi@example.org")

    second.page.goto(manage_link(smtp, "kofi@example.org", base, "number 1 on the waiting list"))
    expect(second.page.get_by_role("heading", name="You are number 1 on the waiting list")).to_be_visible()
    second.step("waiting")

    first.page.goto(manage_link(smtp, "ines@example.org", base, "You have a seat in the room"))
    first.step("seated")
    first.page.get_by_role("button", name="Cancel my sign-up").click()
    expect(first.page.get_by_role("heading", name="This sign-up is cancelled")).to_be_visible()
    first.step("cancelled")

    promoted = manage_link(smtp, "kofi@example.org", base, "a seat freed up and it is yours")
    texts = [text_of(message) for message in messages_to(smtp, "kofi@example.org")]
    assert len(texts) == 2, texts
    second.page.goto(promoted)
    expect(second.page.get_by_role("heading", name="You have a seat in the room")).to_be_visible()
    second.step("promoted")

    # Ines, done with the talk, erases her sign-up; the link in her emails then leads nowhere.
    first.page.get_by_role("button", name="Erase my sign-up").click()
    expect(first.page.get_by_role("heading", name="Your sign-up is erased")).to_be_visible()
    first.step("erased")
    first.page.goto(manage_link(smtp, "ines@example.org", base, "You have a seat in the room"))
    expect(first.page.get_by_role("heading", name="This sign-up no longer exists")).to_be_visible()
    first.step("old link after erasing")
    first.assert_accessible()
    second.assert_accessible()


def test_the_attendee_core_works_with_javascript_off(
    announced: int, serve: Any, journeys: Any, seeded: Flask, smtp: SMTPServer, zoom: FakeZoom
) -> None:
    base = serve(seeded)
    lea = journeys("attendee-no-javascript", javascript=False)
    page = lea.page
    page.goto(f"{base}/talks/{SLUG}")
    lea.step("talk page")
    sign_up(lea, base, "Lea Marchetti", "lea.m@example.org")

    page.goto(manage_link(smtp, "lea.m@example.org", base, "You have a seat in the room"))
    expect(page.get_by_role("heading", name="You have a seat in the room")).to_be_visible()
    page.locator("label.slot-choice:not(.is-full)").first.click()
    page.get_by_role("button", name="Book this chat").click()
    expect(page.get_by_role("heading", name="Your chat", exact=False)).to_be_visible()
    lea.step("chat booked")

    page.get_by_label("Online", exact=True).check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("heading", name="You will follow online")).to_be_visible()
    join_url = zoom.registrant(announced, "lea.m@example.org")["join_url"]
    assert page.get_by_role("link", name="Join online").get_attribute("href") == join_url
    lea.step("online with a personal join link")
