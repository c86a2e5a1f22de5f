"""The import page in Debian's Chromium, at phone and desktop widths: upload a zipped site, read
the dry-run report, confirm."""

from __future__ import annotations

import io
import os
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.blueprints.conftest import ADA, logged_in

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).resolve().parents[1] / "services" / "fixtures"


@pytest.fixture
def live_server(seeded: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, seeded, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, "syntax-group/" + path.relative_to(folder).as_posix())
    return buffer.getvalue()


@pytest.mark.parametrize(("label", "width", "height"), [("phone", 390, 844), ("desktop", 1280, 900)])
def test_a_site_is_previewed_and_imported_in_the_browser(
    seeded: Flask, live_server: str, browser, label: str, width: int, height: int, tmp_path: Path
) -> None:
    client = logged_in(seeded, ADA)  # the browser carries the same session cookie
    name = seeded.config["SESSION_COOKIE_NAME"]
    cookie = client.get_cookie(name)
    assert cookie is not None
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_cookies([{"name": name, "value": cookie.value, "url": live_server}])
    page = context.new_page()
    shots = os.environ.get("LECTERN_SCREENSHOTS")

    page.goto(f"{live_server}/organize/import")
    assert page.get_by_role("heading", name="A whole site").is_visible()
    page.set_input_files(
        "input[name=archive]",
        files=[{"name": "syntax-group.zip", "mimeType": "application/zip", "buffer": zipped(FIXTURES / "hugo-toml")}],
    )
    page.get_by_role("button", name="Read the site").click()
    page.wait_for_selector("#preview-title")
    assert page.get_by_text("Nothing is imported yet").is_visible()
    assert page.locator(".import-talk").count() == 12
    assert page.locator(".import-talk-doubtful").count() == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "nothing overflows sideways"
    page.screenshot(path=str(tmp_path / f"import-preview-{label}.png"), full_page=True)
    if shots:
        page.screenshot(path=f"{shots}/import-preview-{label}.png", full_page=True)
        page.screenshot(path=f"{shots}/import-preview-{label}-top.png")
        page.locator(".import-talk-doubtful").first.screenshot(path=f"{shots}/import-preview-{label}-doubtful.png")

    page.get_by_role("button", name="Import 12 talks").first.click()
    page.wait_for_selector("#done-title")
    assert page.get_by_role("link", name="Counting Morae in Fast Speech").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if shots:
        page.screenshot(path=f"{shots}/import-done-{label}.png", full_page=True)
    context.close()
