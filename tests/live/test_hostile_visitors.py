"""What a hostile visitor can do to a production-like instance, through real HTTP and gunicorn.

gunicorn (2 workers) as in production: an https SITE_URL, rate limits shared through Redis,
CSRF on. Each test sends what an attacker would send and checks what the next, honest visitor
gets. Servers come from tests/concurrency/live.py; PostgreSQL is not needed here, Redis is
(shared rate limits), and a missing Redis skips, or fails under CI=true.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, create_engine

from tests.concurrency import live
from tests.conftest import skip_or_fail

SITE = "https://lectern.example.edu"
# A Redis database of its own, flushed before and after (others: 13 page cache, 14 bursts).
REDIS_DB = int(os.environ.get("TEST_REDIS_DB_HOSTILE", "12"))
SLUG = live.TALK_SLUG
# Enough requests that both workers answer some (gunicorn hands connections out as they come).
SPREAD = 12
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


@dataclass
class Instance:
    server: live.Server
    engine: Engine

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.server.url(path), allow_redirects=False, timeout=60, **kwargs)  # type: ignore[arg-type]

    def owed_kinds(self, email: str) -> list[str]:
        return live.owed_kinds(self.engine, email)


def _instance(stack: ExitStack, folder: Path, name: str, **env: str) -> Instance:
    database_url = live.sqlite_url(folder)
    environment = {**live.lectern_env(folder, database_url, env.pop("redis_url", None)), **env}
    live.prepare_instance(environment)
    server = stack.enter_context(live.gunicorn("app:create_app()", environment, folder, name=name))
    engine = create_engine(database_url)
    stack.callback(engine.dispose)
    return Instance(server, engine)


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """Production mode, an https address, limits in Redis."""
    reason = live.redis_unreachable()
    if reason:
        skip_or_fail(reason)
    redis_url = live.redis_db_url(REDIS_DB)
    live.flush_redis(redis_url)
    with ExitStack() as stack:
        stack.callback(live.flush_redis, redis_url)
        instance = _instance(
            stack, tmp_path_factory.mktemp("production"), "production", redis_url=redis_url, LECTERN_SITE_URL=SITE
        )
        yield instance
        assert instance.server.server_errors() == [], instance.server.log_tail()


@pytest.fixture(scope="module")
def with_organizers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """Development mode, for its login form (the session it makes is the one production makes)."""
    with ExitStack() as stack:
        instance = _instance(stack, tmp_path_factory.mktemp("organizers"), "organizers", LECTERN_ENV="development")
        yield instance
        assert instance.server.server_errors() == [], instance.server.log_tail()


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has a form"
    return match.group(1) or match.group(2)


# 1. Links and headers of shared pages depend on the path and the configuration alone -----------


def test_a_script_name_header_cannot_send_later_visitors_elsewhere(production: Instance) -> None:
    for _ in range(SPREAD):
        poisoned = production.get(f"//evil.example/talks/{SLUG}", headers={"SCRIPT_NAME": "//evil.example"})
        assert poisoned.status_code != 200, "no talk lives at that path"
        assert "evil.example" not in poisoned.headers.get("Location", "").split("/talks")[0]

    for path in (f"/talks/{SLUG}", "/", f"/talks/{SLUG}.ics", "/calendar.ics", "/feed.atom", "/semesters"):
        for _ in range(SPREAD if path == f"/talks/{SLUG}" else 2):
            page = production.get(path)
            assert page.status_code == 200, path
            assert "evil.example" not in page.text, f"{path} links elsewhere"
            assert "evil.example" not in str(page.headers), path
    talk = production.get(f"/talks/{SLUG}").text
    assert f'href="/talks/{SLUG}/rsvp"' in talk, "sign-up stays on this site"
    assert 'href="/static/' in talk, "so does the stylesheet"


def test_every_visitor_gets_hsts_whatever_the_first_visitor_sent(production: Instance) -> None:
    # The first visits come over plain http (no X-Forwarded-Proto), as a health check or a
    # misrouted request would; later ones through the TLS proxy. The page is cached in between.
    other = "/talks/what-quiet-benchmarks-hide/rsvp"  # any page; the talk page is the cached one
    plain = [production.get(f"/talks/{SLUG}") for _ in range(SPREAD)]
    secure = [production.get(f"/talks/{SLUG}", headers={"X-Forwarded-Proto": "https"}) for _ in range(SPREAD)]
    for response in [*plain, *secure, production.get(other), production.get("/")]:
        assert response.headers.get("Strict-Transport-Security", "").startswith("max-age="), response.url


# 2. The session cookie over https ---------------------------------------------------------------


def test_the_session_cookie_is_secure_httponly_and_lax(production: Instance) -> None:
    form = production.get(f"/talks/{SLUG}/rsvp")  # its CSRF token lives in the session
    assert form.status_code == 200
    cookie = form.headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite"} <= attributes, cookie
    assert "SameSite=Lax" in cookie
    assert "public" not in form.headers.get("Cache-Control", ""), "a page with a cookie is never shared"


# 3. Look-alike addresses count as the address they are --------------------------------------------


def submit_as_browser(instance: Instance, email: str) -> requests.Response:
    """A browser behind the TLS proxy: it GETs the form, then POSTs it with its (Secure) session
    cookie and the https Referer that CSRF checks on an https site. (requests keeps Secure cookies
    off plain http, so the cookie is handed over by hand here.)"""
    form = instance.get(f"/talks/{SLUG}/rsvp")
    session_cookie = form.headers["Set-Cookie"].split(";")[0]
    return requests.post(
        instance.server.url(f"/talks/{SLUG}/rsvp"),
        data={"csrf_token": csrf_token(form.text), "name": "Csv", "email": email, "mode": "room", "website": ""},
        headers={"Cookie": session_cookie, "Referer": f"{SITE}/talks/{SLUG}/rsvp"},
        allow_redirects=False,
        timeout=60,
    )


def test_look_alike_addresses_share_one_limit(production: Instance) -> None:
    answers = [submit_as_browser(production, "csv1@example.org") for _ in range(5)]
    assert all(live.is_accepted(answer) for answer in answers), [a.status_code for a in answers]

    for look_alike in ("csv1@ｅxample.org", "csv1@example。org", "csv1@ℯxample.org", "CSV1@EXAMPLE.ORG"):
        refused = submit_as_browser(production, look_alike)
        assert refused.status_code == 429, (look_alike, refused.status_code)
        assert "try again" in refused.text.lower()
    # One sign-up and four "your link again": nothing for the look-alikes.
    assert production.owed_kinds("csv1@example.org") == ["rsvp.confirmation"] + ["rsvp.manage_link"] * 4


# 10. An organizer's session never rides on a page a cache may share, and logout ends it -------------


def log_in(instance: Instance) -> requests.Session:
    browser = requests.Session()
    login = browser.get(instance.server.url("/login"), timeout=60)
    response = browser.post(
        instance.server.url("/login/development"),
        data={"csrf_token": csrf_token(login.text), "email": "organizer@example.org"},
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 302, response.text
    assert browser.get(instance.server.url("/organize/"), allow_redirects=False, timeout=60).status_code == 200
    return browser


def test_public_pages_never_carry_an_organizers_cookie(with_organizers: Instance) -> None:
    browser = log_in(with_organizers)
    for path in (f"/talks/{SLUG}", "/", f"/talks/{SLUG}.ics", "/calendar.ics", "/feed.atom", "/semesters"):
        for _ in range(3):
            response = browser.get(with_organizers.server.url(path), allow_redirects=False, timeout=60)
            assert response.status_code == 200, path
            assert "Set-Cookie" not in response.headers, f"{path} sent the organizer's session"
    # Where a response does carry the session, no shared cache may keep it.
    organize = browser.get(with_organizers.server.url("/organize/"), timeout=60)
    assert "public" not in organize.headers.get("Cache-Control", "")


def test_logout_ends_every_copy_of_the_session(with_organizers: Instance) -> None:
    browser = log_in(with_organizers)
    copied = requests.Session()
    copied.cookies.update(browser.cookies)  # someone copied the cookie (a shared computer, a leak)
    assert copied.get(with_organizers.server.url("/organize/"), allow_redirects=False, timeout=60).status_code == 200

    page = browser.get(with_organizers.server.url("/organize/"), timeout=60)
    out = browser.post(with_organizers.server.url("/logout"), data={"csrf_token": csrf_token(page.text)}, timeout=60)
    assert out.status_code == 200

    after = copied.get(with_organizers.server.url("/organize/"), allow_redirects=False, timeout=60)
    assert after.status_code == 302 and "/login" in after.headers["Location"], "the copied cookie no longer works"
    again = log_in(with_organizers)  # and logging in again works as ever
    assert again.get(with_organizers.server.url("/organize/"), allow_redirects=False, timeout=60).status_code == 200
