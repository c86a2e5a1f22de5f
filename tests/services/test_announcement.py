"""The announcement email: what it says of a talk, in text and HTML, from the series' template;
the template's errors; the mailing lists; and what sending it owes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask, render_template
from sqlalchemy import select

import jobs
from extensions import db
from models import ChatAssignment, ChatSlot, OutboxMessage, Speaker, Talk, TalkPart, TalkStatus
from services import announcement, delivery
from services.announcement import AnnouncementError, TemplateProblem
from tests.rsvp_support import make_talk
from tests.services.test_delivery import Mailer

# Friday, March 14, 2031, 11:30 in Montreal (daylight time: UTC-4).
START = datetime(2031, 3, 14, 15, 30, tzinfo=UTC)
NOW = START - timedelta(days=10)
SITE = "http://lectern.test"


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def links_of(talk: Talk) -> announcement.Links:
    return announcement.Links(
        talk_url=f"{SITE}/talks/{talk.slug}",
        signup_url=f"{SITE}/talks/{talk.slug}/rsvp",
        calendar_url=f"{SITE}/talks/{talk.slug}.ics",
        chat_url=f"{SITE}/talks/{talk.slug}/chat",
    )


def a_talk(**fields: object) -> Talk:
    """Rosa's talk on Friday, March 14, 2031, 11:30 in Montreal, in a room and on Zoom."""
    talk = make_talk(seats=30, slug="tidy-data", starts_at=START, title="Tidy Datasets, Messy Worlds", **fields)
    talk.parts = [
        TalkPart(
            position=0,
            abstract_md="Why data gets *messy*.\n\nA second paragraph, for the talk page only.",
            bio_md="Rosa studies data.",
            speakers=[Speaker(position=0, name="Rosa Lindqvist", affiliation="Northern Institute")],
        )
    ]
    db.session.commit()
    return talk


def build(talk: Talk, now: datetime = NOW) -> announcement.Announcement:
    return announcement.build(db.session, talk, links_of(talk), now)


def add_slots(talk: Talk, *capacities: int) -> None:
    for number, capacity in enumerate(capacities):
        db.session.add(
            ChatSlot(talk=talk, starts_at=talk.ends_at + timedelta(minutes=15 * number), minutes=15, capacity=capacity)
        )
    db.session.commit()


# What it says -------------------------------------------------------------------------------


def test_the_default_announcement_gives_the_talk_in_the_series_time_zone(ctx: Flask) -> None:
    talk = a_talk()
    built = build(talk)

    assert built.subject == "Fri, Mar 14: Tidy Datasets, Messy Worlds (Rosa Lindqvist)"
    text = built.text
    assert "our next talk, by Rosa Lindqvist (Northern Institute)" in text
    assert "**Tidy Datasets, Messy Worlds**" in text
    assert "When: Friday, March 14, 2031, 11:30 AM – 12:30 PM EDT" in text
    assert "Where: Room for tidy-data. Second door on the left." in text
    assert "Online: via Zoom (the join link is sent to people who sign up)" in text
    assert "Why data gets *messy*." in text
    assert "A second paragraph" not in text, "the short abstract: its first paragraph"
    assert "About Rosa Lindqvist: Rosa studies data." in text
    signup = "Sign-up is open until Friday, March 14, 2031, 11:30 AM EDT:\n<http://lectern.test/talks/tidy-data/rsvp>"
    assert signup in text
    assert "Add it to your calendar: <http://lectern.test/talks/tidy-data.ics>" in text
    assert "All the details: <http://lectern.test/talks/tidy-data>" in text
    assert "Questions? Write to <talks@series.example.org>" in text
    assert "chat" not in text.lower(), "no chats, no word of them"

    html = built.html
    assert "<strong>Tidy Datasets, Messy Worlds</strong>" in html
    assert "When: Friday, March 14, 2031, 11:30 AM – 12:30 PM EDT<br>" in html
    assert "Why data gets <em>messy</em>." in html
    assert '<a href="http://lectern.test/talks/tidy-data/rsvp"' in html
    assert '<a href="http://lectern.test/talks/tidy-data.ics"' in html
    assert '<a href="http://lectern.test/talks/tidy-data"' in html
    assert '<a href="mailto:talks@series.example.org"' in html


