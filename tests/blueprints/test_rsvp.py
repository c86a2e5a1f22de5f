"""Signing up through the pages: the form, the confirmation, the manage link, and the emails it all sends."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from werkzeug.test import TestResponse

import jobs
from extensions import db
from models import OutboxMessage, Rsvp, RsvpStatus, Talk, TalkStatus
from services import delivery, demo, signups, talk_editing, talks
from services.tokens import manage_token
from tests.rsvp_support import html_part, invite, make_talk, sent, sent_to, text_part, the_event

DEMO = "what-quiet-benchmarks-hide"
CONTACT = "talks@quiet.example.org"


@pytest.fixture
def seeded(app: Flask) -> Flask:
    with app.app_context():
        series = talks.get_series(
            db.session, name="Test Series", timezone="America/Montreal", default_minutes=60, contact_email=CONTACT
        )
        demo.seed(db.session, series, today=datetime.now(UTC), sign_ups=False)
        db.session.commit()
    return app


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


def small_talk(app: Flask, seats: int = 1, **fields: object) -> str:
    with app.app_context():
        return make_talk(seats, slug="small-talk", contact_email=CONTACT, **fields).slug


def sign_up(
    client: FlaskClient, slug: str, email: str, mode: str = "room", name: str = "", *, remote_addr: str = "127.0.0.1"
) -> TestResponse:
    data = {"name": name or email.split("@")[0].title(), "email": email, "mode": mode}
    return client.post(f"/talks/{slug}/rsvp", data=data, environ_base={"REMOTE_ADDR": remote_addr})


def answered_sent(response: TestResponse, slug: str) -> bool:
    """The one answer to a sign-up that went through, new or repeat: "check your email"."""
    return response.status_code == 303 and response.headers["Location"] == f"/talks/{slug}/rsvp/sent"


def signed_up(client: FlaskClient, slug: str, email: str, mode: str = "room", name: str = "") -> str:
    """Sign up and return the manage page's path, as the confirmation email gives it."""
    response = sign_up(client, slug, email, mode, name)
    assert answered_sent(response, slug), response.get_data(as_text=True)
    app = client.application
    rsvp = rsvp_of(app, signups.normalise_email(email))
    assert rsvp is not None, f"{email} is signed up"
    return "/rsvp/" + manage_token(app.config["SECRET_KEY"], rsvp)


def page(response: TestResponse) -> str:
    return unescape(response.get_data(as_text=True))


def rsvp_of(app: Flask, email: str) -> Rsvp | None:
    with app.app_context():
        rsvp = db.session.scalars(select(Rsvp).where(Rsvp.email == email, Rsvp.status != RsvpStatus.CANCELLED)).first()
        if rsvp is not None:
            db.session.expunge(rsvp)
        return rsvp


def rsvp_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Rsvp.id))) or 0


def last_to(app: Flask, address: str) -> EmailMessage:
    messages = sent_to(app, address)
    assert messages, f"no email to {address}"
    return messages[-1]


def manage_path_in(message: EmailMessage) -> str:
    found = re.search(r"http://lectern\.test(/rsvp/[A-Za-z0-9_.\-]+)", text_part(message))
    assert found, "the email carries the manage link"
    return found.group(1)


def label_for(html: str, text: str) -> str:
    """The id of the control a visible <label> names (for= or a wrapped input)."""
    found = re.search(r'<label for="([^"]+)">\s*' + re.escape(text) + r"\s*</label>", html)
    if found:
        assert f'id="{found.group(1)}"' in html
        return found.group(1)
    wrapped = re.search(
        r'<label class="check"><input [^>]*id="([^"]+)"[^>]*>\s*' + re.escape(text) + r"\s*</label>", html
    )
    assert wrapped, f"no label {text!r}"
    return wrapped.group(1)


# The form ---------------------------------------------------------------------------------


def test_form_has_the_labels_people_look_for(seeded: Flask, client: FlaskClient) -> None:
    response = client.get(f"/talks/{DEMO}/rsvp")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert label_for(html, "Name") == "name"
    assert label_for(html, "Email") == "email"
    room, online = label_for(html, "In the room"), label_for(html, "Online")
    assert re.search(rf'id="{room}"[^>]*value="room"', html)
    assert re.search(rf'id="{online}"[^>]*value="online"', html)
    assert "What Quiet Benchmarks Hide" in html and "Auditorium 2" in html


def test_the_talk_page_leads_to_the_form(seeded: Flask, client: FlaskClient) -> None:
    assert f'href="/talks/{DEMO}/rsvp"' in client.get(f"/talks/{DEMO}").get_data(as_text=True)


def test_an_online_only_talk_offers_only_online(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, room=False)
    html = client.get(f"/talks/{slug}/rsvp").get_data(as_text=True)
    assert label_for(html, "Online")
    assert "In the room" not in html
    assert re.search(r'<input checked[^>]*value="online"', html), "the only choice is already chosen"
    location = signed_up(client, slug, "ada@example.org", "online")
    assert "You will follow online" in page(client.get(location))


def test_unknown_or_unpublished_talks_have_no_form(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, published=False)
    assert client.get("/talks/no-such-talk/rsvp").status_code == 404
    assert client.get(f"/talks/{slug}/rsvp").status_code == 404
    assert sign_up(client, slug, "ada@example.org").status_code == 404
    assert rsvp_count(app) == 0


