"""Organizers' side of the chats with the speaker, through their pages with CSRF on: slots and
their bookings, moves and cancellations on someone's behalf, the options, the draw and its check,
the speaker's link and schedule, the list for the door and the CSV export."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from extensions import db
from models import AuditEntry, ChatAssignment, ChatBooking, ChatDraw, ChatSlot, Rsvp, RsvpStatus, Talk
from services import chats, tokens
from tests.blueprints.conftest import ADA, EVE, logged_in
from tests.rsvp_support import outbox_rows

SLUG = "what-quiet-benchmarks-hide"  # one speaker, in Auditorium 2, three days from now
TWO_SPEAKERS = "student-lightning-talks"
MONTREAL = ZoneInfo("America/Montreal")
NOW = datetime.now(UTC).replace(microsecond=0)

_FORM = re.compile(r'<form method="post"(?: action="([^"]*)")?[^>]*>(.*?)</form>', re.S)
_INPUT = re.compile(r"<input\b([^>]*)>")
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')


class Browser:
    """An organizer's browser with CSRF on: it posts a form as the page shows it (its token and
    hidden fields), with the fields a person fills in."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)

    def submit(self, page: str, action: str | None = None, page_html: str | None = None, **fields: Any) -> Any:
        """Post the form of `page` whose action is `action` (None: the form that posts to the page)."""
        text = page_html if page_html is not None else self.get(page)
        target = action or page
        for found_action, body in _FORM.findall(text):
            posts_to = html.unescape(found_action).split("#")[0] if found_action else page
            if posts_to != target:
                continue
            data: dict[str, Any] = {}
            for attrs in _INPUT.findall(body):
                attr = {k: html.unescape(v) for k, v in _ATTR.findall(attrs)}
                if attr.get("type") == "hidden" and "name" in attr:
                    data[attr["name"]] = attr.get("value", "")
            assert data.get("csrf_token"), f"the form posting to {target} carries its CSRF token"
            data.update(fields)
            return self.client.post(target, data=data)
        raise AssertionError(f"no form posting to {target} on {page}")


@pytest.fixture
def organizer(seeded: Flask) -> Browser:
    seeded.config["WTF_CSRF_ENABLED"] = True
    return Browser(logged_in(seeded, ADA))


def talk_of(slug: str = SLUG) -> Talk:
    return db.session.scalars(select(Talk).where(Talk.slug == slug)).one()


def talk_id(app: Flask, slug: str = SLUG) -> int:
    with app.app_context():
        return talk_of(slug).id


def section(app: Flask, slug: str = SLUG) -> str:
    return f"/organize/talks/{talk_id(app, slug)}/chats"


def add_slots(app: Flask, count: int = 2, capacity: int = 2, slug: str = SLUG, **kwargs: Any) -> list[int]:
    with app.app_context():
        slots = chats.add_slots(
            db.session,
            talk_of(slug).id,
            first_starts_at=None,
            count=count,
            minutes=15,
            capacity=capacity,
            place=None,
            now=NOW,
            **kwargs,
        )
        db.session.commit()
        return [slot.id for slot in slots]


def book(app: Flask, email: str, *slot_ids: int, name: str = "", topic: str = "") -> int:
    with app.app_context():
        result = chats.book(
            db.session,
            talk_of().id,
            name=name or email.split("@")[0].title(),
            email=email,
            slot_ids=list(slot_ids),
            topic=topic,
            now=NOW,
        )
        db.session.commit()
        return result.rsvp.id


def booked_in(app: Flask, slot_id: int) -> list[str]:
    with app.app_context():
        query = select(Rsvp.email).join(ChatBooking, ChatBooking.rsvp_id == Rsvp.id)
        return sorted(db.session.scalars(query.where(ChatBooking.slot_id == slot_id)))


