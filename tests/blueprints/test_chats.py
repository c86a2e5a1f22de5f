"""Chats with the speaker through the pages: the booking page, the link from the talk page, and
the chat on the manage page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from extensions import db
from models import ChatAssignment, ChatBooking, ChatRequest, ChatSlot, Rsvp, RsvpStatus, Speaker, Talk
from services import chats, signups
from services.tokens import manage_token
from tests.rsvp_support import make_talk, outbox_rows, sent_to, text_part

SLUG = "a-talk"
SENT = f"/talks/{SLUG}/chat/sent"
ZONE = ZoneInfo("America/Montreal")  # the series' zone (tests/rsvp_support.py make_talk)


def chat_talk(
    app: Flask,
    *,
    slots: int = 3,
    capacity: int = 2,
    speakers: tuple[str, ...] = ("Grace Hopper",),
    **talk_fields: object,
) -> list[int]:
    """A talk by Grace Hopper (or these speakers) with a run of chat slots after it; their ids."""
    with app.app_context():
        talk = make_talk(10, slug=SLUG, **talk_fields)
        for position, name in enumerate(speakers):
            talk.parts[0].speakers.append(Speaker(position=position, name=name))
        db.session.commit()
        ids: list[int] = []
        for name in speakers if len(speakers) > 1 else ("",):
            made = chats.add_slots(
                db.session,
                talk.id,
                first_starts_at=None,
                count=slots,
                minutes=15,
                capacity=capacity,
                place="Room 210",
                speaker_name=name,
                now=datetime.now(UTC),
            )
            ids += [slot.id for slot in made]
        db.session.commit()
        return ids


def set_talk(app: Flask, **fields: object) -> None:
    with app.app_context():
        talk = db.session.scalars(select(Talk).where(Talk.slug == SLUG)).one()
        for name, value in fields.items():
            setattr(talk, name, value)
        db.session.commit()


def book(client: FlaskClient, email: str, *slot_ids: int, **fields: str) -> TestResponse:
    data = {"name": email.split("@")[0].title(), "email": email, "slot": str(slot_ids[0]) if slot_ids else ""}
    return client.post(f"/talks/{SLUG}/chat", data={**data, **fields})


def page(response: TestResponse) -> str:
    return unescape(response.get_data(as_text=True))


def rsvp_of(app: Flask, email: str) -> Rsvp | None:
    with app.app_context():
        rsvp = db.session.scalars(select(Rsvp).where(Rsvp.email == email, Rsvp.status != RsvpStatus.CANCELLED)).first()
        if rsvp is not None:
            db.session.expunge(rsvp)
        return rsvp


def manage_path(app: Flask, email: str) -> str:
    rsvp = rsvp_of(app, email)
    assert rsvp is not None, f"{email} is signed up"
    return "/rsvp/" + manage_token(app.config["SECRET_KEY"], rsvp)


def booked_slot(app: Flask, email: str) -> int | None:
    with app.app_context():
        return db.session.scalar(
            select(ChatBooking.slot_id).join(Rsvp, Rsvp.id == ChatBooking.rsvp_id).where(Rsvp.email == email)
        )


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def radio(html: str, slot_id: int, prefix: str = "slot") -> str:
    found = re.search(rf'<input type="radio"[^>]*id="{prefix}-{slot_id}"[^>]*>', html)
    assert found, f"a radio button for slot {slot_id}"
    assert '<label class="slot-choice' in html and f'for="{prefix}-{slot_id}"' in html, "and a label for it"
    return found.group(0)


def slot_label(html: str, slot_id: int, prefix: str = "slot") -> str:
    found = re.search(rf'<label class="slot-choice[^"]*" for="{prefix}-{slot_id}">(.*?)</label>', html, re.S)
    assert found, f"a label for slot {slot_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def local_start(app: Flask, slot_id: int) -> str:
    """When the slot starts as the series' clock shows it ('1:15 PM')."""
    with app.app_context():
        slot = db.session.get(ChatSlot, slot_id)
        assert slot is not None
        return f"{slot.starts_at.astimezone(ZONE):%I:%M %p}".lstrip("0")


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert found, "the form carries a CSRF token"
    return found.group(1)


