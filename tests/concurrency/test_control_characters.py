"""On PostgreSQL, which refuses a NUL byte in any text: bad input is a 400, and database errors
never carry an attendee's address or link nonce into the log.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import Rsvp, RsvpStatus
from services.tokens import manage_token
from tests.concurrency import live
from tests.conftest import dispose, make_app, skip_or_fail

SLUG = live.TALK_SLUG
EMAIL = "ada.private@example.org"


@pytest.fixture
def pg_app(tmp_path: Path) -> Iterator[Flask]:
    reason = live.postgres_unreachable()
    if reason:
        skip_or_fail(reason)
    with live.throwaway_postgres() as url:
        app = make_app(tmp_path, DATABASE_URL=url)
        result = app.test_cli_runner().invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
        try:
            yield app
        finally:
            dispose(app)


def sign_up(app: Flask) -> tuple[str, Rsvp]:
    client = app.test_client()
    response = client.post(f"/talks/{SLUG}/rsvp", data={"name": "Ada", "email": EMAIL, "mode": "room"})
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        rsvp = db.session.scalars(select(Rsvp).where(Rsvp.email == EMAIL)).one()
        db.session.expunge(rsvp)
    return "/rsvp/" + manage_token(app.config["SECRET_KEY"], rsvp), rsvp


def test_nul_bytes_are_a_400_not_a_500(pg_app: Flask) -> None:
    manage, _ = sign_up(pg_app)
    client = pg_app.test_client()
    cut = len(manage) // 2
    for path in ("/talks/a%00b", "/talks/a%00b.ics", "/semesters/a%00b", manage[:cut] + "%00" + manage[cut:]):
        assert client.get(path).status_code == 400, path
    data = {"name": "Bob\x00", "email": "bob@example.org", "mode": "room"}
    assert client.post(f"/talks/{SLUG}/rsvp", data=data).status_code == 400
    with pg_app.app_context():
        assert db.session.scalar(select(func.count(Rsvp.id)).where(Rsvp.email == "bob@example.org")) == 0
    assert client.get(manage).status_code == 200


def _broken_copy(rsvp: Rsvp, **fields: object) -> Rsvp:
    values: dict[str, object] = {
        "talk_id": rsvp.talk_id,
        "email": rsvp.email,
        "name": "Ada again",
        "status": RsvpStatus.SEATED,
        "queued_at": datetime.now(UTC),
        "token_nonce": rsvp.token_nonce,
        "sequence": 0,
        **fields,
    }
    return Rsvp(**values)


@pytest.mark.parametrize("fields", [{}, {"name": None}], ids=["duplicate sign-up", "missing name"])
def test_a_database_error_and_its_log_record_hold_no_address_or_nonce(
    pg_app: Flask, caplog: pytest.LogCaptureFixture, fields: dict[str, object]
) -> None:
    _, rsvp = sign_up(pg_app)
    log = logging.getLogger("lectern.test")
    with pg_app.app_context(), caplog.at_level(logging.ERROR):
        db.session.add(_broken_copy(rsvp, **fields))
        with pytest.raises(IntegrityError) as raised:
            db.session.flush()
        log.exception("sign-up failed")
        db.session.rollback()
    text = "".join(traceback.format_exception(raised.value)) + caplog.text
    assert "sign-up failed" in caplog.text and "IntegrityError" in text
    assert "constraint" in text, "the error still says what failed"
    assert EMAIL not in text, text
    assert rsvp.token_nonce not in text, text