def test_the_time_follows_the_series_zone_and_its_abbreviation(ctx: Flask) -> None:
    talk = a_talk()
    talk.series.timezone = "Europe/Paris"
    db.session.commit()
    built = build(talk)
    assert "When: Friday, March 14, 2031, 4:30 PM – 5:30 PM CET" in built.text
    assert "Sign-up is open until Friday, March 14, 2031, 4:30 PM CET" in built.text


def test_never_a_join_link_only_the_platform(ctx: Flask) -> None:
    talk = a_talk(room=False)
    context = announcement.context_for(talk, links_of(talk), None, NOW)
    assert not [name for name in context if "join" in name]
    built = build(talk)
    assert "Where:" not in built.text
    assert "Online: via Zoom (the join link is sent to people who sign up)" in built.text
    assert "in the room or online" not in built.text
    assert "zoom.us" not in built.text + built.html


def test_chats_first_come_first_served_with_their_link_and_closing_time(ctx: Flask) -> None:
    talk = a_talk()
    add_slots(talk, 3, 4)
    built = build(talk)
    assert "short chats in person: 2 slots, 7 places in all." in built.text
    assert "Places go first come, first served, until Friday, March 14, 2031, 11:30 AM EDT." in built.text
    assert "Book a chat: <http://lectern.test/talks/tidy-data/chat>" in built.text
    assert '<a href="http://lectern.test/talks/tidy-data/chat"' in built.html
    assert "first come, first served" in built.html


def test_chats_by_draw_say_when_the_draw_is_and_until_when_places_go(ctx: Flask) -> None:
    talk = a_talk(
        chat_assignment=ChatAssignment.DRAW,
        chat_draw_at=datetime(2031, 3, 12, 16, 0, tzinfo=UTC),
        chat_closes_at=datetime(2031, 3, 14, 14, 0, tzinfo=UTC),
    )
    add_slots(talk, 1)
    text = build(talk).text
    assert "1 slot, 1 place in all." in text
    assert "Places are given by a draw on Wednesday, March 12, 2031, 12:00 PM EDT" in text
    assert "ask for up to three slots" in text
    assert "first come, first served until Friday, March 14, 2031, 10:00 AM EDT." in text
    assert "Book a chat: <http://lectern.test/talks/tidy-data/chat>" in text


def test_chats_closed_are_not_announced(ctx: Flask) -> None:
    talk = a_talk(chat_open=False)
    add_slots(talk, 3)
    assert "chat" not in build(talk).text.lower()
    talk.chat_open = True
    talk.chat_closes_at = NOW - timedelta(hours=1)
    db.session.commit()
    assert "chat" not in build(talk).text.lower()


def test_plain_values_show_as_typed_in_html_and_markdown_ones_are_formatted(ctx: Flask) -> None:
    talk = a_talk()
    talk.title = "Why *Stars* <b>Shine</b> & 1. [Fade](javascript:alert(1))"
    db.session.commit()
    built = build(talk)
    assert "**Why *Stars* <b>Shine</b> & 1. [Fade](javascript:alert(1))**" in built.text, "the text as typed"
    assert "<strong>Why *Stars* &lt;b&gt;Shine&lt;/b&gt; &amp; 1. [Fade](javascript:alert(1))</strong>" in built.html
    assert "<em>Stars</em>" not in built.html and "<b>" not in built.html
    assert "<a" not in built.html.split("</strong>")[0], "no link made of a title"
    assert built.subject.startswith("Fri, Mar 14: Why *Stars* <b>Shine</b>"), "the subject is plain text"


