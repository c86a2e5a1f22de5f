"""The emails about chats with the speaker, as people receive them: their text, and the chat's own
calendar invite (booked, moved, cancelled), the reminder, and the speaker's schedule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr

import pytest
from flask import Flask, render_template

import jobs
from extensions import db
from models import ChatAssignment, ChatSlot, Rsvp, Speaker, Talk, TalkPart, TalkStatus
from services import chats, delivery, outbox, signups, talk_changes
from services.talk_changes import TalkCause
from services.tokens import manage_token
from tests.rsvp_support import html_part, invite, make_talk, outbox_rows, sent_to, text_part, the_event

NOW = datetime.now(UTC).replace(microsecond=0)
# Monday, July 29, 2030, 11:00 AM - 12:00 PM in Montreal (EDT, UTC-4); chats from 12:00 PM.
TALK_START = datetime(2030, 7, 29, 15, 0, tzinfo=UTC)


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app
        db.session.rollback()
        failed = [(row.kind, row.last_error) for row in outbox_rows() if row.last_error]
        assert failed == [], "every email could be written and sent"


def a_talk(*speakers: str, **fields: object) -> Talk:
    talk = make_talk(20, slug="chatty", starts_at=TALK_START, title="Compilers for everyone", **fields)
    talk.parts = [TalkPart(position=0, speakers=[Speaker(name=name, position=n) for n, name in enumerate(speakers)])]
    db.session.commit()
    return talk


def slots_for(talk: Talk, count: int = 3, capacity: int = 2, **fields: object) -> list[ChatSlot]:
    slots = chats.add_slots(
        db.session,
        talk.id,
        first_starts_at=fields.pop("first_starts_at", None),  # type: ignore[arg-type]
        count=count,
        minutes=15,
        capacity=capacity,
        place=fields.pop("place", "Room 301, by the window"),  # type: ignore[arg-type]
        now=NOW,
        **fields,  # type: ignore[arg-type]
    )
    jobs.commit_and_dispatch()
    return slots


def book(talk: Talk, email: str, *slots: ChatSlot, topic: str = "", name: str = "") -> Rsvp:
    result = chats.book(
        db.session,
        talk.id,
        name=name or email.split("@")[0].title(),
        email=email,
        slot_ids=[slot.id for slot in slots],
        topic=topic,
        now=NOW,
        affiliation="Cambridge",
    )
    jobs.commit_and_dispatch()
    return result.rsvp


def chat_emails(app: Flask, address: str) -> list[EmailMessage]:
    """What reached the person about their chat (not their sign-up's own emails)."""
    return [m for m in sent_to(app, address) if "chat" in m["Subject"].lower()]


def last_chat_email(app: Flask, address: str) -> EmailMessage:
    return chat_emails(app, address)[-1]


# Booked ------------------------------------------------------------------------------------------


def test_a_booking_is_confirmed_with_the_time_place_speaker_topic_and_manage_link(ctx: Flask) -> None:
    talk = a_talk("Grace Hopper")
    slot = slots_for(talk)[0]
    rsvp = book(talk, "ada@example.org", slot, topic="Teaching compilers", name="Ada Lovelace")

    [email] = chat_emails(ctx, "ada@example.org")
    assert email["Subject"] == "Your chat with Grace Hopper: “Compilers for everyone”"
    assert parseaddr(email["From"]) == ("Test Series", "talks@series.example.org")
    text = text_part(email)
    assert "Your chat with Grace Hopper is booked." in text
    assert "When: Monday, July 29, 2030, 12:00 PM – 12:15 PM EDT (15 minutes)" in text
    assert "Where: Room 301, by the window" in text
    assert "What you would like to talk about: Teaching compilers" in text
    manage = f"http://lectern.test/rsvp/{manage_token('test-secret', rsvp)}"
    assert f"Change your slot or cancel the chat: {manage}" in text
    assert f'href="{manage}"' in html_part(email)
    # Their sign-up for the talk was confirmed too, in its own email.
    assert sent_to(ctx, "ada@example.org")[0]["Subject"] == "Your seat for “Compilers for everyone”"


def test_the_confirmation_carries_an_invite_of_its_own_for_the_chat(ctx: Flask) -> None:
    talk = a_talk("Grace Hopper")
    slot = slots_for(talk)[0]
    rsvp = book(talk, "ada@example.org", slot, topic="Teaching compilers", name="Ada Lovelace")

    calendar = invite(last_chat_email(ctx, "ada@example.org"))
    assert calendar is not None
    assert str(calendar["METHOD"]) == "REQUEST"
    event = the_event(calendar)
    assert str(event["UID"]) == f"chat-{rsvp.id}-talk-{talk.id}@lectern.test"
    assert event["DTSTART"].dt == datetime(2030, 7, 29, 16, 0, tzinfo=UTC)
    assert event["DTEND"].dt == datetime(2030, 7, 29, 16, 15, tzinfo=UTC)
    assert str(event["DTSTART"].params["TZID"]) == "America/Montreal"
    assert str(event["LOCATION"]) == "Room 301, by the window"
    assert str(event["SUMMARY"]) == "Chat with Grace Hopper after “Compilers for everyone”"
    assert event["SEQUENCE"] == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["ORGANIZER"]) == "mailto:talks@series.example.org"
    assert str(event["ATTENDEE"]) == "mailto:ada@example.org"
    assert "Teaching compilers" in str(event["DESCRIPTION"])
    # The talk's own invite (in the sign-up's confirmation) is a different event.
    [seat] = [m for m in sent_to(ctx, "ada@example.org") if m["Subject"].startswith("Your seat")]
    assert str(the_event(invite(seat))["UID"]) != str(event["UID"])