@pytest.mark.parametrize(
    ("data", "message", "field"),
    [
        ({"name": ""}, "Please enter your name.", "name"),
        ({"name": "   "}, "Please enter your name.", "name"),
        ({"email": ""}, "Please enter your email address.", "email"),
        ({"email": "ada.example.org"}, "Please enter a valid email address", "email"),
        ({"email": "ada@example"}, "Please enter a valid email address", "email"),
        ({"mode": ""}, "Please choose how you will attend.", "mode"),
        ({"mode": "balcony"}, "Not a valid choice", "mode"),
        ({"name": "x" * 201}, "Field cannot be longer than 200 characters.", "name"),
    ],
)
def test_invalid_forms_say_what_to_fix_and_save_nothing(
    seeded: Flask, client: FlaskClient, data: dict[str, str], message: str, field: str
) -> None:
    form = {"name": "Ada Lovelace", "email": "ada@example.org", "mode": "room", **data}
    response = client.post(f"/talks/{DEMO}/rsvp", data=form)
    assert response.status_code == 400
    html = page(response)
    assert message in html
    if field in ("name", "email"):
        assert re.search(rf'aria-invalid="true"[^>]*id="{field}"|id="{field}"[^>]*aria-invalid="true"', html)
    if form["email"] and field != "email":
        assert f'value="{form["email"]}"' in html, "what was typed is kept"
    assert rsvp_count(seeded) == 0
    assert sent(seeded) == []


def test_a_series_restricted_to_some_domains_says_which(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=10, domains="mcgill.ca, umontreal.ca")
    refused = sign_up(client, slug, "ada@evilmcgill.ca")
    assert refused.status_code == 400
    assert "Sign-up is open to addresses at mcgill.ca, umontreal.ca." in page(refused)
    assert sign_up(client, slug, "ada@mcgill.ca.evil.com").status_code == 400
    signed_up(client, slug, "ada@cs.mcgill.ca")
    signed_up(client, slug, "bob@umontreal.ca")
    assert rsvp_count(app) == 2


def test_a_closed_talk_says_so(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, rsvp_open=False)
    assert "Sign-up for this talk is closed." in page(client.get(f"/talks/{slug}/rsvp"))
    response = sign_up(client, slug, "ada@example.org")
    assert response.status_code == 409
    assert "Sign-up for this talk is closed." in page(response)
    assert rsvp_count(app) == 0


def test_a_started_talk_takes_no_more_sign_ups(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, starts_at=datetime.now(UTC) - timedelta(minutes=5))
    assert sign_up(client, slug, "ada@example.org").status_code == 409


def test_full_online_places_are_a_conflict_with_a_message(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, online_limit=1)
    signed_up(client, slug, "first@example.org", "online")
    response = sign_up(client, slug, "second@example.org", "online")
    assert response.status_code == 409
    assert "The online places for this talk are all taken." in page(response)


def test_the_honeypot_gets_a_neutral_page_and_nothing_is_saved(seeded: Flask, client: FlaskClient) -> None:
    for form in (
        {"name": "Bot", "email": "bot@example.org", "mode": "room", "website": "http://spam.example"},
        {"name": "", "email": "not an email", "mode": "", "website": "x"},
    ):
        response = client.post(f"/talks/{DEMO}/rsvp", data=form)
        assert answered_sent(response, DEMO), "the answer anyone gets"
        html = page(client.get(response.headers["Location"]))
        assert "Check your email" in html
        assert "Please" not in html, "no hint of what a person would have been told"
    assert rsvp_count(seeded) == 0
    assert sent(seeded) == []


def test_the_honeypot_is_hidden_from_people(seeded: Flask, client: FlaskClient) -> None:
    html = client.get(f"/talks/{DEMO}/rsvp").get_data(as_text=True)
    hidden = re.search(r'<div class="hp" aria-hidden="true">(.*?)</div>', html)
    assert hidden and 'name="website"' in hidden.group(1)
    assert 'tabindex="-1"' in hidden.group(1) and 'autocomplete="off"' in hidden.group(1)


def test_forms_are_protected_against_forgery(seeded: Flask, client: FlaskClient) -> None:
    seeded.config["WTF_CSRF_ENABLED"] = True
    form = {"name": "Ada", "email": "ada@example.org", "mode": "room"}
    assert client.post(f"/talks/{DEMO}/rsvp", data=form).status_code == 400
    assert rsvp_count(seeded) == 0

    html = client.get(f"/talks/{DEMO}/rsvp").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    response = client.post(f"/talks/{DEMO}/rsvp", data={**form, "csrf_token": token})
    assert answered_sent(response, DEMO)
    path = manage_path_in(last_to(seeded, "ada@example.org"))
    manage = client.get(path).get_data(as_text=True)
    assert client.post(f"{path}/cancel").status_code == 400, "the cancel button is a CSRF-checked form"
    button_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', manage).group(1)  # type: ignore[union-attr]
    assert client.post(f"{path}/cancel", data={"csrf_token": button_token}).status_code == 302
    assert rsvp_of(seeded, "ada@example.org") is None


# Confirmation and the manage page ---------------------------------------------------------