def test_unsafe_markdown_in_an_abstract_is_sanitised(ctx: Flask) -> None:
    talk = a_talk()
    talk.parts[0].abstract_md = 'Look <script>alert(1)</script><a href="javascript:alert(2)">here</a> **now**.'
    db.session.commit()
    html = build(talk).html
    assert "<script" not in html and "javascript:" not in html
    assert "<strong>now</strong>" in html


def test_a_talk_of_several_parts_names_each(ctx: Flask) -> None:
    talk = a_talk()
    talk.parts.append(
        TalkPart(
            position=1,
            title="Second half",
            abstract_md="More data.",
            speakers=[Speaker(position=0, name="Omar Haddad", affiliation="Coastal University")],
        )
    )
    db.session.commit()
    text = build(talk).text
    assert "by Rosa Lindqvist and Omar Haddad (Northern Institute and Coastal University)" in text
    assert "**Rosa Lindqvist**\n\nWhy data gets *messy*." in text
    assert "**Second half** (Omar Haddad)\n\nMore data." in text


def test_no_sign_up_line_while_sign_up_is_closed(ctx: Flask) -> None:
    talk = a_talk(rsvp_open=False)
    text = build(talk).text
    assert "Please sign up" not in text and "/rsvp" not in text
    assert "All the details: <http://lectern.test/talks/tidy-data>" in text


# The template -------------------------------------------------------------------------------


def test_an_edited_template_is_used(ctx: Flask) -> None:
    talk = a_talk()
    announcement.save_settings(
        talk.series,
        lists="",
        template="Subject: Come and hear {{ speakers }}\n\n{{ title }}, {{ date }} in {{ room }}.\n"
        "Sign up: <{{ signup_url }}>",
    )
    db.session.commit()
    built = build(talk)
    assert built.subject == "Come and hear Rosa Lindqvist"
    assert built.text == (
        "Tidy Datasets, Messy Worlds, Friday, March 14, 2031 in Room for tidy-data.\n"
        "Sign up: <http://lectern.test/talks/tidy-data/rsvp>\n"
    )
    assert "Tidy Datasets, Messy Worlds, Friday, March 14, 2031 in Room for tidy\\-data" not in built.html
    assert "Tidy Datasets, Messy Worlds, Friday, March 14, 2031 in Room for tidy-data.<br>" in built.html


def test_a_line_of_tags_alone_leaves_no_line_and_other_lines_keep_theirs(ctx: Flask) -> None:
    source = (
        "Subject: x\n\nA{% if room %} in {{ room }}{% endif %}\n{% if online %}\nOnline\n{% endif %}\nB {# note #}\nC"
    )
    context = announcement.sample_context(full=True)
    assert announcement.render(source, context).text == "A in Room 101\nOnline\nB\nC\n"
    assert announcement.render(source, announcement.sample_context(full=False)).text == "A\nB\nC\n"


def test_a_long_line_of_tags_with_text_after_them_is_read_at_once() -> None:
    """Reading a line as "tags only" must not try every way of splitting it into tags (which never ends)."""
    source = "Subject: x\n\n" + "{% if room %}{% endif %}" * 2000 + " and text\nEnd"
    assert announcement.render(source, announcement.sample_context(full=True)).text == " and text\nEnd\n"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Subject: {{ title }\n\nHello", "Line 1: unexpected '}'"),
        ("Subject: x\n\nHello {{ titel }}", "Line 3: 'titel' is undefined."),
        ("Subject: x\n\n{% if room %}\nHello\n", "Line 4: Unexpected end of template."),
        ("Hello {{ title }}", "Line 1: The template must begin with the subject line"),
        ("Subject:   \n\nHello", "Line 1: The subject line is empty."),
        ("Subject: x\n\n\n{{ chats.slots }} chats", "Line 4: 'None' has no attribute 'slots' (for a talk without"),
        ("Subject: x\n\n{{ title.__class__.__mro__ }}", "Line 3: access to attribute '__class__'"),
        ("Subject: x\n\n{% for i in range(100000) %}{{ abstract }}{% endfor %}", "grows past 100,000 characters"),
        ("Subject: x\n\n{{ parts.append(1) }}", "Line 3: access to attribute 'append' of 'list' object is unsafe"),
    ],
)
def test_a_template_that_does_not_render_says_why_and_where(source: str, expected: str) -> None:
    with pytest.raises(TemplateProblem) as problem:
        announcement.check_template(source)
    assert str(problem.value).startswith(expected) or expected in str(problem.value)
    assert problem.value.field == "announce_template"