def test_a_moved_chat_keeps_its_uid_with_a_higher_sequence_and_the_new_time(ctx: Flask) -> None:
    talk = a_talk("Grace Hopper")
    first, second, _ = slots_for(talk)
    rsvp = book(talk, "ada@example.org", first)
    chats.choose_slot(db.session, rsvp.id, second.id, NOW)
    jobs.commit_and_dispatch()

    booked, moved = chat_emails(ctx, "ada@example.org")
    assert moved["Subject"] == "Your chat moved: “Compilers for everyone”"
    assert "Your chat moved to the slot you chose." in text_part(moved)
    assert "When: Monday, July 29, 2030, 12:15 PM – 12:30 PM EDT" in text_part(moved)
    before, after = the_event(invite(booked)), the_event(invite(moved))
    assert str(invite(moved)["METHOD"]) == "REQUEST"
    assert str(after["UID"]) == str(before["UID"])
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after["DTSTART"].dt == datetime(2030, 7, 29, 16, 15, tzinfo=UTC)


def test_a_cancelled_chat_is_taken_out_of_the_calendar_and_the_sign_up_stays(ctx: Flask) -> None:
    talk = a_talk("Grace Hopper")
    slot = slots_for(talk)[0]
    rsvp = book(talk, "ada@example.org", slot, topic="Teaching compilers")
    chats.cancel_booking(db.session, rsvp.id, NOW)
    jobs.commit_and_dispatch()

    booked, cancelled = chat_emails(ctx, "ada@example.org")
    assert cancelled["Subject"] == "Chat cancelled: “Compilers for everyone”"
    text = text_part(cancelled)
    assert "Your chat is cancelled, as you asked. Your sign-up for the talk is unchanged." in text
    assert "When: Monday, July 29, 2030, 12:00 PM – 12:15 PM EDT" in text
    assert "Change your slot or cancel the chat" not in text
    calendar = invite(cancelled)
    assert str(calendar["METHOD"]) == "CANCEL"
    event = the_event(calendar)
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == str(the_event(invite(booked))["UID"])
    assert event["SEQUENCE"] > the_event(invite(booked))["SEQUENCE"]


def test_a_chat_booked_again_after_a_cancellation_comes_after_it_in_the_calendar(ctx: Flask) -> None:
    talk = a_talk("Grace Hopper")
    slot = slots_for(talk)[0]
    rsvp = book(talk, "ada@example.org", slot)
    chats.cancel_booking(db.session, rsvp.id, NOW)
    jobs.commit_and_dispatch()
    chats.choose_slot(db.session, rsvp.id, slot.id, NOW)
    jobs.commit_and_dispatch()

    sequences = [the_event(invite(m))["SEQUENCE"] for m in chat_emails(ctx, "ada@example.org")]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3, "each version newer than the last"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("slot_deleted", "The organizers removed this chat slot, so your chat is cancelled."),
        ("by_organizer", "The organizers cancelled your chat. Your sign-up for the talk is unchanged."),
        ("signup_cancelled", "Your sign-up for the talk is cancelled, so your chat is too."),
        ("talk_cancelled", "We are sorry: the talk is cancelled, and your chat with it."),
    ],
)
def test_each_cancellation_says_why(ctx: Flask, change: str, says: str) -> None:
    talk = a_talk("Grace Hopper")
    slot = slots_for(talk)[0]
    rsvp = book(talk, "ada@example.org", slot)
    if change == "slot_deleted":
        chats.delete_slot(db.session, slot.id, NOW)
    elif change == "by_organizer":
        chats.cancel_booking(db.session, rsvp.id, NOW, by_organizer=True)
    elif change == "signup_cancelled":
        signups.cancel(db.session, rsvp.id, NOW)
    else:
        before = talk_changes.facts(talk)
        talk.status = TalkStatus.CANCELLED
        talk_changes.record(db.session, talk, before, TalkCause.CANCELLED, NOW)
    jobs.commit_and_dispatch()

    cancelled = last_chat_email(ctx, "ada@example.org")
    assert says in text_part(cancelled)
    assert str(invite(cancelled)["METHOD"]) == "CANCEL"