def test_signing_up_says_check_your_email_and_the_email_leads_to_the_manage_page(
    seeded: Flask, client: FlaskClient
) -> None:
    response = sign_up(client, DEMO, "Ada@Example.org", name="Ada Lovelace")
    assert answered_sent(response, DEMO)
    answer = page(client.get(response.headers["Location"]))
    assert "Check your email" in answer and "/rsvp/" not in answer
    location = manage_path_in(last_to(seeded, "ada@example.org"))
    html = page(client.get(location))
    assert "You have a seat in the room" in html
    assert "Ada Lovelace · ada@example.org" in html
    assert "Auditorium 2" in html
    rsvp = rsvp_of(seeded, "ada@example.org")
    assert rsvp is not None and rsvp.status == RsvpStatus.SEATED


def test_signing_up_reads_nothing_after_its_commit(
    seeded: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer needs only the slug in the address: the committed talk is not read again."""
    monkeypatch.setattr(jobs, "dispatch", lambda ids: None)  # the emails' own reads are the queue's
    statements: list[str] = []
    with seeded.app_context():
        engine = db.engine
    listeners = {
        "before_cursor_execute": lambda conn, cursor, statement, *rest: statements.append(statement),
        "commit": lambda conn: statements.append("COMMIT"),
    }
    for name, listener in listeners.items():
        event.listen(engine, name, listener)
    try:
        response = sign_up(client, DEMO, "once@example.org")
    finally:
        for name, listener in listeners.items():
            event.remove(engine, name, listener)
    assert answered_sent(response, DEMO)
    assert "COMMIT" in statements
    assert statements[statements.index("COMMIT") + 1 :] == []


def test_signing_up_runs_one_statement_for_each_thing_it_needs(
    seeded: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the write lock: the talk with its series and room, then one INSERT for the sign-up
    (which compares the seats taken with the seats, writes nothing if the address is signed up,
    and returns the talk's meeting) and one for its confirmation; and the commit."""
    monkeypatch.setattr(jobs, "dispatch", lambda ids: None)  # the emails' own reads are the queue's
    statements: list[str] = []
    with seeded.app_context():
        engine = db.engine
    listeners = {
        "before_cursor_execute": lambda conn, cursor, statement, *rest: statements.append(statement),
        "commit": lambda conn: statements.append("COMMIT"),
    }
    for name, listener in listeners.items():
        event.listen(engine, name, listener)
    try:
        response = sign_up(client, DEMO, "once@example.org")
    finally:
        for name, listener in listeners.items():
            event.remove(engine, name, listener)
    assert answered_sent(response, DEMO)

    def kind(statement: str) -> str:
        words = statement.replace("(", " ( ").replace(")", " ) ").split()
        if words[0] == "SELECT":  # the FROM of the statement itself, not of a subquery
            depth = 0
            for at, word in enumerate(words):
                depth += (word == "(") - (word == ")")
                if word == "FROM" and depth == 0:
                    return "SELECT FROM " + words[at + 1]
        return " ".join(words[:3] if words[0] == "INSERT" else words[:2])

    assert [kind(statement) for statement in statements] == [
        "BEGIN IMMEDIATE",
        "SELECT FROM talk",
        "INSERT INTO rsvp",  # returning the talk's meeting: is there one to register them with?
        "INSERT INTO outbox_message",
        "COMMIT",
    ]
    assert "FROM meeting" in statements[2], "the talk's meeting is looked up by the INSERT"


def test_the_waiting_list_shows_and_emails_the_position(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=1)
    signed_up(client, slug, "holder@example.org")
    first = signed_up(client, slug, "first@example.org")
    second = signed_up(client, slug, "second@example.org")

    assert "You are number 1 on the waiting list" in page(client.get(first))
    assert "You are number 2 on the waiting list" in page(client.get(second))
    email = last_to(app, "second@example.org")
    assert "Waiting list, number 2" in email["Subject"]
    assert "you are number 2 on the waiting list" in text_part(email)
    assert "number 2</strong> on the waiting list" in html_part(email)
    assert "Meanwhile you can follow the talk online." in text_part(email)


def test_a_repeat_sign_up_changes_nothing_and_resends_the_link(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=5)
    location = signed_up(client, slug, "ada@example.org", name="Ada")
    before = rsvp_of(app, "ada@example.org")

    response = sign_up(client, slug, "ADA@example.org", "online", name="Mallory")
    assert answered_sent(response, slug), "the same answer as a new sign-up"
    html = page(client.get(response.headers["Location"]))
    assert "Check your email" in html
    assert "/rsvp/" not in html, "whoever typed the address does not get the manage link"
    after = rsvp_of(app, "ada@example.org")
    assert after is not None and before is not None
    assert (after.id, after.name, after.status, after.sequence) == (before.id, "Ada", RsvpStatus.SEATED, 0)
    assert rsvp_count(app) == 1

    reminder = last_to(app, "ada@example.org")
    assert "Your sign-up is unchanged" in text_part(reminder)
    assert invite(reminder) is None, "no new invite: nothing changed"
    assert manage_path_in(reminder) == location, "the same link as before"


def test_switching_between_room_and_online_from_the_manage_page(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=1)
    holder = signed_up(client, slug, "holder@example.org")
    waiting = signed_up(client, slug, "waiting@example.org")
    confirmation = last_to(app, "waiting@example.org")

    response = client.post(f"{holder}/mode", data={"mode": "online"})
    assert response.status_code == 302 and response.headers["Location"] == holder
    html = page(client.get(holder))
    assert "Your sign-up is updated." in html
    assert "You will follow online" in html

    assert "You have a seat in the room" in page(client.get(waiting)), "the seat went to the first in line"
    promoted = last_to(app, "waiting@example.org")
    assert promoted["Subject"].startswith("A seat is yours")
    assert "a seat freed up and it is yours" in text_part(promoted)
    assert "a seat freed up and it is yours" in html_part(promoted)
    before, after = the_event(invite(confirmation)), the_event(invite(promoted))  # type: ignore[arg-type]
    assert str(after["UID"]) == str(before["UID"])
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])

    client.post(f"{holder}/mode", data={"mode": "room"})
    assert "You are number 1 on the waiting list" in page(client.get(holder)), "back to the room: in line"


