"""The announcement, as organizers use it: the settings (lists and template), the preview ready
to copy, sending to the lists, and sending again only when they say so."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from extensions import db
from models import AuditEntry, ChatSlot, OutboxMessage, Series, Talk
from tests.blueprints.conftest import ADA, EVE, logged_in, talk_form
from tests.rsvp_support import sent

SLUG = "tidy-datasets-messy-worlds"
SETTINGS = {"name": "Test Series", "timezone": "America/Montreal", "default_minutes": "60", "default_room": "0"}


@pytest.fixture
def talk_id(seeded: Flask, ada: FlaskClient) -> int:
    """Rosa's talk on Friday, March 14, 2031 at 11:30 in Montreal, online on Zoom, made as an organizer does."""
    assert ada.post("/organize/talks/new", data=talk_form()).status_code == 302
    with seeded.app_context():
        return db.session.scalars(select(Talk.id).where(Talk.slug == SLUG)).one()


def save_settings(ada: FlaskClient, **fields: str):  # type: ignore[no-untyped-def]
    return ada.post("/organize/settings", data={**SETTINGS, "contact_email": "talks@example.org", **fields})


def with_lists(ada: FlaskClient, lists: str = "talks@lists.example.org\nseminars@lists.example.org") -> None:
    assert save_settings(ada, announce_lists=lists).status_code == 302


def page_of(ada: FlaskClient, talk_id: int) -> str:
    response = ada.get(f"/organize/talks/{talk_id}/announcement")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def copied_text(page: str) -> str:
    """What an organizer copies from the read-only plain-text box."""
    found = re.search(r'<textarea id="announcement-text"[^>]*readonly>(.*?)</textarea>', page, re.S)
    assert found, "the text version is in a read-only box"
    return html.unescape(found[1])


def series_row(app: Flask) -> Series:
    with app.app_context():
        series = db.session.scalars(select(Series)).one()
        db.session.expunge(series)
        return series


def announcement_rows(app: Flask) -> list[OutboxMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "announcement.email")))
        for row in rows:
            db.session.expunge(row)
        return rows


def audit(app: Flask, action: str) -> list[AuditEntry]:
    with app.app_context():
        entries = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        for entry in entries:
            db.session.expunge(entry)
        return entries


# The preview --------------------------------------------------------------------------------


def test_the_talk_pages_lead_to_its_announcement(ada: FlaskClient, talk_id: int) -> None:
    link = f'href="/organize/talks/{talk_id}/announcement"'
    assert link in ada.get(f"/organize/talks/{talk_id}/edit").get_data(as_text=True)
    assert link in ada.get("/organize/").get_data(as_text=True)


def test_the_preview_shows_the_talk_in_the_series_zone_ready_to_copy(ada: FlaskClient, talk_id: int) -> None:
    page = page_of(ada, talk_id)
    assert 'value="Fri, Mar 14: Tidy Datasets, Messy Worlds (Rosa Lindqvist)"' in page, "the subject, to copy"
    text = copied_text(page)
    assert "our next talk, by Rosa Lindqvist (Northern Institute)" in text
    assert "When: Friday, March 14, 2031, 11:30 AM – 12:30 PM EDT" in text
    assert "Online: via Zoom (the join link is sent to people who sign up)" in text
    assert "Why data gets *messy*." in text
    assert "<http://lectern.test/talks/tidy-datasets-messy-worlds/rsvp>" in text
    assert "<http://lectern.test/talks/tidy-datasets-messy-worlds.ics>" in text
    assert "<http://lectern.test/talks/tidy-datasets-messy-worlds>" in text

    preview = page.split("The HTML version, as a mail program shows it", 1)[1]
    assert "<strong>Tidy Datasets, Messy Worlds</strong>" in preview
    assert "Why data gets <em>messy</em>." in preview
    assert '<a href="http://lectern.test/talks/tidy-datasets-messy-worlds/rsvp"' in preview
    assert '<a href="http://lectern.test/talks/tidy-datasets-messy-worlds.ics"' in preview
    assert "chat" not in text.lower()


def test_the_preview_gives_the_chats_and_how_they_are_assigned(seeded: Flask, ada: FlaskClient, talk_id: int) -> None:
    with seeded.app_context():
        talk = db.session.get(Talk, talk_id)
        for number in range(3):
            db.session.add(
                ChatSlot(talk=talk, starts_at=talk.ends_at + timedelta(minutes=20 * number), minutes=20, capacity=2)
            )
        db.session.commit()
    text = copied_text(page_of(ada, talk_id))
    assert "3 slots, 6 places in all." in text
    assert "Places go first come, first served, until Friday, March 14, 2031, 11:30 AM EDT." in text
    assert "Book a chat: <http://lectern.test/talks/tidy-datasets-messy-worlds/chat>" in text


