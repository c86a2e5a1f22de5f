"""Lectern served for real on 127.0.0.1 for the journeys in Debian's Chromium.

Mail goes over SMTP to an aiosmtpd server on 127.0.0.1, the real Zoom adapter talks to the fake
Zoom (tests/zoom_fake.py, checked against Zoom's OpenAPI description), organizers log in at the
real OpenID provider (`oidc-provider` from npm, tests/oidc/), and jobs run as soon as they are
queued so that every email has arrived when the page that caused it is shown.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from adapters.mail import SMTPMailer
from adapters.meetings import ZoomProvider
from tests.adapters.test_mail_smtp import SMTPServer
from tests.blueprints.conftest import browser, seeded  # noqa: F401  (fixtures used by the journeys)
from tests.conftest import dispose, make_app, skip_or_fail
from tests.oidc.harness import RunningProvider, free_port, running_provider, use_provider
from tests.zoom_fake import FakeZoom, running_fake_zoom

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("LECTERN_SCREENSHOTS") or ROOT / "screenshots" / "journeys")
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
LISTS = ["talks@lists.example.org"]


@pytest.fixture(scope="module")
def lectern_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def peer(lectern_port: int) -> Iterator[RunningProvider]:
    with running_provider([f"http://127.0.0.1:{lectern_port}/auth/callback"]) as provider:
        yield provider


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def zoom() -> Iterator[FakeZoom]:
    with running_fake_zoom() as zoom:
        yield zoom


@pytest.fixture
def app(tmp_path: Path, smtp: SMTPServer, zoom: FakeZoom, peer: RunningProvider, lectern_port: int) -> Iterator[Flask]:
    """Lectern as in production, on a fresh SQLite database, its links built for the port it is served on."""
    app = make_app(
        tmp_path,
        **zoom.app_config(),
        MAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp.port,
        SMTP_TIMEOUT=5,
        SITE_URL=f"http://127.0.0.1:{lectern_port}",
    )
    use_provider(app, **peer.app_config())
    assert isinstance(app.extensions["lectern.mailer"], SMTPMailer)
    assert isinstance(app.extensions["lectern.meetings"], ZoomProvider)
    yield app
    dispose(app)


@pytest.fixture
def serve(lectern_port: int) -> Iterator[Any]:
    """serve(app) puts the app on its port (werkzeug, threaded) with CSRF checks on; it stops after the test."""
    servers: list[Any] = []

    def start(app: Flask) -> str:
        app.config["WTF_CSRF_ENABLED"] = True
        server = make_server("127.0.0.1", lectern_port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{lectern_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def axe_source() -> Path:
    if not AXE.exists():
        skip_or_fail("node_modules/axe-core is missing: run `make test` (or `npm ci`) in the project root")
    return AXE


class Journey:
    """A person's browser tab. `step(name)` records where they are: a screenshot at phone and
    desktop widths and, with JavaScript on, an axe-core check (serious and critical findings are
    kept and reported by `assert_accessible`)."""

    def __init__(self, page: Any, name: str, axe: Path | None) -> None:
        self.page = page
        self.name = name
        self.axe = axe
        self.steps = 0
        self.findings: list[str] = []
        self.folder = SCREENSHOTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()

    def step(self, label: str, *, check: bool = True) -> None:
        self.steps += 1
        stem = f"{self.steps:02d}-{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}"
        if check and self.axe is not None:
            self._check(label)
        page = self.page
        kept = page.viewport_size
        for width, size in WIDTHS.items():
            page.set_viewport_size(size)
            page.screenshot(path=str(self.folder / f"{stem}-{width}.png"), full_page=True)
        page.set_viewport_size(kept)

    def _check(self, label: str) -> None:
        page = self.page
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.add_script_tag(path=str(self.axe))
        result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        for violation in result["violations"]:
            if violation["impact"] not in ("serious", "critical"):
                continue
            nodes = "\n".join(
                f"      {' '.join(node['target'])}: {node.get('failureSummary', '').splitlines()[-1:]}"
                for node in violation["nodes"][:8]
            )
            self.findings.append(
                f"{label} ({page.url}): {violation['id']} [{violation['impact']}] {violation['help']}\n{nodes}"
            )

    def assert_accessible(self) -> None:
        assert not self.findings, "serious or critical axe-core findings:\n" + "\n".join(self.findings)


@pytest.fixture
def journeys(browser: Any, axe_source: Path) -> Iterator[Any]:  # noqa: F811
    """journeys(name, javascript=True) opens a desktop-width tab of its own (cookies included);
    every request must stay on 127.0.0.1."""
    contexts: list[Any] = []
    outside: list[str] = []

    def loopback_only(route: Any) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    def open_journey(name: str, *, javascript: bool = True) -> Journey:
        # axe-core is added to each page as a script of its own: the site's CSP forbids that, rightly.
        context = browser.new_context(viewport=WIDTHS["desktop"], java_script_enabled=javascript, bypass_csp=javascript)
        context.set_default_timeout(20_000)
        context.route("**/*", loopback_only)
        contexts.append(context)
        return Journey(context.new_page(), name, axe_source if javascript else None)

    yield open_journey
    for context in contexts:
        context.close()
    # The provider's development pages @import a web font: that alone may be asked for (and is refused).
    assert all(url.startswith("https://fonts.googleapis.com/") for url in outside), outside


def link_in(text: str, pattern: str) -> str:
    found = re.search(pattern, text)
    assert found, f"no link matching {pattern!r} in:\n{text}"
    return found.group(0)


def text_of(message: Any) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()