def test_switching_to_full_online_places_is_refused_on_the_page(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=5, online_limit=1)
    signed_up(client, slug, "remote@example.org", "online")
    seated = signed_up(client, slug, "seated@example.org")
    response = client.post(f"{seated}/mode", data={"mode": "online"})
    assert response.status_code == 409
    html = page(response)
    assert "The online places for this talk are all taken." in html
    assert "You have a seat in the room" in html
    assert re.search(r'<input checked[^>]*value="room"', html), "the form shows the sign-up as it is"


def test_an_organizers_move_is_explained_and_the_seat_goes_to_the_next(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=1)
    signed_up(client, slug, "holder@example.org")
    signed_up(client, slug, "waiting@example.org")
    holder = rsvp_of(app, "holder@example.org")
    with app.app_context():
        signups.move(db.session, holder.id, RsvpStatus.ONLINE, datetime.now(UTC))  # type: ignore[union-attr]
        jobs.commit_and_dispatch()
    moved = last_to(app, "holder@example.org")
    assert "Your sign-up changed (the organizers moved it). You will follow online." in text_part(moved)
    assert "the organizers moved it" in html_part(moved)
    assert last_to(app, "waiting@example.org")["Subject"].startswith("A seat is yours")


def test_a_raised_capacity_seats_the_line_and_tells_them(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=1)
    signed_up(client, slug, "holder@example.org")
    first = signed_up(client, slug, "first@example.org")
    second = signed_up(client, slug, "second@example.org")
    with app.app_context():
        talk_id = db.session.scalars(select(Talk.id).where(Talk.slug == slug)).one()
        signups.set_capacity(db.session, talk_id, 2, None, datetime.now(UTC))
        jobs.commit_and_dispatch()
    assert last_to(app, "first@example.org")["Subject"].startswith("A seat is yours")
    assert "You have a seat in the room" in page(client.get(first))
    assert "You are number 1 on the waiting list" in page(client.get(second))
    assert not last_to(app, "second@example.org")["Subject"].startswith("A seat is yours")


def test_a_bad_mode_is_refused(seeded: Flask, client: FlaskClient) -> None:
    location = signed_up(client, DEMO, "ada@example.org")
    assert client.post(f"{location}/mode", data={"mode": "balcony"}).status_code == 400
    assert client.post(f"{location}/mode", data={}).status_code == 400
    assert "You have a seat in the room" in page(client.get(location))


def test_cancelling_from_the_manage_page(seeded: Flask, client: FlaskClient) -> None:
    location = signed_up(client, DEMO, "ada@example.org")
    confirmation = last_to(seeded, "ada@example.org")

    response = client.post(f"{location}/cancel")
    assert response.status_code == 302
    html = page(client.get(location))
    assert "Your sign-up is cancelled." in html and "This sign-up is cancelled" in html
    assert "Sign up again" in html, "the link keeps working after a change"

    cancelled = last_to(seeded, "ada@example.org")
    assert cancelled["Subject"].startswith("Sign-up cancelled")
    assert "/rsvp/" not in text_part(cancelled)
    calendar = invite(cancelled)
    assert calendar is not None and str(calendar["METHOD"]) == "CANCEL"
    event, original = the_event(calendar), the_event(invite(confirmation))  # type: ignore[arg-type]
    assert str(event["UID"]) == str(original["UID"])
    assert int(event["SEQUENCE"]) > int(original["SEQUENCE"])
    assert str(event["STATUS"]) == "CANCELLED"

    again = signed_up(client, DEMO, "ada@example.org")
    assert again != location and "You have a seat in the room" in page(client.get(again))


def test_changes_after_the_start_are_refused_with_a_message(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=5)
    location = signed_up(client, slug, "ada@example.org")
    with app.app_context():
        talk = db.session.scalars(select(Talk).where(Talk.slug == slug)).one()
        talk.starts_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    html = page(client.get(location))
    assert "How will you attend?" not in html and "Cancel my sign-up" not in html
    response = client.post(f"{location}/mode", data={"mode": "online"})
    assert response.status_code == 409
    assert "The talk has started; your sign-up can no longer change." in page(response)
    assert "You have a seat in the room" in page(response)
    assert rsvp_of(app, "ada@example.org").status == RsvpStatus.SEATED  # type: ignore[union-attr]


