"""Fixtures: an app on a fresh, migrated SQLite database per test; no traffic leaves the machine."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from app import create_app
from extensions import db

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "mcgill"
IN_CI = os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    """Skip where an optional part is missing; in CI a missing part is a failure."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach an address off this machine."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> object:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else str(address)
            try:
                allowed = ipaddress.ip_address(host).is_loopback
            except ValueError:
                allowed = host == "localhost"
            if not allowed:
                raise RuntimeError(f"test tried to reach {address!r}; only loopback is allowed")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


def make_app(tmp_path: Path, *, upgrade_to: str = "head", **overrides: Any) -> Flask:
    """An app on a fresh SQLite database in tmp_path, migrated up to `upgrade_to`; mail kept in
    memory, jobs run at once."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'lectern.db'}",
            "CONTENT_VERSION_FILE": str(tmp_path / "content-version"),
            "SECRET_KEY": "test-secret",
            "SITE_URL": "http://lectern.test",
            "SERVER_NAME": None,
            "WTF_CSRF_ENABLED": False,
            "MAIL_BACKEND": "memory",
            "JOBS_IMMEDIATE": True,
            **overrides,
        }
    )
    with app.app_context():
        flask_migrate.upgrade(revision=upgrade_to)
    return app


def dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path)
    yield app
    dispose(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()