# The booking page -----------------------------------------------------------------------------


def test_the_page_lists_each_slot_with_its_time_place_and_places_left(app: Flask, client: FlaskClient) -> None:
    first, second, _ = chat_talk(app, capacity=3)
    book(client, "ada@example.org", first)
    response = client.get(f"/talks/{SLUG}/chat")
    assert response.status_code == 200
    html = page(response)
    assert "Talk a-talk" in html and "Grace Hopper" in html
    assert "First come, first served" in html and "Chat sign-up closes" in html
    label = slot_label(html, first)
    assert "15 minutes" in label and "up to 3 people" in label and "Room 210" in label
    assert "2 of 3 places left" in label
    assert "3 of 3 places left" in slot_label(html, second)
    assert f"{local_start(app, first)} –" in label, "the time in the series' zone"
    for text in ("Name", "Email", "What would you like to talk about? (optional)"):
        assert re.search(rf"<label for=\"\w+\">{re.escape(text)}</label>", html), f"a field labelled {text!r}"
    assert "Affiliation" not in html, "asked only when the talk asks for it"
    assert 'name="website"' in html and 'class="hp"' in html


def test_the_page_is_never_cached_and_its_numbers_are_live(app: Flask, client: FlaskClient) -> None:
    first, *_ = chat_talk(app, capacity=2)
    client.get(f"/talks/{SLUG}")  # the talk page is cached for everyone ...
    before = client.get(f"/talks/{SLUG}/chat")
    assert before.headers["Cache-Control"] == "no-store"
    assert "2 of 2 places left" in slot_label(page(before), first)
    book(client, "ada@example.org", first)
    after = client.get(f"/talks/{SLUG}/chat")  # ... this page is not
    assert after.headers["Cache-Control"] == "no-store"
    assert "1 of 2 places left" in slot_label(page(after), first)
    talk_page = client.get(f"/talks/{SLUG}")
    assert "public" in talk_page.headers["Cache-Control"]
    assert "places left" not in page(talk_page), "no live numbers on the talk page"