@pytest.mark.parametrize(
    ("change", "subject", "says"),
    [
        ("organizer", "Your chat moved", "The organizers moved your chat."),
        ("talk_moved", "Your chat moved", "The talk moved, and your chat moved with it."),
    ],
)
def test_a_chat_moved_by_someone_else_says_who_moved_it(ctx: Flask, change: str, subject: str, says: str) -> None:
    talk = a_talk("Grace Hopper")
    slot = slots_for(talk)[0]
    book(talk, "ada@example.org", slot)
    if change == "organizer":
        chats.update_slot(
            db.session, slot.id, starts_at=slot.starts_at, minutes=15, capacity=2, place="The café", now=NOW
        )
    else:
        before = talk_changes.facts(talk)
        talk.starts_at += timedelta(days=1)
        talk.ends_at += timedelta(days=1)
        talk_changes.record(db.session, talk, before, TalkCause.EDITED, NOW)
    jobs.commit_and_dispatch()

    moved = last_chat_email(ctx, "ada@example.org")
    assert moved["Subject"].startswith(subject)
    assert says in text_part(moved)
    event = the_event(invite(moved))
    if change == "organizer":
        assert str(event["LOCATION"]) == "The café"
    else:
        assert event["DTSTART"].dt == datetime(2030, 7, 30, 16, 0, tzinfo=UTC)


def test_an_erased_sign_up_gets_one_last_cancellation_of_its_chat(ctx: Flask) -> None:
    talk = a_talk("Grace Hopper")
    slot = slots_for(talk)[0]
    rsvp = book(talk, "ada@example.org", slot)
    uid = str(the_event(invite(last_chat_email(ctx, "ada@example.org")))["UID"])
    signups.delete(db.session, rsvp.id, NOW)
    jobs.commit_and_dispatch()

    last = last_chat_email(ctx, "ada@example.org")
    assert "Your sign-up is erased, as you asked, and your chat with it." in text_part(last)
    assert "/rsvp/" not in text_part(last), "no link to a sign-up that no longer exists"
    event = the_event(invite(last))
    assert str(invite(last)["METHOD"]) == "CANCEL"
    assert str(event["UID"]) == uid
    assert event["SEQUENCE"] == 1
    [row] = outbox_rows("chat.erased")
    assert row.done_at is not None and row.payload == {}, "the address is not kept once sent"