def test_erasing_removes_the_sign_up_and_frees_the_seat(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=1)
    holder = signed_up(client, slug, "holder@example.org")
    signed_up(client, slug, "waiting@example.org")
    before = len(sent_to(app, "holder@example.org"))

    response = client.post(f"{holder}/delete")
    assert response.status_code == 200
    assert "Your sign-up is erased" in page(response)
    assert rsvp_of(app, "holder@example.org") is None
    last = sent_to(app, "holder@example.org")[before:]
    assert [m["Subject"] for m in last] == [f"Sign-up erased: “Talk {slug}”"], "one last message, no more"
    assert str(invite(last[0])["METHOD"]) == "CANCEL", "it takes the talk out of their calendar"
    with app.app_context():
        leftovers = db.session.scalars(select(OutboxMessage.payload).where(OutboxMessage.rsvp_id.is_(None))).all()
        assert leftovers == [{}], "once sent, the message forgets the address"
    assert last_to(app, "waiting@example.org")["Subject"].startswith("A seat is yours")

    gone = client.get(holder)
    assert gone.status_code == 404
    assert "This sign-up no longer exists" in page(gone)
    assert client.post(f"{holder}/cancel").status_code == 404
    assert client.post(f"{holder}/delete").status_code == 404


# Manage links -----------------------------------------------------------------------------


def test_a_tampered_link_is_refused_with_a_clear_message(seeded: Flask, client: FlaskClient) -> None:
    location = signed_up(client, DEMO, "ada@example.org")
    token = location.removeprefix("/rsvp/")
    payload, signature = token.split(".")
    altered_signature = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")
    other_id = "WzIsMSwiMDAwMDAwMDAwMDAwMDAwMCJd"  # [2, 1, "0000000000000000"], signature kept
    for bad in (f"{payload}.{altered_signature}", f"{other_id}.{signature}", token[:-5], "not-a-token", payload):
        response = client.get(f"/rsvp/{bad}")
        assert response.status_code == 400, bad
        assert "This link is not valid" in page(response)
        assert client.post(f"/rsvp/{bad}/cancel").status_code == 400
    assert rsvp_of(seeded, "ada@example.org") is not None, "nothing changed"


def test_a_link_signed_with_another_secret_is_refused(seeded: Flask, client: FlaskClient) -> None:
    signed_up(client, DEMO, "ada@example.org")
    rsvp = rsvp_of(seeded, "ada@example.org")
    assert rsvp is not None
    assert client.get(f"/rsvp/{manage_token('test-secret', rsvp)}").status_code == 200
    foreign = client.get(f"/rsvp/{manage_token('another-secret', rsvp)}")
    assert foreign.status_code == 400
    assert "This link is not valid" in page(foreign)


def test_the_manage_link_carries_no_personal_data(seeded: Flask, client: FlaskClient) -> None:
    location = signed_up(client, DEMO, "ada.lovelace@example.org", name="Ada Lovelace")
    payload = location.removeprefix("/rsvp/").split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert "ada" not in decoded.lower() and "lovelace" not in decoded.lower()


def test_the_talk_page_sets_no_cookie_even_after_sign_ups(seeded: Flask, client: FlaskClient) -> None:
    response = sign_up(client, DEMO, "ada@example.org")
    assert answered_sent(response, DEMO)
    sign_up(client, DEMO, "ada@example.org")  # a repeat
    talk_page = client.get(f"/talks/{DEMO}")
    assert talk_page.status_code == 200
    assert "Set-Cookie" not in talk_page.headers
    assert "public" in talk_page.headers["Cache-Control"]
    assert "ada@example.org" not in page(talk_page)


# Emails -----------------------------------------------------------------------------------


def test_the_confirmation_email(seeded: Flask, client: FlaskClient) -> None:
    signed_up(client, DEMO, "ada@example.org", name="Ada Lovelace")
    [email] = sent(seeded)
    assert parseaddr(email["From"]) == ("Test Series", CONTACT)
    assert parseaddr(email["To"]) == ("Ada Lovelace", "ada@example.org")
    assert email["Subject"] == "Your seat for “What Quiet Benchmarks Hide”"
    assert email["Date"] and email["Message-ID"]

    text, html = text_part(email), html_part(email)
    for part in (text, html):
        assert "Hello Ada Lovelace," in part
        assert "What Quiet Benchmarks Hide" in part
        assert "Tomasz Ilunga-Berg" in part
        assert "Auditorium 2" in part
        assert re.search(r"\b(EST|EDT)\b", part), "the time carries the zone's abbreviation"
        assert "http://lectern.test/talks/what-quiet-benchmarks-hide" in part
        assert CONTACT in part
    assert "You have a seat in the room for this talk." in text
    assert "<html" in html and "<html" not in text

    path = manage_path_in(email)
    assert f'href="http://lectern.test{path}"' in html
    followed = client.get(path)
    assert followed.status_code == 200
    assert "You have a seat in the room" in page(followed)


