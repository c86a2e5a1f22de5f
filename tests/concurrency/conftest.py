"""Fixtures for tests that need PostgreSQL itself (its row locks, its snapshots)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
from flask import Flask

from app import create_app
from extensions import db
from tests.concurrency import live
from tests.conftest import skip_or_fail


@pytest.fixture
def pg_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on a throwaway PostgreSQL database, migrated, empty, inside its app context."""
    reason = live.postgres_unreachable()
    if reason:
        skip_or_fail(reason)
    with live.throwaway_postgres() as url:
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": url,
                "CONTENT_VERSION_FILE": str(tmp_path / "content-version"),
                "SECRET_KEY": "test-secret",
                "MAIL_BACKEND": "memory",
                "JOBS_IMMEDIATE": True,
            }
        )
        with app.app_context():
            flask_migrate.upgrade()
            yield app
            db.session.remove()
            db.engine.dispose()
