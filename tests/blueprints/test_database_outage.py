"""The database unreachable: a page that says so (503, Retry-After), never a 500 with a trace.

Lectern is pointed at a PostgreSQL port where nothing listens, as during a restart of the
server. (A restart in the middle of a burst of sign-ups: tests/live/test_faults.py.)
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app import create_app
from blueprints import errors
from extensions import db
from tests.conftest import dispose, make_app


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # released again: nothing listens there


@pytest.fixture
def app_without_database(tmp_path: Path) -> Flask:
    pytest.importorskip("psycopg")
    app = create_app(
        {
            "TESTING": False,  # errors handled as in production, not raised into the test
            "DATABASE_URL": f"postgresql+psycopg://lectern@127.0.0.1:{closed_port()}/lectern?connect_timeout=2",
            "CONTENT_VERSION_FILE": str(tmp_path / "content-version"),
            "SECRET_KEY": "test-secret",
            "SITE_URL": "http://lectern.test",
            "WTF_CSRF_ENABLED": False,
            "MAIL_BACKEND": "memory",
            "JOBS_IMMEDIATE": True,
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("path", ["/", "/talks/a-talk", "/talks/a-talk/rsvp"])
def test_pages_say_the_database_cannot_be_reached_and_when_to_come_back(app_without_database: Flask, path: str) -> None:
    response = app_without_database.test_client().get(path)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "cannot reach its database" in page
    assert "Traceback" not in page and "psycopg" not in page


def test_a_sign_up_sent_while_the_database_is_down_is_told_to_try_again(app_without_database: Flask) -> None:
    response = app_without_database.test_client().post(
        "/talks/a-talk/rsvp", data={"name": "Ada", "email": "ada@example.org", "mode": "room", "website": ""}
    )
    assert response.status_code == 503
    assert "try again in a minute" in response.get_data(as_text=True)


def test_a_database_error_that_is_a_bug_is_not_passed_off_as_an_outage(tmp_path: Path) -> None:
    """A missing table (a migration forgotten), a deadlock: a 500 with its trace in the log, not
    "try again in a minute", which would hide it."""
    app = make_app(tmp_path, TESTING=False)
    with app.app_context():
        db.session.execute(text("ALTER TABLE semester RENAME TO semester_gone"))
        db.session.commit()
    try:
        response = app.test_client().get("/semesters")
        assert response.status_code == 500
        assert "cannot reach its database" not in response.get_data(as_text=True)
    finally:
        dispose(app)


@pytest.mark.parametrize(
    ("state", "outage"),
    [("08006", True), ("57P01", True), ("53300", True), ("40P01", False), ("55P03", False), ("42P01", False)],
)
def test_postgresqls_answers_are_read_by_their_state(state: str, outage: bool) -> None:
    class DriverError(Exception):
        sqlstate = state

    error = OperationalError("SELECT 1", {}, DriverError("from the server"))
    assert errors.unreachable(error) is outage
