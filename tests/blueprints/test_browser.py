"""The demo talk page in Debian's Chromium, at phone and desktop widths."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(seeded: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, seeded, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.mark.parametrize(("label", "width", "height"), [("phone", 390, 844), ("desktop", 1280, 900)])
def test_demo_talk_page_shows_the_essentials(
    live_server: str, browser, label: str, width: int, height: int, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height}, java_script_enabled=False)
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(live_server) else outside.append(request.url))
    response = page.goto(f"{live_server}/talks/what-quiet-benchmarks-hide")
    assert response is not None and response.status == 200

    title = page.get_by_role("heading", level=1)
    assert title.is_visible()
    assert title.inner_text() == "What Quiet Benchmarks Hide"
    assert page.get_by_text("Tomasz Ilunga-Berg").first.is_visible()
    assert page.locator(".logistics dd", has_text="Auditorium 2").is_visible()
    assert page.locator(".logistics time").is_visible()
    assert page.get_by_role("link", name="Add to calendar (.ics)").is_visible()

    # Nothing overflows sideways at this width, and nothing was fetched from elsewhere.
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"page is {scroll_width}px wide in a {width}px viewport"
    assert outside == []
    page.screenshot(path=str(tmp_path / f"talk-{label}.png"), full_page=True)
    if shots := os.environ.get("LECTERN_SCREENSHOTS"):
        page.screenshot(path=f"{shots}/talk-{label}.png", full_page=True)
    context.close()