def test_the_invite_is_a_request_from_the_series_to_the_attendee(seeded: Flask, client: FlaskClient) -> None:
    signed_up(client, DEMO, "ada@example.org", name="Ada Lovelace")
    [email] = sent(seeded)
    [attachment] = [part for part in email.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert attachment.get_param("method") == "REQUEST"
    calendar = invite(email)
    assert calendar is not None
    assert str(calendar["METHOD"]) == "REQUEST"
    event = the_event(calendar)
    assert str(event["ORGANIZER"]) == f"mailto:{CONTACT}"
    assert str(event["ORGANIZER"].params["CN"]) == "Test Series"
    assert str(event["ATTENDEE"]) == "mailto:ada@example.org"
    assert str(event["ATTENDEE"].params["CN"]) == "Ada Lovelace"
    with seeded.app_context():
        talk = db.session.scalars(select(Talk).where(Talk.slug == DEMO)).one()
        assert event.decoded("DTSTART") == talk.starts_at
        assert event.decoded("DTEND") == talk.ends_at
    assert "What Quiet Benchmarks Hide" in str(event["SUMMARY"])
    assert "Auditorium 2" in str(event["LOCATION"])
    assert int(event["SEQUENCE"]) == 0


def test_the_invite_keeps_its_uid_and_raises_its_sequence_on_each_change(seeded: Flask, client: FlaskClient) -> None:
    location = signed_up(client, DEMO, "ada@example.org")
    client.post(f"{location}/mode", data={"mode": "online"})
    client.post(f"{location}/mode", data={"mode": "room"})
    client.post(f"{location}/cancel")
    emails = sent_to(seeded, "ada@example.org")
    assert len(emails) == 4
    events = [the_event(invite(email)) for email in emails]  # type: ignore[arg-type]
    assert len({str(event["UID"]) for event in events}) == 1
    sequences = [int(event["SEQUENCE"]) for event in events]
    assert sequences == sorted(set(sequences)), f"strictly growing: {sequences}"
    assert [str(invite(email)["METHOD"]) for email in emails] == ["REQUEST", "REQUEST", "REQUEST", "CANCEL"]  # type: ignore[index]


def test_two_people_get_two_invites(seeded: Flask, client: FlaskClient) -> None:
    signed_up(client, DEMO, "ada@example.org")
    signed_up(client, DEMO, "bob@example.org")
    uids = {str(the_event(invite(email))["UID"]) for email in sent(seeded)}  # type: ignore[arg-type]
    assert len(uids) == 2


def _talk_data(talk: Talk, **changes: object) -> talk_editing.TalkData:
    tz = ZoneInfo(talk.series.timezone)
    start = talk.starts_at.astimezone(tz)
    data = talk_editing.TalkData(
        title=talk.title,
        day=start.date(),
        start=start.time(),
        minutes=int((talk.ends_at - talk.starts_at).total_seconds() // 60),
        status=talk.status,
        published=talk.published,
        slug=talk.slug,
        room_id=talk.room_id,
        online_platform=talk.online_platform,
        semester_id=talk.semester_id,
        intro_md=talk.intro_md,
        parts=[
            talk_editing.PartData(
                title=part.title,
                speakers=[talk_editing.SpeakerData(s.name, s.affiliation, s.url) for s in part.speakers],
                abstract_md=part.abstract_md,
                bio_md=part.bio_md,
            )
            for part in talk.parts
        ],
    )
    for name, value in changes.items():
        setattr(data, name, value)
    return data


def test_rescheduling_sends_everyone_an_updated_invite(seeded: Flask, client: FlaskClient) -> None:
    signed_up(client, DEMO, "ada@example.org")
    signed_up(client, DEMO, "bob@example.org", "online")
    gone = signed_up(client, DEMO, "gone@example.org")
    client.post(f"{gone}/cancel")
    first = {address: the_event(invite(last_to(seeded, address))) for address in ("ada@example.org", "bob@example.org")}  # type: ignore[arg-type]
    gone_count = len(sent_to(seeded, "gone@example.org"))

    with seeded.app_context():
        talk = db.session.scalars(select(Talk).where(Talk.slug == DEMO)).one()
        new_day = talk.starts_at.astimezone(ZoneInfo("America/Montreal")).date() + timedelta(days=7)
        talk_editing.apply_talk(db.session, talk.series, _talk_data(talk, day=new_day), talk)
        assert signups.notify_talk_changed(db.session, talk, "time") == 2
        jobs.commit_and_dispatch()
        new_start = talk.starts_at

    assert len(sent_to(seeded, "gone@example.org")) == gone_count, "a cancelled sign-up is not told"
    for address in ("ada@example.org", "bob@example.org"):
        email = last_to(seeded, address)
        assert email["Subject"].startswith("Changed:")
        assert "has changed" in text_part(email)
        calendar = invite(email)
        assert calendar is not None and str(calendar["METHOD"]) == "REQUEST"
        event = the_event(calendar)
        assert str(event["UID"]) == str(first[address]["UID"])
        assert int(event["SEQUENCE"]) > int(first[address]["SEQUENCE"])
        assert event.decoded("DTSTART") == new_start


def test_cancelling_the_talk_sends_everyone_a_cancellation(seeded: Flask, client: FlaskClient) -> None:
    signed_up(client, DEMO, "ada@example.org")
    first = the_event(invite(last_to(seeded, "ada@example.org")))  # type: ignore[arg-type]
    with seeded.app_context():
        talk = db.session.scalars(select(Talk).where(Talk.slug == DEMO)).one()
        talk_editing.set_status(talk, TalkStatus.CANCELLED)
        signups.notify_talk_changed(db.session, talk, "cancelled")
        jobs.commit_and_dispatch()
    email = last_to(seeded, "ada@example.org")
    assert email["Subject"].startswith("Cancelled:")
    assert "this talk is cancelled" in text_part(email)
    calendar = invite(email)
    assert calendar is not None and str(calendar["METHOD"]) == "CANCEL"
    event = the_event(calendar)
    assert str(event["UID"]) == str(first["UID"]) and int(event["SEQUENCE"]) > int(first["SEQUENCE"])


def test_a_name_with_a_line_break_still_gets_its_email(seeded: Flask, client: FlaskClient) -> None:
    signed_up(client, DEMO, "ada@example.org", name="Ada\r\nBcc: eve@example.org")
    [email] = sent(seeded)
    assert parseaddr(email["To"]) == ("Ada Bcc: eve@example.org", "ada@example.org")
    assert email["Bcc"] is None


# Reminders and retention ------------------------------------------------------------------


def test_the_reminder_goes_out_once(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=5, starts_at=datetime.now(UTC).replace(microsecond=0) + timedelta(hours=20))
    signed_up(client, slug, "ada@example.org")
    signed_up(client, slug, "bob@example.org", "online")
    gone = signed_up(client, slug, "gone@example.org")
    client.post(f"{gone}/cancel")
    with app.app_context():
        talk_id = db.session.scalars(select(Talk.id).where(Talk.slug == slug)).one()
        signups.add_walk_in(db.session, talk_id, name="Walk-in", email="", now=datetime.now(UTC))
        db.session.commit()
    before = len(sent(app))

    with app.app_context():
        assert jobs.send_reminders.call_local() == 2
        assert jobs.send_reminders.call_local() == 0, "once"
    reminders = sent(app)[before:]
    assert sorted(parseaddr(email["To"])[1] for email in reminders) == ["ada@example.org", "bob@example.org"]
    day = "today" if "Today:" in reminders[0]["Subject"] else "tomorrow"  # 20 hours ahead: either
    assert reminders[0]["Subject"] == f"{day.capitalize()}: “Talk small-talk”"
    assert f"A reminder: the talk you signed up for is {day}." in text_part(reminders[0])
    assert invite(reminders[0]) is not None


def test_no_reminder_for_talks_further_away_or_cancelled(app: Flask, ctx: None) -> None:
    now = datetime.now(UTC)
    far = make_talk(5, slug="far", starts_at=now + timedelta(days=3))
    off = make_talk(5, slug="off", starts_at=now + timedelta(hours=3), status=TalkStatus.CANCELLED)
    signups.sign_up(db.session, far.id, name="Ada", email="ada@example.org", mode="room", now=now)
    off.status = TalkStatus.SCHEDULED
    signups.sign_up(db.session, off.id, name="Ada", email="ada@example.org", mode="room", now=now)
    off.status = TalkStatus.CANCELLED
    db.session.commit()
    assert delivery.queue_reminders(db.session, now) == 0


def test_a_talk_moved_after_its_reminder_gets_another_for_its_new_date(app: Flask, ctx: None) -> None:
    now = datetime.now(UTC)
    talk = make_talk(5, starts_at=now + timedelta(hours=10))
    signups.sign_up(db.session, talk.id, name="Ada", email="ada@example.org", mode="room", now=now)
    db.session.commit()
    assert delivery.queue_reminders(db.session, now) == 1
    db.session.commit()
    talk.starts_at, talk.ends_at = now + timedelta(days=7), now + timedelta(days=7, hours=1)
    db.session.commit()
    assert delivery.queue_reminders(db.session, now + timedelta(hours=1)) == 0
    assert delivery.queue_reminders(db.session, now + timedelta(days=6, hours=12)) == 1
    assert delivery.queue_reminders(db.session, now + timedelta(days=6, hours=13)) == 0


def test_retention_erases_old_sign_ups_only(app: Flask, ctx: None) -> None:
    now = datetime.now(UTC)
    old = make_talk(5, slug="old", starts_at=now - timedelta(days=200))
    recent = make_talk(5, slug="recent", starts_at=now - timedelta(days=30))
    upcoming = make_talk(5, slug="upcoming")
    for talk in (old, recent, upcoming):
        for who in ("ada@example.org", "bob@example.org"):
            signups.sign_up(
                db.session, talk.id, name="X", email=who, mode="room", now=talk.starts_at - timedelta(days=1)
            )
    db.session.commit()

    app.config["ATTENDEE_RETENTION_DAYS"] = 180
    assert jobs.purge_attendee_data.call_local() == 2
    remaining = db.session.scalars(select(Rsvp.talk_id)).all()
    assert sorted(remaining) == sorted([recent.id, recent.id, upcoming.id, upcoming.id])
    owed_for_old = db.session.scalars(select(OutboxMessage).where(OutboxMessage.talk_id == old.id)).all()
    assert owed_for_old == []
    assert db.session.get(Talk, old.id) is not None, "the talk itself stays"

    assert signups.purge_attendee_data(db.session, now, keep=timedelta(days=7)) == 2
    db.session.commit()
    assert db.session.scalars(select(Rsvp.talk_id)).all() == [upcoming.id, upcoming.id]


def test_the_privacy_page_says_what_is_kept_and_for_how_long(seeded: Flask, client: FlaskClient) -> None:
    html = page(client.get("/privacy"))
    assert "erased 180 days after the talk" in html
    assert "your name, your email address" in html
    assert CONTACT in html
    seeded.config["ATTENDEE_RETENTION_DAYS"] = 90
    assert "erased 90 days after the talk" in page(client.get("/privacy"))
    assert "90 days after it" in page(client.get(f"/talks/{DEMO}/rsvp"))


# Rate limits ------------------------------------------------------------------------------


def test_a_sixth_submission_for_one_email_gets_a_friendly_429(app: Flask, client: FlaskClient) -> None:
    assert app.config["RATELIMIT_ENABLED"]
    slug = small_talk(app, seats=10)
    statuses = [sign_up(client, slug, "ada@example.org").status_code for _ in range(5)]
    assert statuses == [303] * 5
    response = sign_up(client, slug, " ADA@example.org")
    assert response.status_code == 429
    html = page(response)
    assert "Please wait a few minutes" in html
    assert "Nothing you sent was lost or changed." in html
    assert CONTACT in html
    assert rsvp_count(app) == 1
    assert answered_sent(sign_up(client, slug, "bob@example.org"), slug), "other people are not held back"
    assert client.get(f"/talks/{slug}/rsvp").status_code == 200, "reading the form is not limited"


def test_a_whole_lab_behind_one_address_can_sign_up(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app.config["RATELIMIT_ENABLED"]
    slug = small_talk(app, seats=400)
    # The emails are beside the point here (and tested above): leave them owed, to keep this quick.
    monkeypatch.setattr(jobs, "dispatch", lambda ids: None)
    statuses = [
        sign_up(client, slug, f"student{n}@lab.example.org", remote_addr="192.0.2.7").status_code for n in range(300)
    ]
    assert statuses == [303] * 300
    assert rsvp_count(app) == 300
    with app.app_context():
        owed = db.session.scalars(select(OutboxMessage.kind).where(OutboxMessage.done_at.is_(None))).all()
    assert owed == ["rsvp.confirmation"] * 300, "every confirmation is owed, none lost"


def test_the_manage_page_is_never_cached_nor_leaked_by_referrer(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=5)
    response = client.get(signed_up(client, slug, "priv@example.org"))
    assert response.headers["Cache-Control"] == "no-store"
    assert '<meta name="referrer" content="no-referrer">' in response.get_data(as_text=True)


def test_an_address_that_mail_servers_may_refuse_is_refused_at_once(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=5)
    response = sign_up(client, slug, "zoë@example.org")
    assert response.status_code == 400
    assert "valid email address" in page(response)
    assert rsvp_count(app) == 0


def test_typing_someones_address_blocks_them_for_one_talk_at_most(app: Flask, client: FlaskClient) -> None:
    app.config["RATELIMIT_ENABLED"] = True
    first = small_talk(app, seats=5)
    with app.app_context():
        second = make_talk(5, slug="other-talk", contact_email=CONTACT).slug
    for _ in range(6):
        last = sign_up(client, first, "victim@example.org")
    assert last.status_code == 429
    assert answered_sent(sign_up(client, second, "victim@example.org"), second)


def test_a_confirmation_written_before_a_cancellation_is_not_sent_after_it(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=5)
    dispatched: list[int] = []
    original = jobs.dispatch
    jobs.dispatch = dispatched.extend  # the queue is behind (a mail server was down)
    try:
        manage = signed_up(client, slug, "late@example.org")
        client.post(manage + "/cancel")
    finally:
        jobs.dispatch = original
    with app.app_context():
        for message_id in dispatched:
            jobs.deliver_message.call_local(message_id)
    subjects = [m["Subject"] for m in sent_to(app, "late@example.org")]
    assert subjects == [next(s for s in subjects if s.startswith("Sign-up cancelled"))]


def test_asking_for_a_new_link_retires_the_old_one(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=5)
    old = signed_up(client, slug, "fwd@example.org")
    response = client.post(f"{old}/new-link")
    assert response.status_code == 200
    assert "no longer works" in page(response)
    assert client.get(old).status_code == 404, "the forwarded link is dead"
    message = last_to(app, "fwd@example.org")
    assert "Older links no longer work" in text_part(message)
    new = manage_path_in(message)
    assert new != old
    assert "You have a seat in the room" in page(client.get(new))


# After the talk starts ---------------------------------------------------------------------


def _move_talk_to_yesterday(app: Flask, slug: str) -> None:
    with app.app_context():
        talk = db.session.scalars(select(Talk).where(Talk.slug == slug)).one()
        talk.starts_at = datetime.now(UTC) - timedelta(days=1)
        talk.ends_at = talk.starts_at + timedelta(hours=1)
        db.session.commit()


def test_a_sign_up_cannot_be_cancelled_after_the_talk_and_nobody_is_promoted(app: Flask, client: FlaskClient) -> None:
    slug = small_talk(app, seats=1)
    holder = signed_up(client, slug, "holder@example.org")
    signed_up(client, slug, "next@example.org")
    mails_before = len(sent_to(app, "next@example.org"))
    _move_talk_to_yesterday(app, slug)

    response = client.post(f"{holder}/cancel")  # a manage page left open since before the talk
    assert response.status_code == 409
    assert "The talk has started, so this sign-up can no longer be cancelled." in page(response)
    assert rsvp_of(app, "holder@example.org").status == RsvpStatus.SEATED  # type: ignore[union-attr]
    assert rsvp_of(app, "next@example.org").status == RsvpStatus.WAITING  # type: ignore[union-attr]
    assert len(sent_to(app, "next@example.org")) == mails_before, "no 'A seat is yours' after the talk"

    # Erasing stays possible (it is their data), and still promotes nobody.
    assert client.post(f"{holder}/delete").status_code == 200
    assert rsvp_of(app, "holder@example.org") is None
    assert rsvp_of(app, "next@example.org").status == RsvpStatus.WAITING  # type: ignore[union-attr]
    assert not any(m["Subject"].startswith("A seat is yours") for m in sent_to(app, "next@example.org"))