def test_the_talk_page_links_to_the_chats_only_when_there_are_slots(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        make_talk(10, slug="no-chats")
    assert "/chat" not in page(client.get("/talks/no-chats"))
    assert client.get("/talks/no-chats/chat").status_code == 404
    chat_talk(app)
    html = page(client.get(f"/talks/{SLUG}"))
    assert f'href="/talks/{SLUG}/chat"' in html
    assert "Book a chat with Grace Hopper" in html


def test_the_talk_page_drops_the_link_when_chat_sign_up_is_closed(app: Flask, client: FlaskClient) -> None:
    chat_talk(app)
    assert f'href="/talks/{SLUG}/chat"' in page(client.get(f"/talks/{SLUG}"))
    set_talk(app, chat_open=False)
    assert f'href="/talks/{SLUG}/chat"' not in page(client.get(f"/talks/{SLUG}"))


def test_several_speakers_have_their_own_slots(app: Flask, client: FlaskClient) -> None:
    chat_talk(app, slots=2, speakers=("Grace Hopper", "Ada Lovelace"))
    html = page(client.get(f"/talks/{SLUG}/chat"))
    assert "Chats with Grace Hopper" in html and "Chats with Ada Lovelace" in html
    assert "Chat with the speakers" in page(client.get(f"/talks/{SLUG}"))


def test_booking_signs_the_person_up_and_books_the_slot(app: Flask, client: FlaskClient) -> None:
    _, second, _ = chat_talk(app)
    response = book(client, "Ada@Example.org", second, name="Ada Lovelace", topic="Compilers, mostly.")
    assert response.status_code == 303 and response.headers["Location"] == SENT
    answer = page(client.get(SENT))
    assert "Check your email" in answer and "/rsvp/" not in answer
    rsvp = rsvp_of(app, "ada@example.org")
    assert rsvp is not None
    assert (rsvp.name, rsvp.status, rsvp.chat_topic) == ("Ada Lovelace", RsvpStatus.SEATED, "Compilers, mostly.")
    assert booked_slot(app, "ada@example.org") == second
    with app.app_context():
        assert [row.rsvp_id for row in outbox_rows("chat.confirmation")] == [rsvp.id]
        assert [row.rsvp_id for row in outbox_rows("rsvp.confirmation")] == [rsvp.id]


def test_the_affiliation_is_asked_when_the_talk_asks_for_it(app: Flask, client: FlaskClient) -> None:
    first, *_ = chat_talk(app, ask_affiliation=True)
    assert '<label for="affiliation">Affiliation</label>' in page(client.get(f"/talks/{SLUG}/chat"))
    book(client, "ada@example.org", first, affiliation="Analytical Engines Ltd")
    rsvp = rsvp_of(app, "ada@example.org")
    assert rsvp is not None and rsvp.affiliation == "Analytical Engines Ltd"


def test_a_repeat_booking_changes_nothing_and_gets_the_same_answer(app: Flask, client: FlaskClient) -> None:
    first, second, _ = chat_talk(app)
    book(client, "ada@example.org", first, name="Ada", topic="Engines")
    response = book(client, "ADA@example.org", second, name="Mallory", topic="Something else")
    assert response.status_code == 303 and response.headers["Location"] == SENT, "the same answer as a new booking"
    rsvp = rsvp_of(app, "ada@example.org")
    assert rsvp is not None and (rsvp.name, rsvp.chat_topic) == ("Ada", "Engines")
    assert booked_slot(app, "ada@example.org") == first
    assert count(app, Rsvp) == 1 and count(app, ChatBooking) == 1
    link = text_part(sent_to(app, "ada@example.org")[-1])
    assert manage_path(app, "ada@example.org") in link, "the owner is sent their manage link again"


def test_a_full_slot_says_so_and_lists_the_slots_still_open(app: Flask, client: FlaskClient) -> None:
    first, second, third = chat_talk(app, capacity=1)
    book(client, "ada@example.org", first)
    book(client, "grace@example.org", third)
    response = book(client, "bob@example.org", first, name="Bob Builder")
    assert response.status_code == 409
    html = page(response)
    assert "This slot is full" in html
    still_open = re.search(r"Slots still open:(.*?)</ul>", html, re.S)
    assert still_open, "the slots still open are named"
    listed = still_open.group(1)
    assert f"{local_start(app, second)} –" in listed
    assert f"{local_start(app, first)} –" not in listed and f"{local_start(app, third)} –" not in listed
    assert "disabled" in radio(html, first) and "disabled" not in radio(html, second)
    assert "Full" in slot_label(html, first) and "Free" in slot_label(html, second)
    assert 'value="Bob Builder"' in html and 'value="bob@example.org"' in html, "what was typed is kept"
    assert rsvp_of(app, "bob@example.org") is None, "nothing saved"


def test_invalid_forms_say_what_to_fix_and_save_nothing(app: Flask, client: FlaskClient) -> None:
    first, *_ = chat_talk(app)
    no_slot = book(client, "ada@example.org")
    assert no_slot.status_code == 400 and "Please choose a slot." in page(no_slot)
    bad_email = book(client, "ada.example.org", first)
    assert bad_email.status_code == 400
    html = page(bad_email)
    assert "Please enter a valid email address" in html
    assert "checked" in radio(html, first), "the slot chosen stays chosen"
    no_name = book(client, "ada@example.org", first, name="  ")
    assert no_name.status_code == 400 and "Please enter your name." in page(no_name)
    gone = book(client, "ada@example.org", 99999)
    assert gone.status_code == 400 and "That chat slot no longer exists." in page(gone)
    nonsense = book(client, "ada@example.org", first, slot="１")
    assert nonsense.status_code == 400
    assert count(app, Rsvp) == 0 and count(app, ChatBooking) == 0


def test_the_honeypot_gets_the_same_answer_and_saves_nothing(app: Flask, client: FlaskClient) -> None:
    first, *_ = chat_talk(app)
    response = book(client, "bot@example.org", first, website="http://spam.example")
    assert response.status_code == 303 and response.headers["Location"] == SENT
    assert count(app, Rsvp) == 0 and count(app, ChatBooking) == 0


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"chat_open": False}, "the organizers have closed it"),
        ({"chat_closes_at": datetime.now(UTC) - timedelta(minutes=1)}, "Chat sign-up closed"),
    ],
)
def test_closed_chat_sign_up_says_so_and_takes_no_booking(
    app: Flask, client: FlaskClient, fields: dict[str, object], why: str
) -> None:
    first, *_ = chat_talk(app)
    set_talk(app, **fields)
    html = page(client.get(f"/talks/{SLUG}/chat"))
    assert why in html
    assert 'name="email"' not in html, "no form"
    response = book(client, "ada@example.org", first)
    assert response.status_code == 409
    assert why in page(response)
    assert count(app, Rsvp) == 0 and count(app, ChatBooking) == 0


