"""Lectern on several hosts: two app servers and job consumers sharing one PostgreSQL and one Redis.

Host A and host B are separate gunicorns (2 sync workers each) with instance folders of their
own (tests/live/site.py); one PostgreSQL database (a throwaway one on the machine's server),
one Redis (a redis-server of the test's own), and a real SMTP server on 127.0.0.1. What one
host does, the other sees at once; capacity holds across both; every email owed goes out once,
with two consumers running. PostgreSQL or Redis missing skips, or fails under CI=true.

Host A runs in development mode for its development login: the organizer edits the talk
through the organizer pages, as a person would, without an identity provider to run.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
import requests
from sqlalchemy import text

from tests.concurrency import live
from tests.concurrency.test_chat_burst import Live as ChatLive
from tests.concurrency.test_chat_burst import accepted, book
from tests.concurrency.test_rsvp_burst import all_at_once, statuses
from tests.conftest import skip_or_fail
from tests.live.site import ORGANIZER, Site, make_site


@dataclass
class TwoHosts:
    site: Site
    a: live.Server
    b: live.Server


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoHosts]:
    for reason in (live.postgres_unreachable(), live.redis_unreachable()):
        if reason:
            skip_or_fail(reason)
    folder = tmp_path_factory.mktemp("several-hosts")
    with ExitStack() as stack:
        redis = stack.enter_context(live.redis_server(folder))
        database_url = stack.enter_context(live.throwaway_postgres("lectern_hosts"))
        site = make_site(stack, folder, database_url, redis.url)
        a = site.start_host(stack, "a", LECTERN_ENV="development")
        b = site.start_host(stack, "b")
        yield TwoHosts(site, a, b)
        for server in (a, b):
            assert server.server_errors() == [], server.log_tail()


# --- an organizer's edit ---------------------------------------------------------------------


class FormFields(HTMLParser):
    """The fields of the first form that has a field named `marker`, as a browser would send them."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker
        self.forms: list[dict[str, str]] = []
        self._form: dict[str, str] | None = None
        self._textarea: str | None = None
        self._select: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._form = {}
        elif self._form is None:
            return
        elif tag == "input" and a.get("name") and a.get("type") not in ("submit", "button", "image"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self._form[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a.get("name")
            self._form[self._textarea] = ""
        elif tag == "select":
            self._select, self._first_option = a.get("name"), None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value", "")
            if "selected" in a:
                self._form[self._select] = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if self._form is None:
            return
        if tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select:
            self._form.setdefault(self._select, self._first_option or "")
            self._select = None
        elif tag == "form":
            self.forms.append(self._form)
            self._form = None

    @classmethod
    def of(cls, page: str, marker: str) -> dict[str, str]:
        parser = cls(marker)
        parser.feed(page)
        return next(form for form in parser.forms if marker in form)


def organizer_on(server: live.Server) -> requests.Session:
    """A browser in which the organizer logged in on `server` (its development login)."""
    http = requests.Session()
    http.trust_env = False
    page = http.get(server.url("/login"), timeout=60)
    assert page.status_code == 200, page.text
    fields = FormFields.of(page.text, "email")
    fields["email"] = ORGANIZER
    done = http.post(server.url("/login/development"), data=fields, allow_redirects=False, timeout=60)
    assert done.status_code in (302, 303), done.text
    return http


def title_on(server: live.Server, http: requests.Session | None = None) -> str:
    page = (http or requests).get(server.url(f"/talks/{live.TALK_SLUG}"), timeout=60)
    assert page.status_code == 200
    return re.search(r"<h1[^>]*>(.*?)</h1>", page.text, re.S).group(1).strip()  # type: ignore[union-attr]


def test_an_edit_made_through_one_host_is_what_the_other_serves_at_once(two_hosts: TwoHosts) -> None:
    site, a, b = two_hosts.site, two_hosts.a, two_hosts.b
    before = title_on(b)
    for _ in range(8):  # both of B's workers have the page in their cache now
        assert title_on(b) == before

    organizer = organizer_on(a)
    edit = f"/organize/talks/{site.talk_id()}/edit"
    fields = FormFields.of(organizer.get(a.url(edit), timeout=60).text, "title")
    new_title = f"Retitled on host A {uuid.uuid4().hex[:6]}"
    saved = organizer.post(a.url(edit), data={**fields, "title": new_title, "save": "Save"}, allow_redirects=False)
    assert saved.status_code in (302, 303), saved.text[:2000]

    # The very next requests to B, whichever worker answers, show the new title.
    assert [title_on(b) for _ in range(8)] == [new_title] * 8
    assert title_on(a) == new_title


# --- capacity across both hosts --------------------------------------------------------------


def reset_talk(site: Site, seats: int) -> None:
    ChatLive(site.hosts["a"], site.engine).fresh_slots(0, 0)  # no sign-ups, bookings or slots
    with site.engine.begin() as conn:
        conn.execute(text("UPDATE talk SET room_capacity = :n WHERE id = :t"), {"n": seats, "t": site.talk_id()})


def test_a_burst_of_sign_ups_split_across_both_hosts_seats_exactly_the_capacity(two_hosts: TwoHosts) -> None:
    site = two_hosts.site
    reset_talk(site, seats=30)
    run = uuid.uuid4().hex[:8]
    emails = [f"split-{run}-{i}@example.org" for i in range(120)]
    servers = [two_hosts.a, two_hosts.b] * 60
    forms = [live.open_form(requests.Session(), server) for server in servers]

    responses = all_at_once(
        [
            lambda form=form, email=email: form.submit(name="Split", email=email, mode="room")
            for form, email in zip(forms, emails, strict=True)
        ]
    )

    assert all(live.is_accepted(r) for r in responses), statuses(responses)
    with site.engine.connect() as conn:
        rows = conn.execute(text("SELECT email, status FROM rsvp WHERE talk_id = :t"), {"t": site.talk_id()}).all()
    assert sorted(email for email, _ in rows) == sorted(emails)
    assert Counter(status for _, status in rows) == {"seated": 30, "waiting": 90}


def test_a_burst_of_chat_bookings_split_across_both_hosts_books_exactly_the_places(two_hosts: TwoHosts) -> None:
    site = two_hosts.site
    reset_talk(site, seats=30)
    slots = ChatLive(two_hosts.a, site.engine).fresh_slots(5, 2)
    run = uuid.uuid4().hex[:8]
    emails = [f"chat-{run}-{i}@example.org" for i in range(100)]
    servers = [two_hosts.a, two_hosts.b] * 50
    forms = [live.open_form(requests.Session(), server) for server in servers]

    responses = all_at_once(
        [
            lambda form=form, email=email, i=i: book(form, email=email, slot=slots[i % len(slots)])
            for i, (form, email) in enumerate(zip(forms, emails, strict=True))
        ]
    )

    assert sum(accepted(r) for r in responses) == 10, statuses(responses)
    assert {r.status_code for r in responses if not accepted(r)} == {409}
    booked = ChatLive(two_hosts.a, site.engine).bookings()
    assert Counter(slot for _, slot in booked) == dict.fromkeys(slots, 2)
    winners = {email for email, r in zip(emails, responses, strict=True) if accepted(r)}
    assert {email for email, _ in booked} == winners


# --- two consumers ------------------------------------------------------------------------------


def test_with_two_consumers_every_email_owed_is_delivered_once(two_hosts: TwoHosts) -> None:
    """The bursts above owe a confirmation to each person; two consumers share the queue (and
    both run the periodic sweep and the reminders): each email arrives once."""
    site = two_hosts.site
    assert site.emails_owed(), "the tests above owe emails"
    with ExitStack() as stack:
        site.start_consumer(stack, "consumer-1")
        site.start_consumer(stack, "consumer-2")
        # More work while both run: sign-ups on both hosts, handed to the queue as they commit.
        run = uuid.uuid4().hex[:8]
        for i, server in enumerate([two_hosts.a, two_hosts.b] * 10):
            form = live.open_form(requests.Session(), server)
            assert live.is_accepted(form.submit(name="Later", email=f"later-{run}-{i}@example.org", mode="room"))
        site.wait_until_delivered()
        for name in ("consumer-1", "consumer-2"):
            assert "Traceback" not in site.consumer_log(name), site.consumer_log(name)[-3000:]
    site.delivered_once()
    assert len(site.smtp.mail()) >= 10 + 20  # the bookings of the burst above, and the sign-ups here
