"""Control characters in an address or a form are bad input: a 400 page a person can read, nothing saved.

On PostgreSQL a NUL byte reaching a query was a 500 (see tests/concurrency/test_control_characters.py
for the same requests there); here, on SQLite, the page and the status are checked.
"""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from blueprints.cached_pages import talk_key
from extensions import db
from models import Rsvp
from services.tokens import manage_token
from tests.rsvp_support import make_talk, sent_to

SLUG = "a-talk"


@pytest.fixture
def talk(app: Flask) -> str:
    with app.app_context():
        return make_talk(5, slug=SLUG, ask_question=True, ask_affiliation=True).slug


def manage_path(client: FlaskClient) -> str:
    """Sign up; the manage page's path, as the confirmation email gives it."""
    response = client.post(f"/talks/{SLUG}/rsvp", data={"name": "Ada", "email": "ada@example.org", "mode": "room"})
    assert response.status_code == 303
    app = client.application
    with app.app_context():
        rsvp = db.session.scalars(select(Rsvp).where(Rsvp.email == "ada@example.org")).one()
        return "/rsvp/" + manage_token(app.config["SECRET_KEY"], rsvp)


def rsvp_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Rsvp.id))) or 0


def assert_bad_input(response: object, words: str) -> None:
    assert response.status_code == 400  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert words in page and "Upcoming talks" in page, "the site's own error page, in words"


@pytest.mark.parametrize(
    "path",
    [
        "/talks/a%00b",
        "/talks/a%00b.ics",
        "/talks/a%00b/rsvp",
        "/semesters/a%00b",
        "/talks/a%1bb",
        "/talks/a%7fb",
        "/talks/a%0d%0ab",
        "/semesters?x=%00",
        "/?q=a%0d%0aSet-Cookie:%20x",
        "/?a%00=1",
    ],
)
def test_control_characters_in_an_address_are_refused(app: Flask, client: FlaskClient, talk: str, path: str) -> None:
    assert_bad_input(client.get(path), "cannot be part of a web address")


def test_a_manage_link_with_a_nul_is_refused(app: Flask, client: FlaskClient, talk: str) -> None:
    path = manage_path(client)
    cut = len(path) // 2
    assert_bad_input(client.get(path[:cut] + "%00" + path[cut:]), "cannot be part of a web address")
    assert_bad_input(client.get(path + "%00"), "cannot be part of a web address")
    response = client.post(path + "%00/cancel")
    assert response.status_code == 400
    assert client.get(path).status_code == 200, "the link itself still works"


@pytest.mark.parametrize("field", ["name", "email", "affiliation", "question", "mode"])
def test_a_sign_up_with_a_control_character_is_refused_and_nothing_saved(
    app: Flask, client: FlaskClient, talk: str, field: str
) -> None:
    data = {"name": "Ada", "email": "ada@example.org", "mode": "room", "affiliation": "X", "question": "Why?"}
    data[field] = data[field][:1] + "\x00" + data[field][1:]
    assert_bad_input(client.post(f"/talks/{SLUG}/rsvp", data=data), "invisible control characters")
    assert rsvp_count(app) == 0
    assert sent_to(app, "ada@example.org") == []


def test_other_control_characters_in_a_form_are_refused_too(app: Flask, client: FlaskClient, talk: str) -> None:
    for bad in ("\x01", "\x08", "\x0b", "\x1b", "\x1f"):
        data = {"name": f"Ada{bad}", "email": "ada@example.org", "mode": "room"}
        assert client.post(f"/talks/{SLUG}/rsvp", data=data).status_code == 400, repr(bad)
    assert rsvp_count(app) == 0


def test_line_breaks_and_tabs_in_a_multi_line_field_are_kept(app: Flask, client: FlaskClient, talk: str) -> None:
    question = "First line,\r\n\tthen an indented second."
    data = {"name": "Ada", "email": "ada@example.org", "mode": "room", "question": question}
    assert client.post(f"/talks/{SLUG}/rsvp", data=data).status_code == 303
    with app.app_context():
        assert db.session.scalars(select(Rsvp)).one().question.splitlines() == [
            "First line,",
            "\tthen an indented second.",
        ]


def test_an_uploaded_file_name_with_a_nul_is_refused(app: Flask, client: FlaskClient, talk: str) -> None:
    data = {"name": "Ada", "email": "ada@example.org", "mode": "room"}
    upload = {**data, "post": (io.BytesIO(b"---\ntitle: x\n---\n"), "2030-01-01-x\x00.md")}
    response = client.post(f"/talks/{SLUG}/rsvp", data=upload, content_type="multipart/form-data")
    assert_bad_input(response, "invisible control characters")
    assert rsvp_count(app) == 0


def test_a_talk_address_with_a_control_character_is_never_served_from_or_stored_in_the_page_cache(
    app: Flask, client: FlaskClient, talk: str
) -> None:
    """Talk pages are answered by a middleware before Flask when cached: such an address must go on to Flask."""
    cache = app.extensions["lectern.page_cache"]
    assert client.get(f"/talks/{SLUG}").status_code == 200
    for _ in range(2):
        assert client.get(f"/talks/{SLUG}%00").status_code == 400
        assert client.head(f"/talks/{SLUG}%00").status_code == 400
    assert all("\x00" not in key[1] for key in cache._entries)
    assert cache._entries.get(talk_key(SLUG)) is not None, "the real page is still cached"


def test_a_failure_on_a_manage_page_is_logged_without_the_link(
    app: Flask, client: FlaskClient, talk: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = manage_path(client)
    token = path.removeprefix("/rsvp/")
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("services.signups.cancel", broken)
    with caplog.at_level("ERROR"):
        assert client.post(f"{path}/cancel").status_code == 500
    assert "Exception on /rsvp/<token>/cancel" in caplog.text
    assert token not in caplog.text
