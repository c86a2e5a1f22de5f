"""Shared by the page tests: demo content, an organizer, and logged-in clients."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from adapters.identity import FakeIdentityProvider, Identity
from extensions import db
from services import demo, organizers, talks
from tests.conftest import skip_or_fail

CHROMIUM = "/usr/bin/chromium"
# As this machine's Chromium needs them: root, no GPU, and no calls home (the network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ADA = Identity("https://login.example.edu", "sub-ada", "ada@example.edu", True, "Ada")
EVE = Identity("https://login.example.edu", "sub-eve", "eve@example.edu", True, "Eve")


@pytest.fixture
def seeded(app: Flask) -> Flask:
    """The demo talks, dated around today (with their chat slots, without the demo's fictional
    sign-ups), and one organizer (ada@example.edu)."""
    with app.app_context():
        series = talks.get_series(
            db.session,
            name="Test Series",
            timezone="America/Montreal",
            default_minutes=60,
            contact_email="t@example.org",
        )
        db.session.flush()
        demo.seed(db.session, series, today=datetime.now(UTC), sign_ups=False)
        organizers.add(db.session, "ada@example.edu")
        db.session.commit()
    return app


def local_part(url: str) -> str:
    """The path and query of an address on this site (built from SITE_URL) for the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def logged_in(app: Flask, identity: Identity) -> FlaskClient:
    client = app.test_client()
    app.extensions["lectern.identity"] = FakeIdentityProvider(identity)
    start = client.get("/login")
    client.get(local_part(start.headers["Location"]))
    return client


@pytest.fixture
def ada(seeded: Flask) -> FlaskClient:
    return logged_in(seeded, ADA)


def settings_form(**overrides: str) -> dict[str, str]:
    """The series settings form with the fields it requires, as a browser would post it."""
    return {
        "name": "Test Series",
        "timezone": "America/Montreal",
        "default_minutes": "60",
        "default_room": "0",
        "contact_email": "talks@example.org",
        **overrides,
    }


def talk_form(**overrides: Any) -> dict[str, Any]:
    """The organizer's talk form, filled in, as a browser would post it."""
    form = {
        "title": "Tidy Datasets, Messy Worlds",
        "slug": "",
        "day": "2031-03-14",
        "start": "11:30",
        "minutes": "60",
        "room": "0",
        "online_platform": "Zoom",
        "semester": "0",
        "status": "scheduled",
        "published": "y",
        "rsvp_open": "y",
        "intro_md": "Welcome.",
        "parts-0-title": "",
        "parts-0-speakers": "Rosa Lindqvist | Northern Institute | https://example.org/rosa",
        "parts-0-abstract_md": "Why data gets *messy*.",
        "parts-0-bio_md": "Rosa studies data.",
        "paper_url": "",
        "slides_url": "",
        "recording_url": "",
        "save": "Save",
    }
    form.update(overrides)
    return form


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright (whose own browser download cannot work here)."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        skip_or_fail("Debian's Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