def messages(app: Flask, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """The outbox messages of a kind: whom each is about (or for), and what it carries."""
    with app.app_context():
        return [(row.rsvp.email if row.rsvp else row.recipient_email, row.payload) for row in outbox_rows(kind)]


def audit_actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def flashed(page: str) -> str:
    return " ".join(html.unescape(m) for m in re.findall(r'<p class="flash[^"]*" role="status">(.*?)</p>', page))


# The way in --------------------------------------------------------------------------------------


def test_the_talks_organizer_pages_link_to_its_chats(seeded: Flask, organizer: Browser) -> None:
    path = section(seeded)
    tid = talk_id(seeded)
    for page in (f"/organize/talks/{tid}/edit", f"/organize/talks/{tid}/attendees", "/organize/"):
        assert f'href="{path}"' in organizer.get(page), page
    assert "<h1>Chats with the speaker</h1>" in organizer.get(path)


def test_people_who_are_not_organizers_see_nothing(seeded: Flask) -> None:
    slot = add_slots(seeded)[0]
    book(seeded, "ann@example.org", slot)
    path = section(seeded)
    stranger = logged_in(seeded, EVE)
    anonymous = seeded.test_client()
    for url in (path, f"{path}/print", f"/organize/talks/{talk_id(seeded)}/chats.csv"):
        assert stranger.get(url).status_code == 403
        response = anonymous.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert stranger.post(f"{path}/slots", data={"count": "3", "minutes": "10", "capacity": "1"}).status_code == 403
    assert stranger.post(f"{path}/slots/{slot}/delete").status_code == 403
    assert booked_in(seeded, slot) == ["ann@example.org"]
    with seeded.app_context():
        assert len(chats.slots_of(db.session, talk_of().id)) == 2


# Slots ------------------------------------------------------------------------------------------


def test_a_run_added_with_the_defaults_starts_when_the_talk_ends_in_its_room(seeded: Flask, organizer: Browser) -> None:
    path = section(seeded)
    page = organizer.get(path)
    with seeded.app_context():
        ends_at = talk_of().ends_at
    shown = ends_at.astimezone(MONTREAL).strftime("%Y-%m-%dT%H:%M")
    assert f'value="{shown}"' in page, "the first chat starts when the talk ends, in the series' zone"
    assert 'value="Auditorium 2"' in page, "in the talk's room"
    for label in ("First chat starts", "Number of chats", "Minutes each", "People per chat", "Place"):
        assert f">{label}</label>" in page
    assert "1 for one-on-one, more for a small group." in page
    assert "Speaker</label>" not in page, "one speaker: no choice to make"

    # Emptied fields take the defaults too.
    response = organizer.submit(
        path, f"{path}/slots", first_starts_at="", count="3", minutes="20", capacity="1", place=""
    )
    assert response.status_code == 302
    with seeded.app_context():
        slots = chats.slots_of(db.session, talk_of().id)
        assert [s.starts_at for s in slots] == [ends_at + timedelta(minutes=20 * n) for n in range(3)]
        assert {(s.place, s.capacity, s.minutes) for s in slots} == {("Auditorium 2", 1, 20)}
    page = organizer.get(path)
    assert "Added 3 chats." in flashed(page)
    assert page.count('<article class="chat-slot') == 3
    assert "chat.slots.add" in audit_actions(seeded)


def test_a_run_at_a_time_and_place_of_ones_own(seeded: Flask, organizer: Browser) -> None:
    path = section(seeded)
    response = organizer.submit(
        path, f"{path}/slots", first_starts_at="2031-03-14T14:00", count="2", minutes="30", capacity="3", place="Café"
    )
    assert response.status_code == 302
    with seeded.app_context():
        slots = chats.slots_of(db.session, talk_of().id)
        # 2 PM in Montreal on March 14, 2031 is daylight time (UTC-4).
        assert [s.starts_at.isoformat() for s in slots] == ["2031-03-14T18:00:00+00:00", "2031-03-14T18:30:00+00:00"]
        assert {s.place for s in slots} == {"Café"}


def test_a_run_with_impossible_values_says_why_and_adds_nothing(seeded: Flask, organizer: Browser) -> None:
    path = section(seeded)
    response = organizer.submit(path, f"{path}/slots", count="0", minutes="15", capacity="1", place="")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Add between 1 and 40 chats." in page
    assert 'Nothing was saved: <a href="#add">' in page, "the top of the page points to the form to correct"
    assert re.search(r'<input checked[^>]*value="first_come"', page), "the other forms show what is saved"
    response = organizer.submit(path, f"{path}/slots", count="2", minutes="15", capacity="", place="")
    assert response.status_code == 400
    assert "How many people in each chat?" in response.get_data(as_text=True)
    with seeded.app_context():
        assert chats.slots_of(db.session, talk_of().id) == []


def test_a_talk_with_two_speakers_has_chats_per_speaker(seeded: Flask, organizer: Browser) -> None:
    path = section(seeded, TWO_SPEAKERS)
    with seeded.app_context():  # the demo's own chats for this talk, out of the way
        for slot in chats.slots_of(db.session, talk_of(TWO_SPEAKERS).id):
            chats.delete_slot(db.session, slot.id, datetime.now(UTC))
        db.session.commit()
    page = organizer.get(path)
    assert ">Speaker</label>" in page and "Ines Valtonen" in page and "Kofi Adjei-Marsh" in page
    response = organizer.submit(path, f"{path}/slots", count="2", minutes="10", capacity="1", place="", speaker="")
    assert response.status_code == 400
    assert "Please choose which speaker these chats are with." in response.get_data(as_text=True)
    for speaker in ("Kofi Adjei-Marsh", "Ines Valtonen"):
        response = organizer.submit(
            path, f"{path}/slots", count="2", minutes="10", capacity="1", place="", speaker=speaker
        )
        assert response.status_code == 302
    with seeded.app_context():
        slots = chats.slots_of(db.session, talk_of(TWO_SPEAKERS).id)
        assert [s.speaker_name for s in slots] == ["Ines Valtonen"] * 2 + ["Kofi Adjei-Marsh"] * 2
    page = organizer.get(path)
    assert page.index("<h3>Ines Valtonen</h3>") < page.index("<h3>Kofi Adjei-Marsh</h3>")


def test_editing_a_booked_chat_asks_first_then_emails_the_people_booked(seeded: Flask, organizer: Browser) -> None:
    slot = add_slots(seeded)[0]
    book(seeded, "ann@example.org", slot)
    book(seeded, "bob@example.org", slot)
    edit = f"{section(seeded)}/slots/{slot}/edit"
    form = organizer.get(edit)
    with seeded.app_context():
        before = db.session.get(ChatSlot, slot).starts_at
    assert f'value="{before.astimezone(MONTREAL):%Y-%m-%dT%H:%M}"' in form
    later = (before + timedelta(minutes=30)).astimezone(MONTREAL).strftime("%Y-%m-%dT%H:%M")

    asked = organizer.submit(edit, page_html=form, starts_at=later, minutes="15", capacity="2", place="Lounge")
    assert asked.status_code == 200
    question = asked.get_data(as_text=True)
    assert "2 people are booked in this chat; they will be emailed the new time and place. Save?" in question
    assert "ann@example.org" in question and "bob@example.org" in question
    with seeded.app_context():
        assert db.session.get(ChatSlot, slot).starts_at == before, "nothing changes before the yes"
    assert messages(seeded, "chat.moved") == []

    saved = organizer.submit(edit, page_html=question, starts_at=later, minutes="15", capacity="2", place="Lounge")
    assert saved.status_code == 302
    with seeded.app_context():
        moved = db.session.get(ChatSlot, slot)
        assert (moved.starts_at, moved.place) == (before + timedelta(minutes=30), "Lounge")
    told = messages(seeded, "chat.moved")
    assert sorted(email for email, _ in told) == ["ann@example.org", "bob@example.org"]
    assert {payload["slot"]["place"] for _, payload in told} == {"Lounge"}
    assert "are emailed the change" in flashed(organizer.get(section(seeded)))
    assert "chat.slot.update" in audit_actions(seeded)


def test_more_places_in_a_booked_chat_need_no_question_and_tell_nobody(seeded: Flask, organizer: Browser) -> None:
    slot = add_slots(seeded)[0]
    book(seeded, "ann@example.org", slot)
    edit = f"{section(seeded)}/slots/{slot}/edit"
    with seeded.app_context():
        start = db.session.get(ChatSlot, slot).starts_at.astimezone(MONTREAL).strftime("%Y-%m-%dT%H:%M")
    response = organizer.submit(edit, starts_at=start, minutes="15", capacity="5", place="Auditorium 2")
    assert response.status_code == 302
    with seeded.app_context():
        assert db.session.get(ChatSlot, slot).capacity == 5
    assert messages(seeded, "chat.moved") == []


def test_a_chat_cannot_get_fewer_places_than_people_booked(seeded: Flask, organizer: Browser) -> None:
    slot = add_slots(seeded)[0]
    book(seeded, "ann@example.org", slot)
    book(seeded, "bob@example.org", slot)
    edit = f"{section(seeded)}/slots/{slot}/edit"
    with seeded.app_context():
        start = db.session.get(ChatSlot, slot).starts_at.astimezone(MONTREAL).strftime("%Y-%m-%dT%H:%M")
    response = organizer.submit(edit, starts_at=start, minutes="15", capacity="1", place="Auditorium 2")
    assert response.status_code == 400
    assert "2 people are booked in this chat: move or cancel some" in response.get_data(as_text=True)
    assert booked_in(seeded, slot) == ["ann@example.org", "bob@example.org"]


def test_deleting_a_booked_chat_names_the_people_then_cancels_their_chats(seeded: Flask, organizer: Browser) -> None:
    slot, other = add_slots(seeded)
    ann = book(seeded, "ann@example.org", slot, name="Ann Example")
    book(seeded, "bob@example.org", other)
    path = section(seeded)
    page = organizer.get(path)
    delete = f"{path}/slots/{slot}/delete"
    assert f'href="{delete}"' in page, "a booked chat is deleted after a confirmation page"
    question = organizer.get(delete)
    assert "1 person is booked in it" in question and "Ann Example" in question and "ann@example.org" in question

    response = organizer.submit(delete, delete, page_html=question)
    assert response.status_code == 302
    with seeded.app_context():
        assert db.session.get(ChatSlot, slot) is None
        assert db.session.get(Rsvp, ann).status == RsvpStatus.SEATED, "the sign-up for the talk stays"
    assert [email for email, _ in messages(seeded, "chat.cancelled")] == ["ann@example.org"]
    assert booked_in(seeded, other) == ["bob@example.org"]
    assert "chat.slot.delete" in audit_actions(seeded)


def test_deleting_asks_again_when_someone_booked_since_the_question(seeded: Flask, organizer: Browser) -> None:
    slot = add_slots(seeded)[0]
    book(seeded, "ann@example.org", slot)
    delete = f"{section(seeded)}/slots/{slot}/delete"
    question = organizer.get(delete)
    book(seeded, "bob@example.org", slot)
    response = organizer.submit(delete, delete, page_html=question)
    assert response.status_code == 409
    again = response.get_data(as_text=True)
    assert "changed since you looked" in again and "bob@example.org" in again
    assert booked_in(seeded, slot) == ["ann@example.org", "bob@example.org"]
    assert messages(seeded, "chat.cancelled") == []


def test_an_empty_chat_is_deleted_with_one_button(seeded: Flask, organizer: Browser) -> None:
    slot, other = add_slots(seeded)
    path = section(seeded)
    response = organizer.submit(path, f"{path}/slots/{slot}/delete")
    assert response.status_code == 302
    with seeded.app_context():
        assert [s.id for s in chats.slots_of(db.session, talk_of().id)] == [other]


# Bookings on someone's behalf ---------------------------------------------------------------------


def test_the_bookings_show_who_what_and_how_many_places_are_left(seeded: Flask, organizer: Browser) -> None:
    with seeded.app_context():
        talk_of().ask_affiliation = True
        db.session.commit()
    slot = add_slots(seeded, capacity=3)[0]
    with seeded.app_context():
        chats.book(
            db.session,
            talk_of().id,
            name="Ann Example",
            email="ann@example.org",
            slot_ids=[slot],
            topic="Label noise in entailment",
            now=NOW,
            affiliation="Harbour Institute",
        )
        db.session.commit()
    page = organizer.get(section(seeded))
    assert "Ann Example" in page and "ann@example.org" in page and "Harbour Institute" in page
    assert "Label noise in entailment" in page
    assert "1 of 3 booked · 2 places left" in page


def test_moving_a_booking_on_someones_behalf(seeded: Flask, organizer: Browser) -> None:
    first, second = add_slots(seeded, capacity=1)
    ann = book(seeded, "ann@example.org", first)
    path = section(seeded)
    response = organizer.submit(path, f"{path}/bookings/{ann}/move", slot=str(second))
    assert response.status_code == 302
    assert booked_in(seeded, first) == [] and booked_in(seeded, second) == ["ann@example.org"]
    told = messages(seeded, "chat.moved")
    assert [(email, payload["by_organizer"]) for email, payload in told] == [("ann@example.org", True)]
    assert "chat.booking.move" in audit_actions(seeded)


def test_moving_into_a_full_chat_says_so_and_keeps_the_booking(seeded: Flask, organizer: Browser) -> None:
    first, second = add_slots(seeded, capacity=1)
    ann = book(seeded, "ann@example.org", first)
    book(seeded, "bob@example.org", second)
    path = section(seeded)
    page = organizer.get(path)
    assert "No other chat has a place." in page, "a full chat is not offered"
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    response = organizer.client.post(f"{path}/bookings/{ann}/move", data={"csrf_token": token, "slot": str(second)})
    assert response.status_code == 302
    assert "This slot is full" in flashed(organizer.get(path))
    assert booked_in(seeded, first) == ["ann@example.org"] and booked_in(seeded, second) == ["bob@example.org"]


def test_cancelling_a_booking_on_someones_behalf_keeps_the_sign_up(seeded: Flask, organizer: Browser) -> None:
    slot = add_slots(seeded)[0]
    ann = book(seeded, "ann@example.org", slot)
    path = section(seeded)
    response = organizer.submit(path, f"{path}/bookings/{ann}/cancel")
    assert response.status_code == 302
    assert booked_in(seeded, slot) == []
    with seeded.app_context():
        assert db.session.get(Rsvp, ann).status == RsvpStatus.SEATED
    assert [(e, p["reason"]) for e, p in messages(seeded, "chat.cancelled")] == [("ann@example.org", "by_organizer")]
    assert "Their sign-up for the talk stays." in flashed(organizer.get(path))
    assert "chat.booking.cancel" in audit_actions(seeded)


def test_a_mistyped_post_is_a_clear_refusal(seeded: Flask, organizer: Browser) -> None:
    slot = add_slots(seeded)[0]
    ann = book(seeded, "ann@example.org", slot)
    path = section(seeded)
    response = organizer.submit(path, f"{path}/bookings/{ann}/move", slot="nine")
    assert response.status_code == 302
    assert "choose the chat to move them to" in flashed(organizer.get(path))
    assert organizer.client.post(f"{path}/bookings/{ann}/cancel").status_code == 400, "no CSRF token"
    assert organizer.client.get(f"{path}/slots/99999/edit").status_code == 404
    assert booked_in(seeded, slot) == ["ann@example.org"]


# Options -------------------------------------------------------------------------------------------


def test_switching_to_a_draw_with_its_time_and_a_closing_time(seeded: Flask, organizer: Browser) -> None:
    path = section(seeded)
    page = organizer.get(path)
    for label in ("Draw time", "Chat sign-up closes"):
        assert f">{label}</label>" in page
    assert "How chats are given out" in page and "First come, first served" in page
    assert "Place people who already had a chat this semester after the others" in page
    with seeded.app_context():
        starts_at = talk_of().starts_at
    draw_at = (starts_at - timedelta(hours=5)).astimezone(MONTREAL)
    closes = (starts_at - timedelta(hours=1)).astimezone(MONTREAL)
    response = organizer.submit(
        path,
        f"{path}/options",
        assignment="draw",
        draw_at=f"{draw_at:%Y-%m-%dT%H:%M}",
        closes=f"{closes:%Y-%m-%dT%H:%M}",
        prefer_new="y",
    )
    assert response.status_code == 302
    with seeded.app_context():
        talk = talk_of()
        assert talk.chat_assignment == ChatAssignment.DRAW
        assert talk.chat_draw_at == starts_at.replace(second=0) - timedelta(hours=5)
        assert talk.chat_closes_at == starts_at.replace(second=0) - timedelta(hours=1)
        assert talk.chat_prefer_new
    page = organizer.get(path)
    assert f'value="{draw_at:%Y-%m-%dT%H:%M}"' in page, "shown back in the series' zone"
    assert "chat.options" in audit_actions(seeded)


def test_a_draw_after_closing_is_refused_on_its_field(seeded: Flask, organizer: Browser) -> None:
    path = section(seeded)
    with seeded.app_context():
        starts_at = talk_of().starts_at.astimezone(MONTREAL)
    response = organizer.submit(
        path,
        f"{path}/options",
        assignment="draw",
        draw_at=f"{starts_at + timedelta(hours=1):%Y-%m-%dT%H:%M}",
        closes="",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    field = page[page.index('for="draw_at"') :]
    assert field.index("The draw must be made before chat sign-up closes.") < field.index('for="closes"')
    assert 'value="Auditorium 2"' in page, "the form to add chats keeps its defaults"
    with seeded.app_context():
        assert talk_of().chat_assignment == ChatAssignment.FIRST_COME


def test_no_switch_to_a_draw_once_people_have_booked(seeded: Flask, organizer: Browser) -> None:
    book(seeded, "ann@example.org", add_slots(seeded)[0])
    path = section(seeded)
    response = organizer.submit(path, f"{path}/options", assignment="draw", draw_at="", closes="")
    assert response.status_code == 400
    assert "People have booked chats already" in response.get_data(as_text=True)


def test_closing_chat_sign_up_by_hand_and_reopening_it(seeded: Flask, organizer: Browser) -> None:
    add_slots(seeded)
    path = section(seeded)
    assert "Chat sign-up is open" in organizer.get(path)
    response = organizer.submit(path, f"{path}/open")
    assert response.status_code == 302
    with seeded.app_context():
        assert not talk_of().chat_open
    page = organizer.get(path)
    assert "Chat sign-up is closed" in page and "Reopen chat sign-up" in page
    assert organizer.submit(path, f"{path}/open", page_html=page).status_code == 302
    with seeded.app_context():
        assert talk_of().chat_open
    assert audit_actions(seeded)[-2:] == ["chat.close", "chat.open"]


# The draw ---------------------------------------------------------------------------------------


@pytest.fixture
def wishes(seeded: Flask) -> tuple[list[int], list[int]]:
    """A draw with two one-person chats, three people asking: two for the first chat first."""
    slots = add_slots(seeded, capacity=1)
    with seeded.app_context():
        chats.set_options(
            db.session,
            talk_of().id,
            assignment=ChatAssignment.DRAW,
            closes=None,
            draw_time=None,
            prefer_new=False,
            is_open=True,
            now=NOW,
        )
        db.session.commit()
    people = [
        book(seeded, "ann@example.org", slots[0], slots[1]),
        book(seeded, "bob@example.org", slots[0]),
        book(seeded, "cy@example.org", slots[1], slots[0]),
    ]
    return slots, people


def test_before_the_draw_the_wishes_per_chat_and_the_button(
    seeded: Flask, organizer: Browser, wishes: tuple[list[int], list[int]]
) -> None:
    page = organizer.get(section(seeded))
    assert "3 people have asked for chats so far." in page
    assert "Wished for: 2 first, 1 second, 0 third" in page
    assert "Wished for: 1 first, 1 second, 0 third" in page
    assert "Make the draw now" in page


def test_making_the_draw_then_checking_it(
    seeded: Flask, organizer: Browser, wishes: tuple[list[int], list[int]]
) -> None:
    path = section(seeded)
    response = organizer.submit(path, f"{path}/draw")
    assert response.status_code == 302
    with seeded.app_context():
        record = db.session.scalars(select(ChatDraw)).one()
        seed, placed = record.seed, record.result["placed"]
    assert len(placed) == 2
    page = organizer.get(path)
    assert "The draw is made: 2 placed, 1 not this time." in flashed(page)
    assert seed in page and "Not this time" in page and "Make the draw now" not in page
    assert "chat.draw" in audit_actions(seeded)
    assert len(messages(seeded, "chat.not_drawn")) == 1

    checked = organizer.get(f"{path}?check=1")
    assert "Checked: the draw, run again from its recorded wishes and seed, gives the recorded result." in checked

    with seeded.app_context():
        record = db.session.scalars(select(ChatDraw)).one()
        record.result = {**record.result, "unplaced": []}
        db.session.commit()
    assert "does not give the recorded result" in organizer.get(f"{path}?check=1")


def test_the_draw_is_made_once(seeded: Flask, organizer: Browser, wishes: tuple[list[int], list[int]]) -> None:
    path = section(seeded)
    page = organizer.get(path)
    assert organizer.submit(path, f"{path}/draw", page_html=page).status_code == 302
    assert organizer.submit(path, f"{path}/draw", page_html=page).status_code == 302
    assert "The draw was made already" in flashed(organizer.get(path))
    with seeded.app_context():
        assert len(db.session.scalars(select(ChatDraw)).all()) == 1


# Speakers ---------------------------------------------------------------------------------------


def speaker_link_on(page: str) -> str:
    match = re.search(r'<input type="text" id="speaker-link-1" class="link-copy" value="([^"]+)" readonly>', page)
    assert match, "the link is shown, ready to copy"
    return html.unescape(match[1])


def test_making_a_new_speaker_link_revokes_the_old_one(seeded: Flask, organizer: Browser) -> None:
    path = section(seeded)
    page = organizer.get(path)
    assert "No link yet" in page
    assert organizer.submit(path, f"{path}/speakers/link", page_html=page).status_code == 302
    page = organizer.get(path)
    first = speaker_link_on(page)
    assert first.startswith("http://lectern.test/chats/speaker/"), "from SITE_URL, never from the request"
    secret = seeded.config["SECRET_KEY"]
    with seeded.app_context():
        claim = tokens.read_speaker_token(secret, first.rsplit("/", 1)[1])
        assert claim.matches(talk_of()) and claim.speaker_name == ""

    assert organizer.submit(path, f"{path}/speakers/link", page_html=page).status_code == 302
    page = organizer.get(path)
    second = speaker_link_on(page)
    assert second != first
    with seeded.app_context():
        assert not tokens.read_speaker_token(secret, first.rsplit("/", 1)[1]).matches(talk_of())
        assert tokens.read_speaker_token(secret, second.rsplit("/", 1)[1]).matches(talk_of())

    assert organizer.submit(path, f"{path}/speakers/link", page_html=page, revoke="1").status_code == 302
    page = organizer.get(path)
    assert "No link yet" in page and "link-copy" not in page
    with seeded.app_context():
        assert not tokens.read_speaker_token(secret, second.rsplit("/", 1)[1]).matches(talk_of())
    assert audit_actions(seeded).count("chat.speaker_link") == 3


def test_each_of_two_speakers_has_a_link_of_their_own(seeded: Flask, organizer: Browser) -> None:
    path = section(seeded, TWO_SPEAKERS)
    assert organizer.submit(path, f"{path}/speakers/link").status_code == 302
    page = organizer.get(path)
    found = re.findall(r'class="link-copy" value="([^"]+)"', page)
    with seeded.app_context():
        names = [
            tokens.read_speaker_token(seeded.config["SECRET_KEY"], html.unescape(v).rsplit("/", 1)[1]).speaker_name
            for v in found
        ]
    assert names == ["Ines Valtonen", "Kofi Adjei-Marsh"]


def test_the_speakers_email_and_sending_the_schedule_now(seeded: Flask, organizer: Browser) -> None:
    path = section(seeded)
    page = organizer.get(path)
    assert ">Speaker's email, for their chat schedule</label>" in html.unescape(page)
    response = organizer.submit(path, f"{path}/speakers/send", page_html=page)
    assert response.status_code == 302
    assert "Give the speaker's email first." in flashed(organizer.get(path))

    bad = organizer.submit(path, f"{path}/speakers/email", email="not an address")
    assert bad.status_code == 400
    assert "Please enter a valid email address" in bad.get_data(as_text=True)
    assert organizer.submit(path, f"{path}/speakers/email", email="tomasz@example.org").status_code == 302
    with seeded.app_context():
        assert talk_of().chat_speaker_emails == {"Tomasz Ilunga-Berg": "tomasz@example.org"}
    page = organizer.get(path)
    assert 'value="tomasz@example.org"' in page

    assert organizer.submit(path, f"{path}/speakers/send", page_html=page).status_code == 302
    assert "Add chats first" in flashed(organizer.get(path))
    add_slots(seeded)
    assert organizer.submit(path, f"{path}/speakers/send").status_code == 302
    assert "The schedule is on its way to 1 speaker." in flashed(organizer.get(path))
    sent = messages(seeded, "chat.speaker_schedule")
    assert [(email, payload["speaker"], payload["updated"]) for email, payload in sent] == [
        ("tomasz@example.org", "Tomasz Ilunga-Berg", False)
    ]


# The door and the export -----------------------------------------------------------------------------


def test_the_printable_schedule_lists_each_chat_with_its_people(seeded: Flask, organizer: Browser) -> None:
    first, _empty = add_slots(seeded)
    book(seeded, "ann@example.org", first, name="Ann Example")
    book(seeded, "bob@example.org", first, name="Bob Example")
    path = section(seeded)
    assert f'href="{path}/print"' in organizer.get(path)
    page = organizer.get(f"{path}/print")
    assert '<meta name="robots" content="noindex, nofollow">' in page
    assert "Auditorium 2" in page
    assert page.index("Ann Example") < page.index("Bob Example") < page.index("Nobody booked.")
    assert "ann@example.org" not in page, "names only at the door"
    assert "subnav" not in page, "a clean page"


def test_the_csv_export_of_the_bookings(seeded: Flask, organizer: Browser) -> None:
    first, second = add_slots(seeded)
    book(seeded, "ann@example.org", second, name='=HYPERLINK("http://x")', topic="-2+3")
    book(seeded, "bob@example.org", first, name="Bob Example", topic="Benchmarks,\nand more")
    path = section(seeded)
    assert f'href="/organize/talks/{talk_id(seeded)}/chats.csv"' in organizer.get(path)
    response = organizer.client.get(f"/organize/talks/{talk_id(seeded)}/chats.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "slot_starts_at",
        "minutes",
        "place",
        "speaker",
        "name",
        "email",
        "affiliation",
        "topic",
        "booked_at",
        "drawn",
    ]
    with seeded.app_context():
        starts = [db.session.get(ChatSlot, s).starts_at.astimezone(MONTREAL) for s in (first, second)]
    bob, ann = rows[1], rows[2]
    assert bob[:6] == [
        starts[0].isoformat(timespec="minutes"),
        "15",
        "Auditorium 2",
        "Tomasz Ilunga-Berg",
        "Bob Example",
        "bob@example.org",
    ]
    assert bob[7] == "Benchmarks,\nand more" and bob[9] == ""
    assert ann[0] == starts[1].isoformat(timespec="minutes")
    assert ann[4] == '\'=HYPERLINK("http://x")', "a spreadsheet shows the name, never runs it"
    assert ann[7] == "'-2+3"


def test_organizer_pages_render_on_a_talk_with_every_state(seeded: Flask, organizer: Browser) -> None:
    """The section with bookings, a draw made and a link: everything a page shows renders."""
    slots = add_slots(seeded, count=3, capacity=1)
    ann = book(seeded, "ann@example.org", slots[0])
    with seeded.app_context():
        chats.speaker_link_nonce(db.session, talk_of().id)
        db.session.commit()
    path = section(seeded)
    page = organizer.get(path)
    forms = _FORM.findall(page)
    assert len(forms) >= 10
    for action, body in forms:
        assert re.search(r'name="csrf_token"[^>]*value="[^"]+"', body), f"the form posting to {action} has its token"
    assert page.count("Move to</label>") == 1
    assert f'action="{path}/bookings/{ann}/cancel"' in page
    assert organizer.get(f"{path}/slots/{slots[0]}/edit").count("Save") >= 1
    assert "Nobody is booked in it." in organizer.get(f"{path}/slots/{slots[1]}/delete")