def test_a_draw_asks_for_three_choices_in_order(app: Flask, client: FlaskClient) -> None:
    first, second, third = chat_talk(app, chat_assignment=ChatAssignment.DRAW)
    html = page(client.get(f"/talks/{SLUG}/chat"))
    assert 'type="radio"' not in html
    for name, label in (
        ("first", "First choice"),
        ("second", "Second choice (optional)"),
        ("third", "Third choice (optional)"),
    ):
        assert f'<label for="{name}">{label}</label>' in html and f'<select id="{name}" name="{name}"' in html
    assert "Places are given by a draw on" in html and "random order" in html
    response = client.post(
        f"/talks/{SLUG}/chat",
        data={"name": "Ada", "email": "ada@example.org", "first": str(third), "second": str(first), "third": ""},
    )
    assert response.status_code == 303 and response.headers["Location"] == SENT
    with app.app_context():
        wishes = db.session.execute(select(ChatRequest.rank, ChatRequest.slot_id).order_by(ChatRequest.rank)).all()
    assert [tuple(row) for row in wishes] == [(1, third), (2, first)]
    assert count(app, ChatBooking) == 0, "nobody is placed before the draw"
    no_choice = client.post(
        f"/talks/{SLUG}/chat", data={"name": "Bob", "email": "bob@example.org", "second": str(second)}
    )
    assert no_choice.status_code == 400 and "Please choose your first choice." in page(no_choice)


def test_while_the_draw_is_made_nobody_books(app: Flask, client: FlaskClient) -> None:
    first, *_ = chat_talk(app, chat_assignment=ChatAssignment.DRAW)
    set_talk(app, chat_draw_at=datetime.now(UTC) - timedelta(minutes=1))
    assert "The draw for these chats is being made" in page(client.get(f"/talks/{SLUG}/chat"))
    response = client.post(f"/talks/{SLUG}/chat", data={"name": "Ada", "email": "ada@example.org", "first": str(first)})
    assert response.status_code == 409
    assert count(app, Rsvp) == 0


def test_booking_works_with_csrf_on(app: Flask, client: FlaskClient) -> None:
    first, second, _ = chat_talk(app)
    app.config["WTF_CSRF_ENABLED"] = True
    assert book(client, "ada@example.org", first).status_code == 400, "no token, no booking"
    assert count(app, Rsvp) == 0
    token = csrf_token(client.get(f"/talks/{SLUG}/chat").get_data(as_text=True))
    assert book(client, "ada@example.org", first, csrf_token=token).status_code == 303
    path = manage_path(app, "ada@example.org")
    manage = client.get(path).get_data(as_text=True)
    assert client.post(f"{path}/chat", data={"slot": str(second)}).status_code == 400, "a CSRF-checked form"
    moved = client.post(f"{path}/chat", data={"slot": str(second), "csrf_token": csrf_token(manage)})
    assert moved.status_code == 302
    assert booked_slot(app, "ada@example.org") == second