def test_a_broken_template_is_not_saved(ctx: Flask) -> None:
    talk = a_talk()
    series = talk.series
    announcement.save_settings(series, lists="talks@lists.example.org", template="Subject: Mine\n\nHello")
    db.session.commit()
    with pytest.raises(TemplateProblem, match="Line 3"):
        announcement.save_settings(series, lists="other@lists.example.org", template="Subject: x\n\n{{ nope }}")
    db.session.rollback()
    assert series.announce_template == "Subject: Mine\n\nHello\n"
    assert series.announce_lists == "talks@lists.example.org", "nothing of the refused change is kept"


def test_the_default_template_saved_as_it_is_stays_lecterns_own(ctx: Flask) -> None:
    series = a_talk().series
    announcement.save_settings(series, lists="", template=announcement.DEFAULT_TEMPLATE.replace("\n", "\r\n"))
    assert series.announce_template == "", "follows Lectern's default as it improves"
    announcement.save_settings(series, lists="", template="Subject: Mine\n\nHello")
    assert series.announce_template == "Subject: Mine\n\nHello\n"
    announcement.save_settings(series, lists="", template="Subject: Mine\n\nHello", reset=True)
    assert series.announce_template == ""
    announcement.save_settings(series, lists="", template="   ")
    assert series.announce_template == ""


def test_every_variable_the_help_lists_is_given_to_templates(ctx: Flask) -> None:
    talk = a_talk()
    context = announcement.context_for(talk, links_of(talk), None, NOW)
    listed = {name.strip() for names, _ in announcement.VARIABLES for name in names.split(",")}
    assert listed == set(context)
    assert set(announcement.sample_context(full=True)) == set(context) == set(announcement.sample_context(full=False))


# The lists ----------------------------------------------------------------------------------


def test_list_addresses_are_validated_normalised_and_kept_once(ctx: Flask) -> None:
    series = a_talk().series
    announcement.save_settings(
        series,
        lists="Talks@Lists.Example.org, seminars@lists.example.org\n\n talks@lists.example.org \nnews@bücher.example",
        template="",
    )
    assert series.announce_lists == "talks@lists.example.org\nseminars@lists.example.org\nnews@xn--bcher-kva.example"
    assert announcement.lists_of(series) == [
        "talks@lists.example.org",
        "seminars@lists.example.org",
        "news@xn--bcher-kva.example",
    ]
    with pytest.raises(AnnouncementError, match=r"“talks-at-lists\.example\.org” is not an address") as refused:
        announcement.save_settings(series, lists="ok@example.org, talks-at-lists.example.org", template="")
    assert refused.value.field == "announce_lists"


# Sending ------------------------------------------------------------------------------------


def owed() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == announcement.KIND)))


def test_sending_owes_one_email_per_list_and_notes_when(ctx: Flask) -> None:
    talk = a_talk()
    updated = talk.updated_at
    built = build(talk)
    lists = ["talks@lists.example.org", "seminars@lists.example.org"]
    sent = announcement.send(db.session, talk, built, lists=lists, domain="lectern.test", now=NOW)
    db.session.commit()
    assert sent == lists
    assert [(m.recipient_email, m.talk_id, m.payload["subject"]) for m in owed()] == [
        ("talks@lists.example.org", talk.id, built.subject),
        ("seminars@lists.example.org", talk.id, built.subject),
    ]
    assert talk.announced_at == NOW
    assert talk.updated_at == updated, "announcing is no change to the talk's calendar or feed entry"