def test_a_confirmation_written_before_the_sign_up_was_cancelled_is_not_sent(
    ctx: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    talk = a_talk("Grace Hopper")
    slot = slots_for(talk)[0]
    with monkeypatch.context() as queue_down:
        queue_down.setattr(jobs, "dispatch", lambda ids: None)
        rsvp = book(talk, "ada@example.org", slot)
        signups.cancel(db.session, rsvp.id, NOW)
        jobs.commit_and_dispatch()
    mailer = ctx.extensions["lectern.mailer"]
    results = {
        row.kind: delivery.deliver(
            db.session, row.id, mailer=mailer, links_for=jobs.links_for, render=render_template, now=datetime.now(UTC)
        )
        for row in outbox_rows()
        if row.kind.startswith("chat.")
    }
    assert results["chat.confirmation"].startswith("superseded")
    assert results["chat.cancelled"] == "sent"
    assert [m["Subject"] for m in chat_emails(ctx, "ada@example.org")] == ["Chat cancelled: “Compilers for everyone”"]


def test_the_same_address_again_gets_its_manage_link_with_a_word_about_the_chat(ctx: Flask) -> None:
    talk = a_talk("Grace Hopper")
    slot, other, _ = slots_for(talk)
    book(talk, "ada@example.org", slot)
    book(talk, "ada@example.org", other)

    again = sent_to(ctx, "ada@example.org")[-1]
    assert again["Subject"] == "Your sign-up for “Compilers for everyone”"
    assert "You asked to book a chat with the speaker: choose your slot from this link." in text_part(again)
    assert "You asked to book a chat with the speaker" in html_part(again)
    assert invite(again) is None


def test_a_topic_with_markup_is_shown_as_text_in_the_html_email(ctx: Flask) -> None:
    talk = a_talk("Grace Hopper")
    slot = slots_for(talk)[0]
    book(talk, "ada@example.org", slot, topic='<a href="https://evil.example">click</a>')
    email = last_chat_email(ctx, "ada@example.org")
    assert "&lt;a href=" in html_part(email)
    assert '<a href="https://evil.example">' not in html_part(email)


# The draw ----------------------------------------------------------------------------------------


def draw_talk() -> tuple[Talk, list[ChatSlot]]:
    talk = a_talk("Grace Hopper")
    slots = slots_for(talk, count=2, capacity=1)
    chats.set_options(
        db.session,
        talk.id,
        assignment=ChatAssignment.DRAW,
        closes=None,
        draw_time=datetime(2030, 7, 28, 16, 0, tzinfo=UTC),
        prefer_new=False,
        is_open=True,
        now=NOW,
    )
    jobs.commit_and_dispatch()
    return talk, slots


def test_wishes_are_acknowledged_in_order_with_the_draw_time_and_no_invite(ctx: Flask) -> None:
    talk, (a, b) = draw_talk()
    book(talk, "ada@example.org", b, a, topic="Parsing")

    [wishes] = chat_emails(ctx, "ada@example.org")
    assert wishes["Subject"] == "Your wishes for a chat: “Compilers for everyone”"
    text = text_part(wishes)
    assert "a draw on Sunday, July 28, 2030, 12:00 PM EDT" in text
    first = text.index("1. Monday, July 29, 2030, 12:15 PM – 12:30 PM EDT")
    second = text.index("2. Monday, July 29, 2030, 12:00 PM – 12:15 PM EDT")
    assert first < second
    assert "Change your wishes: http://lectern.test/rsvp/" in text
    assert invite(wishes) is None


def test_after_the_draw_the_placed_get_their_chat_and_the_others_the_slots_still_open(ctx: Flask) -> None:
    talk, (a, _) = draw_talk()
    book(talk, "ada@example.org", a)
    book(talk, "bob@example.org", a)
    chats.run_draw(db.session, talk.id, datetime(2030, 7, 28, 16, 0, tzinfo=UTC), seed="fixed")
    jobs.commit_and_dispatch()

    placed = [
        who for who in ("ada@example.org", "bob@example.org") if "draw gave you" in last_chat_email(ctx, who)["Subject"]
    ]
    [lucky] = placed
    unlucky = ({"ada@example.org", "bob@example.org"} - {lucky}).pop()
    won = last_chat_email(ctx, lucky)
    assert "Good news: the draw gave you a chat with Grace Hopper." in text_part(won)
    assert str(invite(won)["METHOD"]) == "REQUEST"

    lost = last_chat_email(ctx, unlucky)
    assert lost["Subject"] == "No chat this time: “Compilers for everyone”"
    text = text_part(lost)
    assert "the draw did not give you a chat this time" in text
    assert "- Monday, July 29, 2030, 12:15 PM – 12:30 PM EDT, Room 301, by the window" in text, "b is still open"
    assert "Book one here: http://lectern.test/talks/chatty/chat" in text
    assert invite(lost) is None


# The reminder ------------------------------------------------------------------------------------


def test_the_talks_reminder_mentions_the_chat_with_its_time_and_place(ctx: Flask) -> None:
    talk = a_talk("Grace Hopper")
    slot = slots_for(talk)[0]
    book(talk, "ada@example.org", slot)
    signups.sign_up(db.session, talk.id, name="Bob", email="bob@example.org", mode="room", now=NOW)
    jobs.commit_and_dispatch()
    assert delivery.queue_reminders(db.session, TALK_START - timedelta(hours=10)) == 2
    jobs.commit_and_dispatch()

    ada = sent_to(ctx, "ada@example.org")[-1]
    assert ada["Subject"].endswith(": “Compilers for everyone”") and "reminder" in text_part(ada)
    line = "Your chat with Grace Hopper: Monday, July 29, 2030, 12:00 PM – 12:15 PM EDT, Room 301, by the window"
    assert line in text_part(ada)
    assert "Your chat with Grace Hopper:" in html_part(ada)
    bob = sent_to(ctx, "bob@example.org")[-1]
    assert "reminder" in text_part(bob) and "Your chat" not in text_part(bob)


# The speaker's schedule ------------------------------------------------------------------------


def schedule_emails(app: Flask, address: str = "grace@example.org") -> list[EmailMessage]:
    return sent_to(app, address)


def test_the_speaker_is_emailed_their_schedule_when_chat_sign_up_closes(ctx: Flask) -> None:
    talk = a_talk("Grace Hopper", ask_affiliation=True)
    first, second, _ = slots_for(talk)
    book(talk, "ada@example.org", first, topic="Teaching compilers", name="Ada Lovelace")
    book(talk, "bob@example.org", first, name="Bob Noyce")
    book(talk, "cy@example.org", second, topic="Linkers")
    chats.set_speaker_email(db.session, talk.id, "Grace Hopper", "grace@example.org")
    chats.speaker_link_nonce(db.session, talk.id)
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
    jobs.commit_and_dispatch()

    [email] = schedule_emails(ctx)
    assert email["Subject"] == "Your chats after “Compilers for everyone”"
    assert parseaddr(email["To"]) == ("Grace Hopper", "grace@example.org")
    text = text_part(email)
    assert "Here is who is coming to chat with you after your talk." in text
    assert "12:00 PM – 12:15 PM EDT (15 minutes), Room 301, by the window" in text
    assert "- Ada Lovelace (Cambridge): Teaching compilers" in text
    assert "- Bob Noyce (Cambridge)" in text
    assert "12:30 PM – 12:45 PM EDT (15 minutes), Room 301, by the window\n  Nobody has booked this chat." in text
    assert text.index("Ada Lovelace") < text.index("Cy")
    for private in ("ada@example.org", "bob@example.org", "cy@example.org", "/rsvp/"):
        assert private not in text and private not in html_part(email)
    talk = db.session.get(Talk, talk.id)
    link = jobs.speaker_links_for(talk, "Grace Hopper").schedule_url
    assert link.startswith("http://lectern.test/chats/speaker/")
    assert f"Your schedule, always up to date: {link}" in text
    assert f'href="{link}"' in html_part(email)
    assert invite(email) is None


def test_the_speakers_schedule_again_after_a_change_marked_as_updated_without_a_link_when_none_is_made(
    ctx: Flask,
) -> None:
    talk = a_talk("Grace Hopper")
    slot = slots_for(talk)[0]
    chats.set_speaker_email(db.session, talk.id, "Grace Hopper", "grace@example.org")
    chats.queue_speaker_schedules_for(db.session, talk, NOW)
    jobs.commit_and_dispatch()
    book(talk, "ada@example.org", slot, topic="Teaching compilers", name="Ada Lovelace")

    first, updated = schedule_emails(ctx)
    assert "Nobody has booked this chat." in text_part(first)
    assert updated["Subject"] == "Updated: your chats after “Compilers for everyone”"
    text = text_part(updated)
    assert "Your chat schedule changed." in text
    assert "- Ada Lovelace: Teaching compilers" in text, "no affiliation when the talk does not ask for it"
    assert "/chats/speaker/" not in text, "no link before the organizers make one"


def test_with_several_speakers_each_gets_only_their_own_chats(ctx: Flask) -> None:
    talk = a_talk("Grace Hopper", "Alan Turing")
    [grace] = slots_for(talk, count=1, speaker_name="Grace Hopper")
    [alan] = slots_for(talk, count=1, speaker_name="Alan Turing", first_starts_at=TALK_START + timedelta(hours=3))
    book(talk, "ada@example.org", grace, name="Ada Lovelace")
    book(talk, "bob@example.org", alan, name="Bob Noyce")
    chats.set_speaker_email(db.session, talk.id, "Grace Hopper", "grace@example.org")
    chats.set_speaker_email(db.session, talk.id, "Alan Turing", "alan@example.org")
    chats.queue_speaker_schedules_for(db.session, talk, NOW)
    jobs.commit_and_dispatch()

    [to_grace] = schedule_emails(ctx, "grace@example.org")
    [to_alan] = schedule_emails(ctx, "alan@example.org")
    assert "Ada Lovelace" in text_part(to_grace) and "Bob Noyce" not in text_part(to_grace)
    assert "Bob Noyce" in text_part(to_alan) and "Ada Lovelace" not in text_part(to_alan)


def test_every_kind_of_message_lectern_writes_has_a_handler() -> None:
    missing = [kind.name for kind in outbox.KINDS.values() if kind.handler not in delivery.HANDLERS]
    assert missing == []
