"""The database unreachable: a page that says so (503, Retry-After), never a 500 with a trace.

Lectern is pointed at a PostgreSQL port where nothing listens, as during a restart of the
server. (A restart in the middle of a burst of sign-ups: tests/live/test_faults.py.)
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from extensions import db


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