def test_a_template_that_fails_for_this_talk_is_explained_not_a_500(
    seeded: Flask, ada: FlaskClient, talk_id: int
) -> None:
    with seeded.app_context():  # as an older version of Lectern might have saved it
        series = db.session.scalars(select(Series)).one()
        series.announce_template = "Subject: x\n\n{{ speaker.name }}"
        series.announce_lists = "talks@lists.example.org"
        db.session.commit()
    page = page_of(ada, talk_id)
    assert "does not work for this talk" in page
    assert "Line 3: &#39;speaker&#39; is undefined" in page
    assert 'href="/organize/settings#announce_template"' in page
    assert "Send to the lists" not in page
    response = ada.post(f"/organize/talks/{talk_id}/announcement")
    assert response.status_code == 400
    assert announcement_rows(seeded) == []


# The settings -------------------------------------------------------------------------------


def test_the_settings_show_lectern_s_template_and_what_it_can_use(ada: FlaskClient) -> None:
    page = ada.get("/organize/settings").get_data(as_text=True)
    assert '<label for="announce_lists">Mailing lists for announcements</label>' in page
    assert '<label for="announce_template">Announcement template</label>' in page
    assert "Subject: {{ short_date }}: {{ title }}" in html.unescape(page), "the default, ready to edit"
    assert "Reset to Lectern&#39;s default template" in page
    assert "<code>signup_url</code>" in page and "<code>chats</code>" in page


def test_an_edited_template_is_saved_audited_and_used(seeded: Flask, ada: FlaskClient, talk_id: int) -> None:
    template = "Subject: Come and hear {{ speakers }}\r\n\r\n{{ title }} on {{ date }}.\r\nSign up: <{{ signup_url }}>"
    assert save_settings(ada, announce_template=template).status_code == 302
    assert series_row(seeded).announce_template == template.replace("\r\n", "\n") + "\n"
    [entry] = audit(seeded, "series.update")
    assert entry.after["announce_template"].startswith("Subject: Come and hear")

    page = page_of(ada, talk_id)
    assert 'value="Come and hear Rosa Lindqvist"' in page
    assert copied_text(page) == (
        "Tidy Datasets, Messy Worlds on Friday, March 14, 2031.\n"
        "Sign up: <http://lectern.test/talks/tidy-datasets-messy-worlds/rsvp>\n"
    )

    assert save_settings(ada, announce_template=template, announce_reset="y").status_code == 302
    assert series_row(seeded).announce_template == ""
    assert "Hello everyone," in copied_text(page_of(ada, talk_id))


