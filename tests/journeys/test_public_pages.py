"""Every public page in Chromium: under 50 KB with everything it loads (the talk's own images
aside), free of serious or critical axe-core findings, and readable with JavaScript off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.conftest import dispose, make_app
from tests.journeys.conftest import Journey

pytestmark = pytest.mark.browser

BUDGET = 50 * 1024
TALK = "what-quiet-benchmarks-hide"
PAST = "reading-the-tide-tables"
CHATS = "whale-song-token-by-token"  # first come
DRAWN = "student-lightning-talks"  # chats given by a draw


@pytest.fixture
def app(tmp_path: Path, lectern_port: int) -> Iterator[Flask]:
    """No mail server, Zoom or OpenID provider: these pages need none."""
    app = make_app(tmp_path, SITE_URL=f"http://127.0.0.1:{lectern_port}")
    yield app
    dispose(app)


def public_pages(base: str, browser: Any) -> dict[str, str]:
    """Name -> address; the semester's address is the one the schedule links to."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{base}/semesters")
    semester = page.locator("main a[href^='/semesters/']").first.get_attribute("href")
    context.close()
    assert semester, "the schedule links to a semester"
    return {
        "home": "/",
        "talk": f"/talks/{TALK}",
        "past talk": f"/talks/{PAST}",
        "schedules": "/semesters",
        "semester": semester,
        "sign-up form": f"/talks/{TALK}/rsvp",
        "sign-up sent": f"/talks/{TALK}/rsvp/sent",
        "chat booking": f"/talks/{CHATS}/chat",
        "chat wishes": f"/talks/{DRAWN}/chat",
        "chat sent": f"/talks/{CHATS}/chat/sent",
        "privacy": "/privacy",
        "not found": "/talks/no-such-talk",
    }


def fresh_page(browser: Any) -> tuple[Any, list[Any]]:
    """A page in a browser of its own (nothing cached), and the list of what it fetches."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    fetched: list[Any] = []
    page.on("requestfinished", lambda request: fetched.append(request))
    return page, fetched


def weight(page: Any, fetched: list[Any]) -> tuple[int, list[str]]:
    """The bytes Chromium received for the page's requests, headers included; the talk's own
    images (anything but Lectern's static files) are left out: their weight is the speaker's.
    Chromium asks for the icon on its own time, after the page has loaded: an icon the page
    names that it has not fetched yet is fetched here and counted all the same."""
    total, seen = 0, []
    for request in fetched:
        if request.resource_type == "image" and "/static/" not in request.url:
            continue
        sizes = request.sizes()
        total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        seen.append(request.url)
    for icon in page.eval_on_selector_all("link[rel~='icon']", "links => links.map(link => link.href)"):
        if icon not in seen:
            response = page.request.get(icon)
            assert response.ok, icon
            total += len(response.body()) + sum(len(k) + len(v) + 4 for k, v in response.headers.items())
            seen.append(icon)
    return total, seen


def test_every_public_page_is_light_accessible_and_works_without_javascript(
    seeded: Flask, serve: Any, browser: Any, axe_source: Path
) -> None:
    base = serve(seeded)
    pages = public_pages(base, browser)
    heavy: list[str] = []
    findings: list[str] = []
    for name, path in pages.items():
        page, fetched = fresh_page(browser)
        response = page.goto(base + path)
        assert response is not None and response.status == (404 if name == "not found" else 200), name
        total, seen = weight(page, fetched)
        assert any(url.startswith(f"{base}/static/lectern.css") for url in seen), f"{name}: the stylesheet is loaded"
        assert all(url.startswith(base) for url in seen), f"{name}: everything comes from Lectern: {seen}"
        if total >= BUDGET:
            heavy.append(f"{name} ({path}): {total} bytes: " + ", ".join(seen))
        journey = Journey(page, f"public/{name.replace(' ', '-')}", axe_source)
        journey.step(name)
        findings += journey.findings
        page.context.close()

        # With JavaScript off the page reads the same: its heading and the way to the
        # rest of the site are there. (The
        # forms work with JavaScript off too: see the attendee journey without it.)
        context = browser.new_context(java_script_enabled=False)
        quiet = context.new_page()
        quiet.goto(base + path)
        expect(quiet.get_by_role("heading", level=1)).to_be_visible()
        expect(quiet.locator("a[href='/']").first).to_be_visible()
        expect(quiet.locator("a[href='/semesters']").first).to_be_visible()
        context.close()

    # A form sent after its session is gone (cookies cleared): the "form expired" page.
    page, fetched = fresh_page(browser)
    page.goto(f"{base}/talks/{TALK}/rsvp")
    page.context.clear_cookies()
    page.get_by_label("Name", exact=True).fill("Sam Oduya")
    page.get_by_label("Email", exact=True).fill("sam@example.org")
    page.get_by_label("In the room", exact=True).check()
    fetched.clear()
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Sign up").click()
    assert navigation.value.status == 400
    total, seen = weight(page, fetched)
    if total >= BUDGET:
        heavy.append(f"form expired: {total} bytes: " + ", ".join(seen))
    journey = Journey(page, "public/form-expired", axe_source)
    journey.step("form expired")
    findings += journey.findings
    page.context.close()

    assert not heavy, "over 50 KB with what they load:\n" + "\n".join(heavy)
    assert not findings, "serious or critical axe-core findings:\n" + "\n".join(findings)


def test_the_accessibility_check_finds_what_it_should(browser: Any, axe_source: Path) -> None:
    """The check itself: an image without text, an unlabelled field, grey on grey."""
    context = browser.new_context()
    page = context.new_page()
    page.set_content(
        '<html lang="en"><head><title>t</title></head><body><main><h1>t</h1><img src="data:,">'
        '<input type="text"><p style="color:#bbb;background:#ccc">faint</p></main></body></html>'
    )
    journey = Journey(page, "axe-self-check", axe_source)
    journey.step("known faults")
    context.close()
    found = "\n".join(journey.findings)
    for rule in ("image-alt", "label", "color-contrast"):
        assert f": {rule} [" in found, found
