"""The speaker's chat schedule behind their signed link: what it shows, what it keeps to itself,
and the links it refuses."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import jobs
from extensions import db
from models import Speaker, Talk, TalkPart, TalkStatus
from services import chats, signups, talk_changes
from services.talk_changes import TalkCause
from services.tokens import manage_token, speaker_token
from tests.rsvp_support import make_talk

NOW = datetime.now(UTC).replace(microsecond=0)
# Monday, July 29, 2030, 11:00 AM - 12:00 PM in Montreal (EDT); chats from 12:00 PM.
TALK_START = datetime(2030, 7, 29, 15, 0, tzinfo=UTC)
SECRET = "test-secret"


def a_talk(slug: str, *speakers: str, **fields: object) -> Talk:
    talk = make_talk(20, slug=slug, starts_at=TALK_START, title=f"Talk {slug}", **fields)
    talk.parts = [TalkPart(position=0, speakers=[Speaker(name=name, position=n) for n, name in enumerate(speakers)])]
    db.session.commit()
    return talk


def slots_for(talk: Talk, count: int = 2, speaker: str = "", start: datetime | None = None) -> list[int]:
    slots = chats.add_slots(
        db.session,
        talk.id,
        first_starts_at=start,
        count=count,
        minutes=15,
        capacity=3,
        place="Room 301",
        speaker_name=speaker,
        now=NOW,
    )
    jobs.commit_and_dispatch()
    return [slot.id for slot in slots]


def book(talk: Talk, email: str, name: str, slot_id: int, topic: str = "") -> int:
    rsvp = chats.book(
        db.session,
        talk.id,
        name=name,
        email=email,
        slot_ids=[slot_id],
        topic=topic,
        now=NOW,
        affiliation="Cambridge",
    ).rsvp
    jobs.commit_and_dispatch()
    return rsvp.id


def link_for(talk_id: int, speaker: str = "") -> str:
    """What the organizers make and send: the link with the talk's current nonce."""
    chats.speaker_link_nonce(db.session, talk_id)
    db.session.commit()
    talk = db.session.get(Talk, talk_id)
    assert talk is not None
    return "/chats/speaker/" + speaker_token(SECRET, talk, speaker)


@pytest.fixture
def grace(app: Flask) -> tuple[str, int]:
    """A talk by Grace Hopper with two chats, one of them booked by two people; her link."""
    with app.app_context():
        talk = a_talk("compilers", "Grace Hopper")
        first, _ = slots_for(talk)
        book(talk, "ada@example.org", "Ada Lovelace", first, topic="Teaching compilers\nto everyone")
        book(talk, "bob@example.org", "Bob Noyce", first)
        return link_for(talk.id, "Grace Hopper"), talk.id


def page_text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def test_the_speaker_sees_each_chat_with_time_place_names_and_topics(
    client: FlaskClient, grace: tuple[str, int]
) -> None:
    link, _ = grace
    response = client.get(link)
    assert response.status_code == 200
    page = page_text(response)
    assert "Talk compilers" in page
    assert "Monday, July 29, 2030, 11:00 AM – 12:00 PM EDT" in page
    assert "12:00 PM – 12:15 PM EDT" in page and "12:15 PM – 12:30 PM EDT" in page
    assert "Room 301" in page
    assert "Ada Lovelace" in page and "Bob Noyce" in page
    assert "Teaching compilers\nto everyone" in page
    assert "Nobody has booked this chat." in page, "the second chat is empty"
    assert page.index("Ada Lovelace") < page.index("Nobody has booked")
    assert "Cambridge" not in page, "no affiliations when the talk does not ask for them"


def test_the_page_reveals_no_address_and_links_nowhere_into_the_site(
    client: FlaskClient, grace: tuple[str, int]
) -> None:
    link, _ = grace
    page = page_text(client.get(link))
    assert "@example.org" not in page
    assert "/rsvp/" not in page and "/organize" not in page
    hrefs = re.findall(r'href="([^"]+)"', page)
    assert all(href.startswith(("/static/", "mailto:")) for href in hrefs), hrefs
    assert "<form" not in page