def test_sending_again_needs_the_organizers_say_so(ctx: Flask) -> None:
    talk = a_talk()
    built = build(talk)
    announcement.send(db.session, talk, built, lists=["a@lists.example.org"], domain="lectern.test", now=NOW)
    db.session.commit()
    with pytest.raises(announcement.AlreadySent) as refused:
        announcement.send(db.session, talk, built, lists=["a@lists.example.org"], domain="lectern.test", now=NOW)
    assert refused.value.sent_at == NOW
    db.session.rollback()
    assert len(owed()) == 1
    later = NOW + timedelta(hours=1)
    announcement.send(
        db.session, talk, built, lists=["a@lists.example.org"], domain="lectern.test", now=later, again=True
    )
    db.session.commit()
    assert len(owed()) == 2 and talk.announced_at == later


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"published": False}, "hidden from the public"),
        ({"status": TalkStatus.CANCELLED}, "cancelled"),
        ({"starts_at": NOW - timedelta(minutes=1)}, "already started"),
    ],
)
def test_a_talk_that_cannot_be_announced_is_not(ctx: Flask, change: dict[str, object], reason: str) -> None:
    talk = a_talk()
    built = build(talk)
    for name, value in change.items():
        setattr(talk, name, value)
    with pytest.raises(AnnouncementError, match=reason):
        announcement.send(db.session, talk, built, lists=["a@lists.example.org"], domain="lectern.test", now=NOW)
    assert owed() == []


def test_no_lists_no_sending(ctx: Flask) -> None:
    talk = a_talk()
    with pytest.raises(AnnouncementError, match="No mailing lists yet"):
        announcement.send(db.session, talk, build(talk), lists=[], domain="lectern.test", now=NOW)


def deliver(message_id: int, mailer: Mailer, now: datetime) -> str:
    return delivery.deliver(
        db.session, message_id, mailer=mailer, links_for=jobs.links_for, render=render_template, now=now
    )


def test_the_outbox_sends_each_list_the_announcement_as_it_was_sent(ctx: Flask) -> None:
    talk = a_talk()
    built = build(talk)
    announcement.send(db.session, talk, built, lists=["talks@lists.example.org"], domain="lectern.test", now=NOW)
    db.session.commit()
    talk.title = "A title changed afterwards"
    db.session.commit()
    [message] = owed()
    mailer = Mailer()
    assert deliver(message.id, mailer, NOW + timedelta(minutes=1)) == "sent"
    [email] = mailer.sent
    assert email["To"] == "talks@lists.example.org"
    assert email["From"] == "Test Series <talks@series.example.org>"
    assert email["Subject"] == "Fri, Mar 14: Tidy Datasets, Messy Worlds (Rosa Lindqvist)"
    assert email["Message-ID"].endswith("@lectern.test>")
    assert email.get_body(preferencelist=("plain",)).get_content() == built.text  # type: ignore[union-attr]
    html = email.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert built.html in html and html.startswith("<!doctype html>")
    assert deliver(message.id, mailer, NOW + timedelta(minutes=2)) == "already done"


def test_an_announcement_still_owed_when_the_talk_is_cancelled_is_not_sent(ctx: Flask) -> None:
    talk = a_talk()
    announcement.send(db.session, talk, build(talk), lists=["a@lists.example.org"], domain="lectern.test", now=NOW)
    db.session.commit()
    talk.status = TalkStatus.CANCELLED
    db.session.commit()
    [message] = owed()
    mailer = Mailer()
    assert deliver(message.id, mailer, NOW + timedelta(minutes=1)) == "superseded: the talk is cancelled since"
    assert mailer.sent == []
