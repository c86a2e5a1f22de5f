"""Chats with the speaker, through the service: slots, bookings, moves, the draw, and what
changes to sign-ups and talks do to them."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from extensions import db
from models import (
    ChatAssignment,
    ChatBooking,
    ChatDraw,
    ChatRequest,
    ChatSlot,
    Rsvp,
    RsvpStatus,
    Semester,
    Speaker,
    Talk,
    TalkStatus,
)
from services import chats, signups, talk_changes
from services.signups import SignupError
from services.talk_changes import TalkCause
from tests.rsvp_support import make_talk, outbox_rows

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def add_slots(talk: Talk, count: int = 3, capacity: int = 2, **kwargs: object) -> list[ChatSlot]:
    slots = chats.add_slots(
        db.session,
        talk.id,
        first_starts_at=kwargs.pop("first_starts_at", None),  # type: ignore[arg-type]
        count=count,
        minutes=int(kwargs.pop("minutes", 15)),  # type: ignore[arg-type]
        capacity=capacity,
        place=kwargs.pop("place", None),  # type: ignore[arg-type]
        now=NOW,
        **kwargs,  # type: ignore[arg-type]
    )
    db.session.commit()
    return slots


def book(talk: Talk, who: str, *slots: ChatSlot, now: datetime = NOW, topic: str = "") -> chats.BookingResult:
    result = chats.book(
        db.session,
        talk.id,
        name=who.split("@")[0].title(),
        email=who,
        slot_ids=[slot.id for slot in slots],
        topic=topic,
        now=now,
    )
    db.session.commit()
    return result


def refused_booking(talk: Talk, who: str, *slots: ChatSlot, now: datetime = NOW) -> SignupError:
    with pytest.raises(SignupError) as caught:
        chats.book(db.session, talk.id, name="Someone", email=who, slot_ids=[s.id for s in slots], topic="", now=now)
    db.session.rollback()
    return caught.value


def booked_in(slot: ChatSlot) -> list[str]:
    return sorted(
        db.session.scalars(
            select(Rsvp.email).join(ChatBooking, ChatBooking.rsvp_id == Rsvp.id).where(ChatBooking.slot_id == slot.id)
        )
    )


def kinds(rsvp_id: int) -> list[str]:
    return [row.kind for row in outbox_rows() if row.rsvp_id == rsvp_id]


# Slots -----------------------------------------------------------------------------------


def test_a_run_of_slots_starts_when_the_talk_ends_in_its_room_back_to_back(ctx: Flask) -> None:
    talk = make_talk(10)
    slots = add_slots(talk, count=3, capacity=1, minutes=20)
    assert [s.starts_at for s in slots] == [talk.ends_at + timedelta(minutes=20 * n) for n in range(3)]
    assert {s.place for s in slots} == {talk.room.name}
    assert {s.capacity for s in slots} == {1}


def test_slot_values_out_of_range_are_refused_with_the_field_named(ctx: Flask) -> None:
    talk = make_talk(10)
    with pytest.raises(SignupError) as caught:
        chats.add_slots(db.session, talk.id, first_starts_at=None, count=3, minutes=0, capacity=1, place=None, now=NOW)
    assert caught.value.field == "minutes"
    db.session.rollback()
    assert db.session.scalar(select(func.count(ChatSlot.id))) == 0


# Booking ---------------------------------------------------------------------------------


def test_booking_without_a_sign_up_signs_the_person_up_and_confirms_both(ctx: Flask) -> None:
    talk = make_talk(10)
    slot = add_slots(talk)[0]
    result = book(talk, "ada@example.org", slot, topic="Sparse attention")
    assert result.created
    assert result.rsvp.status == RsvpStatus.SEATED
    assert result.rsvp.chat_topic == "Sparse attention"
    assert booked_in(slot) == ["ada@example.org"]
    assert kinds(result.rsvp.id) == ["rsvp.confirmation", "chat.confirmation"]


def test_a_chat_does_not_need_a_seat_the_booking_goes_with_a_place_on_the_waiting_list(ctx: Flask) -> None:
    talk = make_talk(1)
    slot = add_slots(talk)[0]
    book(talk, "first@example.org", slot)
    second = book(talk, "second@example.org", slot)
    assert second.rsvp.status == RsvpStatus.WAITING
    assert booked_in(slot) == ["first@example.org", "second@example.org"]


def test_a_full_slot_says_so_and_books_nothing(ctx: Flask) -> None:
    talk = make_talk(10)
    slot, other, _ = add_slots(talk, capacity=1)
    book(talk, "ada@example.org", slot)
    error = refused_booking(talk, "bob@example.org", slot)
    assert str(error).startswith("This slot is full")
    assert error.conflict
    assert db.session.scalar(select(func.count(Rsvp.id)).where(Rsvp.email == "bob@example.org")) == 0
    assert book(talk, "bob@example.org", other).created


def test_the_same_address_again_changes_nothing_and_sends_the_manage_link(ctx: Flask) -> None:
    talk = make_talk(10)
    slot, other, _ = add_slots(talk)
    first = book(talk, "ada@example.org", slot)
    again = book(talk, "ADA@Example.org", other)
    assert not again.created
    assert again.rsvp.id == first.rsvp.id
    assert booked_in(slot) == ["ada@example.org"] and booked_in(other) == []
    assert kinds(first.rsvp.id)[-1] == "rsvp.manage_link"


def test_an_address_already_signed_up_for_the_talk_is_sent_its_link_not_booked(ctx: Flask) -> None:
    talk = make_talk(10)
    slot = add_slots(talk)[0]
    rsvp = signups.sign_up(db.session, talk.id, name="Ada", email="ada@example.org", mode="room", now=NOW).rsvp
    db.session.commit()
    assert not book(talk, "ada@example.org", slot).created
    assert booked_in(slot) == []
    manage_link = outbox_rows("rsvp.manage_link")[-1]
    assert manage_link.rsvp_id == rsvp.id and manage_link.payload["chat"] is True


def test_choosing_another_slot_moves_the_booking_in_one_step(ctx: Flask) -> None:
    talk = make_talk(10)
    slot, other, _ = add_slots(talk)
    rsvp = book(talk, "ada@example.org", slot).rsvp
    chats.choose_slot(db.session, rsvp.id, other.id, NOW)
    db.session.commit()
    assert booked_in(slot) == [] and booked_in(other) == ["ada@example.org"]
    assert db.session.scalar(select(func.count(ChatBooking.id))) == 1
    moved = outbox_rows("chat.moved")[-1]
    assert moved.payload["slot"]["id"] == other.id and moved.payload["sequence"] == 1


def test_moving_into_a_full_slot_keeps_the_booking_where_it_was(ctx: Flask) -> None:
    talk = make_talk(10)
    slot, full, _ = add_slots(talk, capacity=1)
    rsvp = book(talk, "ada@example.org", slot).rsvp
    book(talk, "bob@example.org", full)
    with pytest.raises(SignupError, match="This slot is full"):
        chats.choose_slot(db.session, rsvp.id, full.id, NOW)
    db.session.rollback()
    assert booked_in(slot) == ["ada@example.org"]


def test_booking_closes_at_the_talks_start_by_default_and_when_closed_by_hand(ctx: Flask) -> None:
    talk = make_talk(10)
    slot = add_slots(talk)[0]
    assert "closed" in str(refused_booking(talk, "late@example.org", slot, now=talk.starts_at))
    chats.set_options(
        db.session,
        talk.id,
        assignment=ChatAssignment.FIRST_COME,
        closes=None,
        draw_time=None,
        prefer_new=False,
        is_open=False,
        now=NOW,
    )
    db.session.commit()
    assert "closed" in str(refused_booking(talk, "early@example.org", slot))


def test_cancelling_the_chat_alone_keeps_the_sign_up(ctx: Flask) -> None:
    talk = make_talk(10)
    slot = add_slots(talk)[0]
    rsvp = book(talk, "ada@example.org", slot).rsvp
    assert chats.cancel_booking(db.session, rsvp.id, NOW)
    db.session.commit()
    assert booked_in(slot) == []
    assert db.session.get(Rsvp, rsvp.id).status == RsvpStatus.SEATED
    assert kinds(rsvp.id)[-1] == "chat.cancelled"


# What sign-up changes do to chats -------------------------------------------------------------


def test_cancelling_the_sign_up_frees_the_chat_and_says_so(ctx: Flask) -> None:
    talk = make_talk(10)
    slot = add_slots(talk, capacity=1)[0]
    rsvp = book(talk, "ada@example.org", slot).rsvp
    signups.cancel(db.session, rsvp.id, NOW)
    db.session.commit()
    assert booked_in(slot) == []
    cancelled = outbox_rows("chat.cancelled")[-1]
    assert cancelled.rsvp_id == rsvp.id and cancelled.payload["reason"] == "signup_cancelled"
    assert book(talk, "bob@example.org", slot).created, "the place is free again"


def test_erasing_the_sign_up_frees_the_chat_and_sends_one_last_cancellation(ctx: Flask) -> None:
    talk = make_talk(10)
    slot = add_slots(talk, capacity=1)[0]
    rsvp = book(talk, "ada@example.org", slot).rsvp
    signups.delete(db.session, rsvp.id, NOW)
    db.session.commit()
    assert booked_in(slot) == []
    last = outbox_rows("chat.erased")[-1]
    assert last.rsvp_id is None and last.payload["email"] == "ada@example.org"
    assert last.payload["slot"]["id"] == slot.id


# What talk changes do to chats ------------------------------------------------------------


def test_a_talk_that_moves_takes_its_chats_along_and_tells_the_people_booked(ctx: Flask) -> None:
    talk = make_talk(10)
    slot = add_slots(talk)[0]
    start = slot.starts_at
    rsvp = book(talk, "ada@example.org", slot).rsvp
    before = talk_changes.facts(talk)
    talk.starts_at += timedelta(days=7)
    talk.ends_at += timedelta(days=7)
    talk_changes.record(db.session, talk, before, TalkCause.EDITED, NOW)
    db.session.commit()
    assert db.session.get(ChatSlot, slot.id).starts_at == start + timedelta(days=7)
    moved = outbox_rows("chat.moved")[-1]
    assert moved.rsvp_id == rsvp.id and moved.payload["reason"] == "talk_moved"


def test_a_cancelled_talk_cancels_the_chats_in_peoples_calendars(ctx: Flask) -> None:
    talk = make_talk(10)
    slot = add_slots(talk)[0]
    rsvp = book(talk, "ada@example.org", slot).rsvp
    before = talk_changes.facts(talk)
    talk.status = TalkStatus.CANCELLED
    talk_changes.record(db.session, talk, before, TalkCause.CANCELLED, NOW)
    db.session.commit()
    cancelled = outbox_rows("chat.cancelled")[-1]
    assert cancelled.rsvp_id == rsvp.id and cancelled.payload["reason"] == "talk_cancelled"


# Organizers change slots -------------------------------------------------------------------


def test_moving_a_booked_slot_tells_the_people_in_it(ctx: Flask) -> None:
    talk = make_talk(10)
    slot = add_slots(talk)[0]
    rsvp = book(talk, "ada@example.org", slot).rsvp
    told = chats.update_slot(
        db.session,
        slot.id,
        starts_at=slot.starts_at + timedelta(minutes=30),
        minutes=15,
        capacity=2,
        place="Café",
        now=NOW,
    )
    db.session.commit()
    assert told == 1
    moved = outbox_rows("chat.moved")[-1]
    assert moved.rsvp_id == rsvp.id and moved.payload["slot"]["place"] == "Café"


def test_a_slot_cannot_get_fewer_places_than_people_booked(ctx: Flask) -> None:
    talk = make_talk(10)
    slot = add_slots(talk)[0]
    book(talk, "ada@example.org", slot)
    book(talk, "bob@example.org", slot)
    with pytest.raises(SignupError, match="2 people are booked"):
        chats.update_slot(
            db.session, slot.id, starts_at=slot.starts_at, minutes=15, capacity=1, place=slot.place, now=NOW
        )
    db.session.rollback()


def test_deleting_a_booked_slot_cancels_the_bookings_and_tells_the_people(ctx: Flask) -> None:
    talk = make_talk(10)
    slot = add_slots(talk)[0]
    rsvp = book(talk, "ada@example.org", slot).rsvp
    assert chats.delete_slot(db.session, slot.id, NOW) == 1
    db.session.commit()
    assert db.session.get(ChatSlot, slot.id) is None
    assert db.session.get(Rsvp, rsvp.id).status == RsvpStatus.SEATED, "the sign-up for the talk stays"
    assert outbox_rows("chat.cancelled")[-1].payload["reason"] == "slot_deleted"


# The draw --------------------------------------------------------------------------------


def draw_talk(slots: int = 2, capacity: int = 1) -> tuple[Talk, list[ChatSlot]]:
    talk = make_talk(50)
    made = add_slots(talk, count=slots, capacity=capacity)
    chats.set_options(
        db.session,
        talk.id,
        assignment=ChatAssignment.DRAW,
        closes=None,
        draw_time=NOW + timedelta(hours=1),
        prefer_new=False,
        is_open=True,
        now=NOW,
    )
    db.session.commit()
    return talk, made


def test_before_a_draw_people_ask_for_up_to_three_slots_in_order(ctx: Flask) -> None:
    talk, (a, b) = draw_talk()
    rsvp = book(talk, "ada@example.org", b, a).rsvp
    assert [(w.slot_id, w.rank) for w in chats.wishes_of(db.session, rsvp.id)] == [(b.id, 1), (a.id, 2)]
    assert booked_in(a) == booked_in(b) == []
    assert kinds(rsvp.id)[-1] == "chat.wishes"


def test_the_draw_places_as_many_people_as_possible_and_tells_everyone(ctx: Flask) -> None:
    talk, (a, b) = draw_talk(slots=2, capacity=1)
    # Both want a first; only one also accepts b. A good draw places two people whatever the order.
    only_a = book(talk, "only-a@example.org", a).rsvp
    either = book(talk, "either@example.org", a, b).rsvp
    third = book(talk, "third@example.org", a).rsvp
    record = chats.run_draw(db.session, talk.id, NOW + timedelta(hours=1), seed="fixed")
    db.session.commit()
    placed = record.result["placed"]
    assert len(placed) == 2
    assert placed[str(either.id)] == b.id, "the one who accepts b gets it, so that a serves someone else"
    assert len({slot for slot in placed.values()}) == 2, "nobody over a slot's places"
    unplaced = [r for r in (only_a, third) if str(r.id) not in placed]
    assert len(unplaced) == 1
    assert kinds(unplaced[0].id)[-1] == "chat.not_drawn"
    for rsvp in (only_a, either, third):
        if str(rsvp.id) in placed:
            assert kinds(rsvp.id)[-1] == "chat.confirmation"
    assert chats.verify(record)


def test_the_same_seed_and_wishes_give_the_same_draw() -> None:
    rng = random.Random(7)
    inputs = {
        "slots": {str(s): rng.randint(1, 3) for s in range(1, 6)},
        "wishes": {str(p): rng.sample(range(1, 6), rng.randint(1, 3)) for p in range(100, 160)},
        "later": [],
    }
    first = chats.draw(inputs, "seed-one")
    assert chats.draw(inputs, "seed-one") == first
    assert chats.draw(inputs, "seed-two")["order"] != first["order"]


def test_a_draw_never_gives_two_places_respects_capacity_and_prefers_first_choices() -> None:
    rng = random.Random(11)
    for round_ in range(30):
        slots = {str(s): rng.randint(1, 2) for s in range(1, rng.randint(2, 6))}
        ids = [int(s) for s in slots]
        wishes = {str(p): rng.sample(ids, rng.randint(1, min(3, len(ids)))) for p in range(rng.randint(1, 15))}
        result = chats.draw({"slots": slots, "wishes": wishes, "later": []}, f"s{round_}")
        placed = result["placed"]
        assert set(placed) | {str(p) for p in result["unplaced"]} == set(wishes)
        assert not set(placed) & {str(p) for p in result["unplaced"]}
        for slot, places in slots.items():
            assert sum(1 for s in placed.values() if str(s) == slot) <= places
        for person, slot in placed.items():
            assert slot in wishes[person]
        assert len(placed) == maximum_matching(slots, wishes), "as many people placed as can be"
        # Nobody placed below their first choice could swap with a free place there.
        free = {int(s): n - sum(1 for v in placed.values() if v == int(s)) for s, n in slots.items()}
        for person, slot in placed.items():
            better = wishes[person][: wishes[person].index(slot)]
            assert all(free[s] == 0 for s in better), "a better wished slot was left free"


def maximum_matching(slots: dict[str, int], wishes: dict[str, list[int]]) -> int:
    """Brute force over small cases: the largest number of people that can be placed."""
    best = 0
    people = list(wishes)

    def place(i: int, left: dict[int, int], count: int) -> None:
        nonlocal best
        if count + (len(people) - i) <= best:
            return
        if i == len(people):
            best = max(best, count)
            return
        for slot in wishes[people[i]]:
            if left[slot] > 0:
                left[slot] -= 1
                place(i + 1, left, count + 1)
                left[slot] += 1
        place(i + 1, left, count)

    place(0, {int(s): n for s, n in slots.items()}, 0)
    return best


def test_people_who_had_a_chat_this_semester_can_be_placed_after_the_others(ctx: Flask) -> None:
    earlier = make_talk(10, slug="earlier", starts_at=NOW + timedelta(days=1))
    slot = add_slots(earlier, count=1, capacity=5)[0]
    book(earlier, "regular@example.org", slot)
    talk, (a,) = draw_talk(slots=1, capacity=1)
    semester = Semester(series_id=talk.series_id, slug="fall-2030", name="Fall 2030")
    db.session.add(semester)
    earlier.semester = talk.semester = semester
    talk.chat_prefer_new = True
    db.session.commit()
    regular = book(talk, "regular@example.org", a).rsvp
    newcomer = book(talk, "newcomer@example.org", a).rsvp
    for seed in ("a", "b", "c", "d", "e", "f"):
        inputs = chats.draw_inputs(db.session, talk)
        assert inputs["later"] == [regular.id]
        assert chats.draw(inputs, seed)["placed"] == {str(newcomer.id): a.id}


def test_the_draw_runs_once_and_is_recorded(ctx: Flask) -> None:
    talk, (a, b) = draw_talk()
    book(talk, "ada@example.org", a)
    assert chats.due_draws(db.session, NOW) == []
    assert chats.due_draws(db.session, NOW + timedelta(hours=1)) == [talk.id]
    first = chats.run_draw(db.session, talk.id, NOW + timedelta(hours=1))
    db.session.commit()
    again = chats.run_draw(db.session, talk.id, NOW + timedelta(hours=1))
    assert again.id == first.id
    assert db.session.scalar(select(func.count(ChatDraw.id))) == 1
    assert chats.due_draws(db.session, NOW + timedelta(hours=2)) == []
    assert db.session.scalar(select(func.count(ChatRequest.id))) == 0
    # Places left after the draw go first come.
    assert chats.phase(db.session, talk, NOW + timedelta(hours=1)) is chats.Phase.FIRST_COME
    assert book(talk, "late@example.org", b, now=NOW + timedelta(hours=2)).created


def test_between_the_draw_time_and_the_draw_nobody_books(ctx: Flask) -> None:
    talk, (a, _) = draw_talk()
    error = refused_booking(talk, "eager@example.org", a, now=NOW + timedelta(hours=1))
    assert "draw" in str(error)


# The speaker's schedule ---------------------------------------------------------------------


def test_the_speaker_is_sent_the_schedule_when_chat_sign_up_closes_and_again_after_a_change(ctx: Flask) -> None:
    talk = make_talk(10)
    talk.parts[0].speakers.append(Speaker(position=0, name="Grace Hopper"))
    db.session.commit()
    slot = add_slots(talk)[0]
    chats.set_speaker_email(db.session, talk.id, "Grace Hopper", "grace@example.org")
    rsvp = book(talk, "ada@example.org", slot).rsvp
    assert chats.queue_closed_schedules(db.session, NOW) == 0, "still open"
    db.session.commit()
    assert chats.queue_closed_schedules(db.session, talk.starts_at) == 1
    db.session.commit()
    assert chats.queue_closed_schedules(db.session, talk.starts_at) == 0, "once"
    first = outbox_rows("chat.speaker_schedule")
    assert [(m.recipient_email, m.payload["updated"]) for m in first] == [("grace@example.org", False)]
    for message in first:
        message.done_at = NOW
    db.session.commit()
    chats.cancel_booking(db.session, rsvp.id, NOW, by_organizer=True)
    db.session.commit()
    assert [(m.recipient_email, m.payload["updated"]) for m in outbox_rows("chat.speaker_schedule")][1:] == [
        ("grace@example.org", True)
    ]