def test_the_page_is_kept_out_of_caches_search_engines_and_referers(
    client: FlaskClient, grace: tuple[str, int]
) -> None:
    link, _ = grace
    response = client.get(link)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert '<meta name="robots" content="noindex">' in page_text(response)
    assert "Set-Cookie" not in response.headers
    # The site's other pages keep the site's own policy.
    assert client.get("/").headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_affiliations_show_when_the_talk_asks_for_them(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        talk = a_talk("asks", "Grace Hopper", ask_affiliation=True)
        [slot, _] = slots_for(talk)
        book(talk, "ada@example.org", "Ada Lovelace", slot)
        link = link_for(talk.id, "Grace Hopper")
    assert "Cambridge" in page_text(client.get(link))


def test_a_revoked_link_gets_a_plain_404(app: Flask, client: FlaskClient, grace: tuple[str, int]) -> None:
    link, talk_id = grace
    with app.app_context():
        chats.speaker_link_nonce(db.session, talk_id, revoke=True)
        db.session.commit()
    response = client.get(link)
    assert response.status_code == 404
    page = page_text(response)
    assert "This link no longer works" in page
    assert "Ada Lovelace" not in page and "Talk compilers" not in page
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_a_new_link_replaces_the_old_one(app: Flask, client: FlaskClient, grace: tuple[str, int]) -> None:
    old, talk_id = grace
    with app.app_context():
        new = link_for(talk_id, "Grace Hopper")
    assert new != old
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


def test_no_link_works_before_the_organizers_make_one(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        talk = a_talk("no-link", "Grace Hopper")
        slots_for(talk)
        assert talk.chat_link_nonce == ""
        token = speaker_token(SECRET, talk, "Grace Hopper")
    assert client.get(f"/chats/speaker/{token}").status_code == 404


def test_a_link_opens_its_own_talk_and_no_other(app: Flask, client: FlaskClient, grace: tuple[str, int]) -> None:
    link, talk_id = grace
    with app.app_context():
        other = a_talk("other", "Alan Turing")
        [slot, _] = slots_for(other)
        book(other, "cy@example.org", "Cy Other", slot)
        other_link = link_for(other.id, "Alan Turing")
        # This talk's id with the other talk's nonce: a link Lectern never made.
        mixed = SimpleNamespace(id=talk_id, chat_link_nonce=db.session.get(Talk, other.id).chat_link_nonce)  # type: ignore[union-attr]
        forged = speaker_token(SECRET, mixed, "Grace Hopper")  # type: ignore[arg-type]
    mine, theirs = page_text(client.get(link)), page_text(client.get(other_link))
    assert "Ada Lovelace" in mine and "Cy Other" not in mine and "Talk other" not in mine
    assert "Cy Other" in theirs and "Ada Lovelace" not in theirs
    assert client.get(f"/chats/speaker/{forged}").status_code == 404


def test_a_manage_link_or_a_made_up_token_is_refused(app: Flask, client: FlaskClient, grace: tuple[str, int]) -> None:
    _, talk_id = grace
    with app.app_context():
        talk = db.session.get(Talk, talk_id)
        assert talk is not None
        rsvp = signups.sign_up(db.session, talk.id, name="Dee", email="dee@example.org", mode="room", now=NOW).rsvp
        db.session.commit()
        manage = manage_token(SECRET, rsvp)
    for token in (manage, "not-a-token", "W10.abc", "x" * 300):
        response = client.get(f"/chats/speaker/{token}")
        assert response.status_code == 404, token
        assert "This link no longer works" in page_text(response)


def test_with_several_speakers_each_link_shows_that_speakers_chats(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        talk = a_talk("duo", "Grace Hopper", "Alan Turing")
        [grace_slot] = slots_for(talk, count=1, speaker="Grace Hopper")
        [alan_slot] = slots_for(talk, count=1, speaker="Alan Turing", start=TALK_START + timedelta(hours=3))
        book(talk, "ada@example.org", "Ada Lovelace", grace_slot)
        book(talk, "bob@example.org", "Bob Noyce", alan_slot)
        chats.speaker_link_nonce(db.session, talk.id)
        db.session.commit()
        links = {
            name: "/chats/speaker/" + speaker_token(SECRET, talk, name) for name in ("Grace Hopper", "Alan Turing", "")
        }
    to_grace = page_text(client.get(links["Grace Hopper"]))
    assert "Ada Lovelace" in to_grace and "Bob Noyce" not in to_grace
    to_alan = page_text(client.get(links["Alan Turing"]))
    assert "Bob Noyce" in to_alan and "Ada Lovelace" not in to_alan
    everyone = page_text(client.get(links[""]))
    assert "Chats with Grace Hopper" in everyone and "Chats with Alan Turing" in everyone
    assert "Ada Lovelace" in everyone and "Bob Noyce" in everyone


def test_a_cancelled_talk_says_so_and_lists_nobody(app: Flask, client: FlaskClient, grace: tuple[str, int]) -> None:
    link, talk_id = grace
    with app.app_context():
        talk = db.session.get(Talk, talk_id)
        assert talk is not None
        before = talk_changes.facts(talk)
        talk.status = TalkStatus.CANCELLED
        talk_changes.record(db.session, talk, before, TalkCause.CANCELLED, NOW)
        jobs.commit_and_dispatch()
    response = client.get(link)
    assert response.status_code == 200
    assert "This talk is cancelled" in page_text(response)
    assert "Ada Lovelace" not in page_text(response)


def test_a_failure_on_the_speakers_page_is_logged_without_the_link(
    app: Flask,
    client: FlaskClient,
    grace: tuple[str, int],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    link, _ = grace
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(chats, "schedule_for", broken)
    with caplog.at_level("ERROR"):
        assert client.get(link).status_code == 500
    assert "Exception on /chats/speaker/<token>" in caplog.text
    assert link.removeprefix("/chats/speaker/") not in caplog.text
