"""Reactions to changes: every change of a sign-up or a talk reaches its handlers once, in its
own unit of work, and a handler that fails takes the whole change back with it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from extensions import db
from models import Rsvp, RsvpStatus, Talk, TalkStatus
from services import signups, talk_changes, talk_editing
from services.signups import ERASED, Cause, SignupChange
from services.talk_changes import TalkCause, TalkChange
from tests.blueprints.conftest import ada, seeded, talk_form  # noqa: F401 (fixtures)
from tests.rsvp_support import make_talk, outbox_rows
from tests.services.test_importer import GOOD_POST, run_import, write_post

NOW = datetime.now(UTC).replace(microsecond=0)
SEATED, WAITING, ONLINE, CANCELLED = RsvpStatus.SEATED, RsvpStatus.WAITING, RsvpStatus.ONLINE, RsvpStatus.CANCELLED
DEMO = "what-quiet-benchmarks-hide"


class Boom(RuntimeError):
    pass


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def signup_changes() -> Iterator[list[tuple[Any, ...]]]:
    """(cause, before, after, email) of every sign-up change, for the length of one test."""
    seen: list[tuple[Any, ...]] = []

    def handler(change: SignupChange) -> None:
        seen.append((change.cause, change.before, change.after, change.rsvp.email))

    signups.on_signup_change(handler)
    yield seen
    signups.remove_signup_handler(handler)


@pytest.fixture
def talk_changes_seen() -> Iterator[list[TalkChange]]:
    seen: list[TalkChange] = []
    talk_changes.on_talk_change(seen.append)
    yield seen
    talk_changes.remove_talk_handler(seen.append)


def sign(talk: Talk, who: str, mode: str = "room") -> Rsvp:
    result = signups.sign_up(db.session, talk.id, name=who.split("@")[0].title(), email=who, mode=mode, now=NOW)
    db.session.commit()
    return result.rsvp


# Sign-ups ---------------------------------------------------------------------------------


def test_signing_up_is_one_change_from_nothing(ctx: Flask, signup_changes: list[tuple[Any, ...]]) -> None:
    talk = make_talk(seats=1)
    sign(talk, "ann@example.org")
    sign(talk, "bob@example.org")
    sign(talk, "cy@example.org", "online")
    sign(talk, "ann@example.org")  # a repeat changes nothing
    assert signup_changes == [
        (Cause.SIGNED_UP, None, SEATED, "ann@example.org"),
        (Cause.SIGNED_UP, None, WAITING, "bob@example.org"),
        (Cause.SIGNED_UP, None, ONLINE, "cy@example.org"),
    ]


def test_a_cancellation_then_the_promotion_it_frees(ctx: Flask, signup_changes: list[tuple[Any, ...]]) -> None:
    talk = make_talk(seats=1)
    ann, bob = sign(talk, "ann@example.org"), sign(talk, "bob@example.org")
    signup_changes.clear()
    signups.cancel(db.session, ann.id, NOW)
    db.session.commit()
    assert signup_changes == [
        (Cause.CANCELLED, SEATED, CANCELLED, "ann@example.org"),
        (Cause.PROMOTED, WAITING, SEATED, "bob@example.org"),
    ]
    assert [row.kind for row in outbox_rows() if row.rsvp_id == bob.id] == ["rsvp.confirmation", "rsvp.promoted"]


def test_switching_mode_and_an_organizers_move(ctx: Flask, signup_changes: list[tuple[Any, ...]]) -> None:
    talk = make_talk(seats=2)
    ann = sign(talk, "ann@example.org")
    signup_changes.clear()
    signups.change_mode(db.session, ann.id, "online", NOW)
    signups.change_mode(db.session, ann.id, "online", NOW)  # already online: no change
    signups.move(db.session, ann.id, SEATED, NOW)
    signups.move(db.session, ann.id, CANCELLED, NOW)
    db.session.commit()
    assert signup_changes == [
        (Cause.SWITCHED_MODE, SEATED, ONLINE, "ann@example.org"),
        (Cause.MOVED, ONLINE, SEATED, "ann@example.org"),
        (Cause.CANCELLED, SEATED, CANCELLED, "ann@example.org"),
    ]
    assert outbox_rows("rsvp.cancelled")[-1].payload == {"by_organizer": True}


def test_erasing_is_a_change_to_erased(ctx: Flask, signup_changes: list[tuple[Any, ...]]) -> None:
    talk = make_talk(seats=1)
    ann, _ = sign(talk, "ann@example.org"), sign(talk, "bob@example.org")
    signup_changes.clear()
    signups.delete(db.session, ann.id, NOW)
    db.session.commit()
    assert signup_changes == [
        (Cause.ERASED, SEATED, ERASED, "ann@example.org"),
        (Cause.PROMOTED, WAITING, SEATED, "bob@example.org"),
    ]


def test_the_retention_purge_erases_through_the_same_change(ctx: Flask, signup_changes: list[tuple[Any, ...]]) -> None:
    old = make_talk(seats=5, slug="old", starts_at=NOW - timedelta(days=400))
    make_talk(seats=5, slug="new")
    db.session.add(
        Rsvp(talk=old, email="ann@example.org", name="Ann", status=SEATED, queued_at=NOW, token_nonce="x", sequence=0)
    )
    db.session.commit()
    assert signups.purge_attendee_data(db.session, NOW, keep=timedelta(days=180)) == 1
    db.session.commit()
    assert signup_changes == [(Cause.PURGED, SEATED, ERASED, "ann@example.org")]
    assert db.session.scalars(select(Rsvp)).all() == []
    assert outbox_rows() == [], "nobody is written to when their data is purged"


def test_a_walk_in_and_checking_in(ctx: Flask, signup_changes: list[tuple[Any, ...]]) -> None:
    talk = make_talk(seats=1)
    ann = sign(talk, "ann@example.org")
    walk_in = signups.add_walk_in(db.session, talk.id, name="Dee", email="", now=NOW)
    signups.check_in(db.session, ann.id, NOW)
    signups.check_in(db.session, ann.id, NOW)  # already in: no change
    signups.check_in(db.session, ann.id, NOW, undo=True)
    db.session.commit()
    assert signup_changes[1:] == [
        (Cause.WALKED_IN, None, SEATED, walk_in.email),
        (Cause.CHECKED_IN, SEATED, SEATED, "ann@example.org"),
        (Cause.CHECK_IN_UNDONE, SEATED, SEATED, "ann@example.org"),
    ]
    assert ann.sequence == 0, "checking in leaves the invite alone"


def test_a_failing_reaction_takes_the_whole_change_back(ctx: Flask) -> None:
    talk = make_talk(seats=1)
    ann, bob = sign(talk, "ann@example.org"), sign(talk, "bob@example.org")
    messages = len(outbox_rows())

    def fail_on_promotion(change: SignupChange) -> None:
        if change.cause is Cause.PROMOTED:
            raise Boom

    signups.on_signup_change(fail_on_promotion)
    try:
        with pytest.raises(Boom):
            signups.cancel(db.session, ann.id, NOW)
        db.session.rollback()
    finally:
        signups.remove_signup_handler(fail_on_promotion)
    db.session.refresh(ann)
    db.session.refresh(bob)
    assert (ann.status, ann.sequence, bob.status, bob.sequence) == (SEATED, 0, WAITING, 0)
    assert len(outbox_rows()) == messages, "neither the cancellation's email nor the promotion's is left"


# Talks ------------------------------------------------------------------------------------


def demo_talk() -> Talk:
    return db.session.scalars(select(Talk).where(Talk.slug == DEMO)).one()


def sequence_of_demo(app: Flask) -> int:
    with app.app_context():
        return demo_talk().sequence


def test_an_organizers_edit_is_one_change(
    seeded: Flask,  # noqa: F811
    ada: FlaskClient,  # noqa: F811
    talk_changes_seen: list[TalkChange],
) -> None:
    with seeded.app_context():
        talk_id = demo_talk().id
    before = sequence_of_demo(seeded)
    data = talk_form(title="What Loud Benchmarks Hide", slug=DEMO)
    assert ada.post(f"/organize/talks/{talk_id}/edit", data=data).status_code == 302
    assert [change.cause for change in talk_changes_seen] == [TalkCause.EDITED]
    assert talk_changes_seen[0].what is not None
    assert sequence_of_demo(seeded) == before + 1


def test_cancel_reinstate_and_delete_are_one_change_each(
    seeded: Flask,  # noqa: F811
    ada: FlaskClient,  # noqa: F811
    talk_changes_seen: list[TalkChange],
) -> None:
    with seeded.app_context():
        talk_id = demo_talk().id
    start = sequence_of_demo(seeded)
    assert ada.post(f"/organize/talks/{talk_id}/cancel").status_code == 302
    assert [c.cause for c in talk_changes_seen] == [TalkCause.CANCELLED]
    assert talk_changes_seen[0].what == "cancelled"
    assert sequence_of_demo(seeded) == start + 1
    assert ada.post(f"/organize/talks/{talk_id}/reinstate").status_code == 302
    assert [c.cause for c in talk_changes_seen] == [TalkCause.CANCELLED, TalkCause.REINSTATED]
    assert sequence_of_demo(seeded) == start + 2
    assert ada.post(f"/organize/talks/{talk_id}/publish").status_code == 302
    assert talk_changes_seen[-1].cause is TalkCause.PUBLISHED and talk_changes_seen[-1].what is None
    assert sequence_of_demo(seeded) == start + 2, "being shown is no change to anyone's calendar"
    ada.post(f"/organize/talks/{talk_id}/cancel")
    talk_changes_seen.clear()
    assert ada.post(f"/organize/talks/{talk_id}/delete").status_code == 302
    assert [(c.cause, c.after) for c in talk_changes_seen] == [(TalkCause.DELETED, None)]
    assert talk_changes_seen[0].talk.slug == DEMO, "the deleted talk still reads as it was"


def test_a_reimported_post_that_moved_the_talk_is_one_change(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, talk_changes_seen: list[TalkChange]
) -> None:
    post = write_post(tmp_path / "fall-2030", "2030-10-04-alma-reyes.md")
    assert "imported" in run_import(runner, str(post)).stderr
    assert [(c.cause, c.before) for c in talk_changes_seen] == [(TalkCause.IMPORTED, None)]
    talk_changes_seen.clear()
    post.write_text(GOOD_POST.replace("Time: 2:30PM", "Time: 3PM"))
    assert "updated" in run_import(runner, str(post)).stderr
    assert [(c.cause, c.what) for c in talk_changes_seen] == [(TalkCause.IMPORTED, "the time")]
    with app.app_context():
        assert db.session.scalars(select(Talk)).one().sequence == 1


def test_a_failing_talk_reaction_takes_the_change_back(ctx: Flask) -> None:
    talk = make_talk(seats=1)
    sign(talk, "ann@example.org")

    def fail(change: TalkChange) -> None:
        raise Boom

    talk_changes.on_talk_change(fail)
    try:
        locked = talk_editing.talk_to_change(db.session, talk.id)
        assert locked is not None
        with pytest.raises(Boom):
            talk_editing.change_status(db.session, locked, TalkStatus.CANCELLED, NOW)
        db.session.rollback()
    finally:
        talk_changes.remove_talk_handler(fail)
    db.session.refresh(talk)
    assert (talk.status, talk.sequence) == (TalkStatus.SCHEDULED, 0)
    assert outbox_rows("talk.cancelled") == []