def test_a_broken_template_is_refused_with_its_line_and_not_saved(seeded: Flask, ada: FlaskClient) -> None:
    response = save_settings(
        ada, name="Renamed Series", announce_template="Subject: {{ title }}\n\nHello {% if room %}{{ room }}"
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error = re.search(r'<div id="announce_template-error">(.*?)</div>', page, re.S)
    assert error and "Line 3: Unexpected end of template" in error[1], "beside the template"
    assert "Hello {% if room %}{{ room }}" in html.unescape(page), "what was typed is kept in the editor"
    series = series_row(seeded)
    assert series.announce_template == "" and series.name == "Test Series", "nothing is saved"
    assert audit(seeded, "series.update") == []

    response = save_settings(ada, announce_template="Subject: x\n\n{{ chats.places }} places")
    assert response.status_code == 400
    assert "Line 3: &#39;None&#39; has no attribute &#39;places&#39;" in response.get_data(as_text=True)


def test_list_addresses_are_validated_and_normalised(seeded: Flask, ada: FlaskClient) -> None:
    response = save_settings(ada, announce_lists="talks@lists.example.org, not an address")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "“not” is not an address Lectern can send to" in page
    assert series_row(seeded).announce_lists == ""

    with_lists(ada, "Talks@Lists.Example.org,\r\nSeminars@lists.example.org talks@lists.example.org")
    assert series_row(seeded).announce_lists == "talks@lists.example.org\nseminars@lists.example.org"
    page = ada.get("/organize/settings").get_data(as_text=True)
    assert "talks@lists.example.org\nseminars@lists.example.org</textarea>" in page


# Sending ------------------------------------------------------------------------------------


def test_without_lists_the_page_says_where_to_add_them(seeded: Flask, ada: FlaskClient, talk_id: int) -> None:
    page = page_of(ada, talk_id)
    assert "No mailing lists yet" in page
    assert 'href="/organize/settings#announce_lists"' in page
    assert "Send to the lists" not in page
    response = ada.post(f"/organize/talks/{talk_id}/announcement")
    assert response.status_code == 400
    assert "No mailing lists yet" in response.get_data(as_text=True)
    assert announcement_rows(seeded) == []


def test_sending_mails_each_list_and_is_audited(seeded: Flask, ada: FlaskClient, talk_id: int) -> None:
    with_lists(ada)
    page = page_of(ada, talk_id)
    assert "<li>talks@lists.example.org</li>" in page and "<li>seminars@lists.example.org</li>" in page
    assert "Send to the lists" in page and "Send again" not in page

    before = len(sent(seeded))
    response = ada.post(f"/organize/talks/{talk_id}/announcement")
    assert response.status_code == 302
    emails = sent(seeded)[before:]
    assert sorted(email["To"] for email in emails) == ["seminars@lists.example.org", "talks@lists.example.org"]
    assert {email["Subject"] for email in emails} == {"Fri, Mar 14: Tidy Datasets, Messy Worlds (Rosa Lindqvist)"}
    assert len(announcement_rows(seeded)) == 2

    [entry] = audit(seeded, "talk.announce")
    assert entry.actor == "ada@example.edu"
    assert entry.target == f"talk {SLUG}"
    assert entry.after["lists"] == ["talks@lists.example.org", "seminars@lists.example.org"]
    with seeded.app_context():
        announced = db.session.get(Talk, talk_id).announced_at
    assert announced is not None and abs(announced - datetime.now(UTC)) < timedelta(minutes=1)

    page = ada.get(response.headers["Location"]).get_data(as_text=True)
    assert "The announcement is on its way to talks@lists.example.org, seminars@lists.example.org." in page
    assert "Sent before" in page and "by ada@example.edu" in page
    assert '<label class="check"><input id="send_again" name="send_again" type="checkbox" value="y"> Send again' in page
    assert "talk.announce" in ada.get("/organize/audit").get_data(as_text=True)


def test_sending_twice_asks_first(seeded: Flask, ada: FlaskClient, talk_id: int) -> None:
    with_lists(ada, "talks@lists.example.org")
    assert ada.post(f"/organize/talks/{talk_id}/announcement").status_code == 302
    before = len(sent(seeded))

    response = ada.post(f"/organize/talks/{talk_id}/announcement")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "This announcement was sent before. Tick “Send again” to send it once more." in page
    assert "Sent before" in page
    assert len(sent(seeded)) == before, "nothing sent without saying so"
    assert len(audit(seeded, "talk.announce")) == 1

    assert ada.post(f"/organize/talks/{talk_id}/announcement", data={"send_again": "y"}).status_code == 302
    assert [email["To"] for email in sent(seeded)[before:]] == ["talks@lists.example.org"]
    entries = audit(seeded, "talk.announce")
    assert len(entries) == 2 and entries[1].before is not None, "the log says it went out before"


def test_a_hidden_talk_is_not_sent(seeded: Flask, ada: FlaskClient, talk_id: int) -> None:
    with_lists(ada)
    assert ada.post(f"/organize/talks/{talk_id}/unpublish").status_code == 302
    page = page_of(ada, talk_id)
    assert "This talk is hidden from the public: publish it first" in page
    assert "Send to the lists" not in page
    assert ada.post(f"/organize/talks/{talk_id}/announcement").status_code == 400
    assert announcement_rows(seeded) == []


def test_the_send_button_carries_its_csrf_token(seeded: Flask, talk_id: int) -> None:
    seeded.config["WTF_CSRF_ENABLED"] = True
    ada = logged_in(seeded, ADA)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', ada.get("/organize/settings").get_data(True))
    assert token
    settings = {**SETTINGS, "csrf_token": token[1], "announce_lists": "talks@lists.example.org"}
    assert ada.post("/organize/settings", data=settings).status_code == 302
    page = page_of(ada, talk_id)
    form = re.search(r'<form method="post" action="/organize/talks/\d+/announcement"[^>]*>(.*?)</form>', page, re.S)
    assert form, "a form that posts"
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form[1])
    assert token
    assert ada.post(f"/organize/talks/{talk_id}/announcement").status_code == 400, "refused without its token"
    assert announcement_rows(seeded) == []
    assert ada.post(f"/organize/talks/{talk_id}/announcement", data={"csrf_token": token[1]}).status_code == 302
    assert len(announcement_rows(seeded)) == 1


@pytest.mark.parametrize("who", ["anonymous", "stranger"])
def test_only_organizers_see_or_send_it(seeded: Flask, ada: FlaskClient, talk_id: int, who: str) -> None:
    with_lists(ada)
    client = seeded.test_client() if who == "anonymous" else logged_in(seeded, EVE)
    expected = 302 if who == "anonymous" else 403
    assert client.get(f"/organize/talks/{talk_id}/announcement").status_code == expected
    assert client.post(f"/organize/talks/{talk_id}/announcement", data={"send_again": "y"}).status_code == expected
    assert client.post("/organize/settings", data={**SETTINGS, "announce_lists": "x@evil.example"}).status_code == (
        expected
    )
    assert announcement_rows(seeded) == []
    assert series_row(seeded).announce_lists == "talks@lists.example.org\nseminars@lists.example.org"
