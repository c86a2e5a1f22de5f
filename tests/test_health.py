"""`/healthz`: 200 while the database and the queue answer, 503 naming the part that does not."""

from __future__ import annotations

import socket
from pathlib import Path

from flask import Flask
from werkzeug.test import TestResponse

from app import create_app
from tests.concurrency import live
from tests.conftest import dispose, make_app, skip_or_fail


def dead_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound for a moment, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check(app: Flask) -> TestResponse:
    response = app.test_client().get("/healthz")
    assert response.headers["Cache-Control"] == "no-store", "a proxy never answers for the app's health"
    assert "Set-Cookie" not in response.headers
    return response


def unmigrated_app(tmp_path: Path, **overrides: object) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'lectern.db'}",
            "CONTENT_VERSION_FILE": str(tmp_path / "content-version"),
            "JOBS_DB": str(tmp_path / "jobs.db"),
            "SECRET_KEY": "test-secret",
            "MAIL_BACKEND": "memory",
            **overrides,
        },
        instance_path=str(tmp_path / "instance"),
    )


def test_ok_when_the_database_and_the_sqlite_queue_answer(tmp_path: Path) -> None:
    app = make_app(tmp_path, JOBS_IMMEDIATE=False, JOBS_DB=str(tmp_path / "jobs.db"))
    try:
        response = check(app)
        assert response.status_code == 200
        assert response.json == {"status": "ok", "database": "ok", "queue": "ok"}
    finally:
        dispose(app)


def test_503_naming_the_database_when_it_does_not_answer(tmp_path: Path) -> None:
    app = unmigrated_app(tmp_path, DATABASE_URL=f"postgresql+psycopg://lectern@127.0.0.1:{dead_port()}/lectern")
    response = check(app)
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["status"] == "down"
    assert response.json["database"].startswith("down")
    assert response.json["queue"] == "ok"
    assert "127.0.0.1" not in response.get_data(as_text=True), "the error's kind only, never its text"


def test_503_naming_the_queue_when_redis_does_not_answer(tmp_path: Path) -> None:
    app = unmigrated_app(tmp_path, REDIS_URL=f"redis://127.0.0.1:{dead_port()}/0")
    response = check(app)
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["queue"].startswith("down")
    assert response.json["database"] == "ok"


def test_503_naming_the_queue_when_its_sqlite_file_is_gone(tmp_path: Path) -> None:
    app = unmigrated_app(tmp_path)
    (tmp_path / "jobs.db").unlink()
    response = check(app)
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["queue"] == "down: FileNotFoundError"
    assert not (tmp_path / "jobs.db").exists(), "the check created nothing"


def test_ok_with_the_queue_in_redis(tmp_path: Path) -> None:
    reason = live.redis_unreachable()
    if reason:
        skip_or_fail(reason)
    app = unmigrated_app(tmp_path, REDIS_URL=live.redis_db_url(15))
    response = check(app)
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "queue": "ok"}