def test_a_sixth_booking_for_one_address_gets_a_friendly_429(app: Flask, client: FlaskClient) -> None:
    assert app.config["RATELIMIT_ENABLED"]
    first, *_ = chat_talk(app, capacity=10)
    assert [book(client, "ada@example.org", first).status_code for _ in range(5)] == [303] * 5
    response = book(client, "ada@example.org", first)
    assert response.status_code == 429 and "Please wait a few minutes" in page(response)
    assert book(client, "bob@example.org", first).status_code == 303, "other people are not held back"


# The manage page ------------------------------------------------------------------------------


def test_the_manage_page_shows_the_booking(app: Flask, client: FlaskClient) -> None:
    first, *_ = chat_talk(app)
    book(client, "ada@example.org", first, topic="Compilers")
    response = client.get(manage_path(app, "ada@example.org"))
    assert response.headers["Cache-Control"] == "no-store"
    html = page(response)
    section = html[html.index("Chat with the speaker") :]
    assert "Your chat with Grace Hopper" in section
    assert "Room 210" in section and "15 minutes" in section and "Compilers" in section
    assert "Change slot" in section and "Cancel my chat" in section
    assert "checked" in radio(html, first, "move"), "the change form starts from the slot booked"


def test_changing_slot_moves_the_booking(app: Flask, client: FlaskClient) -> None:
    first, _, third = chat_talk(app)
    book(client, "ada@example.org", first)
    path = manage_path(app, "ada@example.org")
    response = client.post(f"{path}/chat", data={"slot": str(third)})
    assert response.status_code == 302 and response.headers["Location"] == path
    assert "Your chat is moved." in page(client.get(path))
    assert booked_slot(app, "ada@example.org") == third
    assert count(app, ChatBooking) == 1
    with app.app_context():
        assert len(outbox_rows("chat.moved")) == 1


def test_moving_into_a_full_slot_is_refused_on_the_page(app: Flask, client: FlaskClient) -> None:
    first, second, _ = chat_talk(app, capacity=1)
    book(client, "ada@example.org", first)
    book(client, "bob@example.org", second)
    path = manage_path(app, "ada@example.org")
    response = client.post(f"{path}/chat", data={"slot": str(second)})
    assert response.status_code == 409
    assert "This slot is full." in page(response)
    assert booked_slot(app, "ada@example.org") == first, "the booking stays where it was"


def test_cancelling_the_chat_keeps_the_sign_up(app: Flask, client: FlaskClient) -> None:
    first, *_ = chat_talk(app)
    book(client, "ada@example.org", first)
    path = manage_path(app, "ada@example.org")
    assert client.post(f"{path}/chat/cancel").status_code == 302
    html = page(client.get(path))
    assert "Your chat is cancelled." in html
    assert "You have a seat in the room" in html
    assert booked_slot(app, "ada@example.org") is None
    rsvp = rsvp_of(app, "ada@example.org")
    assert rsvp is not None and rsvp.status == RsvpStatus.SEATED
    assert "Book this chat" in html, "the slots to book again"


def test_with_no_chat_the_manage_page_offers_the_slots(app: Flask, client: FlaskClient) -> None:
    first, *_ = chat_talk(app)
    with app.app_context():
        talk = db.session.scalars(select(Talk).where(Talk.slug == SLUG)).one()
        signups.sign_up(db.session, talk.id, name="Ada", email="ada@example.org", mode="room", now=datetime.now(UTC))
        db.session.commit()
    path = manage_path(app, "ada@example.org")
    html = page(client.get(path))
    assert "2 of 2 places left" in slot_label(html, first, "book")
    response = client.post(f"{path}/chat", data={"slot": str(first), "topic": "Engines"})
    assert response.status_code == 302
    assert "Your chat is booked." in page(client.get(path))
    assert booked_slot(app, "ada@example.org") == first
    rsvp = rsvp_of(app, "ada@example.org")
    assert rsvp is not None and rsvp.chat_topic == "Engines"
    assert client.post(f"{path}/chat", data={}).status_code == 400, "no slot chosen"


