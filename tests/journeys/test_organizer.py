"""An organizer's round in Chromium: logging in at the real OpenID provider, a new talk, its Zoom
meeting, chats with the speaker, the announcement to the mailing list, the attendee CSV and
checking someone in at the door. Someone signs up from the announcement in a browser of their own."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.adapters.test_mail_smtp import SMTPServer
from tests.journeys.conftest import Journey, link_in, text_of
from tests.oidc.harness import RunningProvider
from tests.zoom_fake import FakeZoom

pytestmark = pytest.mark.browser

TITLE = "Provenance for Tired Benchmarks"
SLUG = "provenance-for-tired-benchmarks"
LIST = "seminar@lists.example.org"


def download_csv(journey: Journey, tmp_path: Path, name: str) -> list[dict[str, str]]:
    page = journey.page
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"{SLUG}-attendees.csv"
    saved = tmp_path / name
    download.save_as(saved)
    with saved.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_an_organizer_prepares_announces_and_runs_a_talk(
    seeded: Flask,
    serve: Any,
    journeys: Any,
    peer: RunningProvider,
    smtp: SMTPServer,
    zoom: FakeZoom,
    tmp_path: Path,
) -> None:
    base = serve(seeded)
    ada = journeys("organizer")
    page = ada.page

    # Logging in: Lectern sends the browser to the provider's own pages, which send it back.
    page.goto(f"{base}/organize/")
    page.wait_for_url(f"{peer.issuer}/interaction/**")
    ada.step("login at the provider", check=False)  # the provider's page, not Lectern's
    page.get_by_placeholder("Enter any login").fill("ada")
    page.get_by_placeholder("and password").fill("anything")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()  # the provider's consent page
    page.wait_for_url(f"{base}/organize/")
    expect(page.get_by_text("Welcome, Ada Lovelace.")).to_be_visible()
    ada.step("talks")

    page.get_by_role("link", name="Settings").first.click()
    page.get_by_label("Mailing lists for announcements").fill(LIST)
    ada.step("settings")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_label("Mailing lists for announcements")).to_have_value(LIST)

    page.get_by_role("link", name="New talk").first.click()
    page.wait_for_url(f"{base}/organize/talks/new")
    day = date.today() + timedelta(days=30)
    page.get_by_label("Title", exact=True).fill(TITLE)
    page.get_by_label("Date", exact=True).fill(day.isoformat())
    page.get_by_label("Start time", exact=True).fill("11:30")
    page.get_by_label("Room", exact=True).select_option(label="Room B12")
    page.get_by_label("Online", exact=True).select_option("Zoom")
    page.get_by_label("Speakers", exact=True).fill("Rosa Lindqvist | Northern Institute")
    page.get_by_label("Abstract", exact=True).fill("Why a benchmark's *history* matters.")
    ada.step("new talk")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(f"{base}/organize/talks/*/edit")
    expect(page.get_by_text(f"Saved “{TITLE}”.")).to_be_visible()
    edit_url = page.url
    ada.step("talk saved")

    page.get_by_role("link", name="Online meeting").click()
    ada.step("meeting page")
    page.get_by_role("button", name="Create Zoom meeting").click()
    expect(page.get_by_text("The meeting is created")).to_be_visible()
    (meeting_id,) = zoom.meetings
    assert zoom.meetings[meeting_id]["topic"] == TITLE
    expect(page.get_by_text(str(meeting_id)).first).to_be_visible()
    ada.step("meeting created")

    page.goto(edit_url)
    page.get_by_role("link", name="Chats with the speaker").click()
    ada.step("chats page")
    page.get_by_label("Number of chats").fill("3")
    page.get_by_label("Minutes each").fill("15")
    page.get_by_label("People per chat").fill("2")
    page.get_by_role("button", name="Add chats").click()
    expect(page.locator("article.chat-slot")).to_have_count(3)
    ada.step("chats added")

    page.goto(edit_url)
    page.get_by_role("link", name="Announcement").click()
    ada.step("announcement preview")
    page.get_by_role("button", name="Send to the lists").click()
    expect(page.locator("#last-sent")).to_contain_text(LIST)
    ada.step("announcement sent")
    (received,) = [received for received in smtp.received if received.rcpt_tos == [LIST]]
    announcement = text_of(received.message)
    assert TITLE in received.message["Subject"]
    talk_url = link_in(announcement, rf"{base}/talks/{SLUG}(?=[>\s])")
    assert f"{base}/talks/{SLUG}/chat" in announcement, "the chats are announced"

    # Someone on the list signs up from the email, in a browser of their own.
    rosa = journeys("organizer-attendee")
    rosa.page.goto(talk_url)
    rosa.step("talk page from the announcement")
    rosa.page.get_by_role("link", name="Sign up").first.click()
    rosa.page.get_by_label("Name", exact=True).fill("Priya Castellanos")
    rosa.page.get_by_label("Email", exact=True).fill("priya@example.org")
    rosa.page.get_by_label("In the room", exact=True).check()
    rosa.step("sign-up form")
    rosa.page.get_by_role("button", name="Sign up").click()
    rosa.page.wait_for_url(f"{base}/talks/{SLUG}/rsvp/sent**")
    rosa.step("signed up")

    page.goto(edit_url)
    page.get_by_role("link", name="Who signed up").click()
    expect(page.get_by_text("priya@example.org").first).to_be_visible()
    ada.step("sign-ups")
    (row,) = download_csv(ada, tmp_path, "before.csv")
    assert (row["name"], row["email"], row["status"], row["checked_in_at"]) == (
        "Priya Castellanos",
        "priya@example.org",
        "seated",
        "",
    )

    page.get_by_role("link", name="Check-in list").first.click()
    ada.step("check-in list")
    page.get_by_role("button", name="Check in Priya Castellanos").click()
    expect(page.get_by_role("button", name="Undo check-in of Priya Castellanos")).to_be_visible()
    ada.step("checked in")

    page.goto(edit_url)
    page.get_by_role("link", name="Who signed up").click()
    (row,) = download_csv(ada, tmp_path, "after.csv")
    assert row["checked_in_at"] != "", "the CSV shows the check-in"

    # The speaker's own schedule, through the link the organizers make for them.
    page.get_by_role("link", name="Chats with the speaker").click()
    page.get_by_role("button", name="Make the speaker's link").click()
    speaker_link = page.locator("input.link-copy").first.input_value()
    assert speaker_link.startswith(f"{base}/chats/speaker/")
    ada.step("speaker's link made")
    page.get_by_role("link", name="Printable schedule for the door").click()
    ada.step("printable chat schedule")
    page.go_back()
    page.get_by_role("link", name="Edit", exact=False).first.click()
    ada.step("chat slot form")
    speaker = journeys("speaker")
    speaker.page.goto(speaker_link)
    expect(speaker.page.get_by_role("heading", level=1)).to_be_visible()
    speaker.step("speaker's chat schedule")

    # The rest of the organizers' pages, from their menu and the talk's page.
    page.goto(edit_url)
    page.get_by_role("link", name="Online meeting").click()
    page.get_by_role("link", name="Remove meeting").click()
    ada.step("remove the meeting?")
    menu = page.get_by_role("navigation", name="Organizer area")
    menu.get_by_role("link", name="Talks", exact=True).click()
    page.get_by_role("link", name=f"Delete {TITLE}").click()
    ada.step("delete the talk?")
    for name in ("Rooms", "Import", "Organizers", "Audit log", "Undelivered"):
        menu.get_by_role("link", name=name, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        ada.step(name)

    ada.assert_accessible()
    rosa.assert_accessible()
    speaker.assert_accessible()
