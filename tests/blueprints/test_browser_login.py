"""An organizer's whole first visit in Debian's Chromium, logging in at a real OIDC provider.

Lectern is served on 127.0.0.1 by werkzeug; the provider is `oidc-provider` (npm) on another
127.0.0.1 port, with its own development login and consent pages. The browser is sent from
/organize/ to the provider's login form, comes back logged in, adds a talk, and the public
page shows it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from extensions import db
from services import organizers
from tests.oidc.harness import RunningProvider, free_port, running_provider, use_provider

pytestmark = pytest.mark.browser

TITLE = "Provenance for Tired Benchmarks"


@pytest.fixture(scope="module")
def lectern_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def peer(lectern_port: int) -> Iterator[RunningProvider]:
    with running_provider([f"http://127.0.0.1:{lectern_port}/auth/callback"]) as provider:
        yield provider


@pytest.fixture
def live_lectern(app: Flask, peer: RunningProvider, lectern_port: int) -> Iterator[str]:
    """tests/conftest.py's app, with the provider, CSRF on, served on 127.0.0.1 like test_browser.py."""
    base = f"http://127.0.0.1:{lectern_port}"
    use_provider(app, **peer.app_config(), SITE_URL=base, WTF_CSRF_ENABLED=True)
    with app.app_context():
        organizers.add(db.session, "ada@example.edu")
        db.session.commit()
    server = make_server("127.0.0.1", lectern_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


def test_an_organizer_logs_in_at_the_provider_and_publishes_a_talk(
    browser, live_lectern: str, peer: RunningProvider, tmp_path: Path
) -> None:
    lectern = live_lectern
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    outside: list[str] = []

    def loopback_only(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if url.startswith((lectern + "/", peer.issuer + "/")):
            route.continue_()
        else:  # the provider's development pages @import a web font: nothing leaves the machine
            outside.append(url)
            route.abort()

    context.route("**/*", loopback_only)
    page = context.new_page()
    try:
        # Anonymous: /organize/ sends the browser to Lectern's login, and on to the provider's own form.
        page.goto(f"{lectern}/organize/")
        page.wait_for_url(f"{peer.issuer}/interaction/**")
        page.get_by_placeholder("Enter any login").fill("ada")
        page.get_by_placeholder("and password").fill("anything")
        page.get_by_role("button", name="Sign-in").click()
        page.get_by_role("button", name="Continue").click()  # the provider's consent page

        page.wait_for_url(f"{lectern}/organize/")
        assert page.get_by_text("Welcome, Ada Lovelace.").is_visible()
        assert page.get_by_role("heading", name="Talks", level=1).is_visible()

        page.get_by_role("link", name="New talk").first.click()
        page.wait_for_url(f"{lectern}/organize/talks/new")
        day = date.today() + timedelta(days=30)
        page.get_by_label("Title", exact=True).fill(TITLE)
        page.get_by_label("Date", exact=True).fill(day.isoformat())
        page.get_by_label("Start time", exact=True).fill("11:30")
        page.get_by_label("Online", exact=True).select_option("Zoom")
        page.get_by_label("Speakers", exact=True).fill("Rosa Lindqvist | Northern Institute")
        page.get_by_label("Abstract", exact=True).fill("Why a benchmark's *history* matters.")
        page.get_by_role("button", name="Save", exact=True).click()

        page.wait_for_url(f"{lectern}/organize/talks/*/edit")
        assert page.get_by_text(f"Saved “{TITLE}”.").is_visible()
        page.get_by_role("link", name="View the public page").click()
        page.wait_for_url(f"{lectern}/talks/**")
        assert page.get_by_role("heading", level=1).inner_text() == TITLE
        assert page.get_by_text("Rosa Lindqvist").first.is_visible()
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
    finally:
        context.close()
    assert all(url.startswith("https://fonts.googleapis.com/") for url in outside), outside