def test_the_topic_can_be_edited(app: Flask, client: FlaskClient) -> None:
    first, *_ = chat_talk(app)
    book(client, "ada@example.org", first, topic="Engines")
    path = manage_path(app, "ada@example.org")
    assert client.post(f"{path}/chat/topic", data={"topic": "Looms, after all"}).status_code == 302
    assert "Looms, after all" in page(client.get(path))
    rsvp = rsvp_of(app, "ada@example.org")
    assert rsvp is not None and rsvp.chat_topic == "Looms, after all"
    assert client.post(f"{path}/chat/topic", data={"topic": "x" * 2001}).status_code == 400


def test_cancelling_the_sign_up_frees_the_chat(app: Flask, client: FlaskClient) -> None:
    first, *_ = chat_talk(app, capacity=1)
    book(client, "ada@example.org", first)
    path = manage_path(app, "ada@example.org")
    assert client.post(f"{path}/cancel").status_code == 302
    assert booked_slot(app, "ada@example.org") is None
    html = page(client.get(path))
    assert "This sign-up is cancelled" in html and "Your chat" not in html
    assert "Free" in slot_label(page(client.get(f"/talks/{SLUG}/chat")), first), "the place is free again"


def test_wishes_before_the_draw_are_edited_and_withdrawn_from_the_manage_page(app: Flask, client: FlaskClient) -> None:
    first, second, third = chat_talk(app, chat_assignment=ChatAssignment.DRAW)
    client.post(f"/talks/{SLUG}/chat", data={"name": "Ada", "email": "ada@example.org", "first": str(first)})
    path = manage_path(app, "ada@example.org")
    html = page(client.get(path))
    assert "You asked for these slots" in html
    assert re.search(rf'<select id="wish-first" name="first".*?<option value="{first}" selected', html, re.S)
    response = client.post(f"{path}/chat/wishes", data={"first": str(second), "second": str(third)})
    assert response.status_code == 302
    assert "Your choices are saved." in page(client.get(path))
    with app.app_context():
        wishes = db.session.execute(select(ChatRequest.rank, ChatRequest.slot_id).order_by(ChatRequest.rank)).all()
    assert [tuple(row) for row in wishes] == [(1, second), (2, third)]
    assert client.post(f"{path}/chat", data={"slot": str(first)}).status_code == 409, "no booking before the draw"
    assert client.post(f"{path}/chat/withdraw").status_code == 302
    assert count(app, ChatRequest) == 0
    html = page(client.get(path))
    assert "You are no longer in the draw." in html and "Ask for these slots" in html


def test_after_the_draw_the_manage_page_shows_its_result(app: Flask, client: FlaskClient) -> None:
    (only,) = chat_talk(app, slots=1, capacity=1, chat_assignment=ChatAssignment.DRAW)
    for who in ("ada@example.org", "bob@example.org"):
        client.post(f"/talks/{SLUG}/chat", data={"name": "Someone", "email": who, "first": str(only)})
    with app.app_context():
        talk = db.session.scalars(select(Talk).where(Talk.slug == SLUG)).one()
        chats.run_draw(db.session, talk.id, datetime.now(UTC), seed="fixed")
        db.session.commit()
    placed = "ada@example.org" if booked_slot(app, "ada@example.org") else "bob@example.org"
    other = "bob@example.org" if placed == "ada@example.org" else "ada@example.org"
    assert "The draw gave you this slot." in page(client.get(manage_path(app, placed)))
    assert "The draw did not give you a chat this time." in page(client.get(manage_path(app, other)))
