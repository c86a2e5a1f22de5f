"""RSVP under a burst, through real HTTP against gunicorn (2 sync workers), as in production.

Rate limits on with their default values, CSRF on: every client GETs the form first (cookie and
token), then the clients POST together behind a barrier. Each scenario runs on SQLite (a
temporary file) and on PostgreSQL (a throwaway database); the shared-limit scenario runs with
Redis. A backend that is not reachable is skipped, or fails the run under CI=true.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import requests
from sqlalchemy import Engine, create_engine, text

from tests.concurrency import live
from tests.conftest import skip_or_fail

T = TypeVar("T")
# Flushed before and after use: a database of its own (tests/services/test_pagecache.py uses 13).
REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "14"))
BARRIER_TIMEOUT = 60.0


@dataclass
class Live:
    backend: str
    server: live.Server
    engine: Engine  # the test's own view of the server's database

    def talk_id(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT id FROM talk WHERE slug = :s"), {"s": live.TALK_SLUG}).scalar_one()

    def reset_talk(self, seats: int | None) -> None:
        """No RSVPs for the talk, and this many seats (None: the room's own capacity)."""
        talk_id = self.talk_id()
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "DELETE FROM outbox_message WHERE talk_id = :t"
                    " OR rsvp_id IN (SELECT id FROM rsvp WHERE talk_id = :t)"
                ),
                {"t": talk_id},
            )
            conn.execute(text("DELETE FROM rsvp WHERE talk_id = :t"), {"t": talk_id})
            conn.execute(text("UPDATE talk SET room_capacity = :n WHERE id = :t"), {"n": seats, "t": talk_id})

    def manage_paths(self) -> dict[str, str]:
        """Each active sign-up's manage page, by email: the link its confirmation carries."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT email, id, talk_id, token_nonce FROM rsvp WHERE talk_id = :t AND status != 'cancelled'"),
                {"t": self.talk_id()},
            )
            return {email: live.manage_path(live.SECRET_KEY, i, t, nonce) for email, i, t, nonce in rows}

    def owed_kinds(self, email: str) -> list[str]:
        return live.owed_kinds(self.engine, email)

    def rsvps(self) -> list[tuple[str, str]]:
        """(email, status) of every RSVP row of the talk, cancelled ones included."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT email, status FROM rsvp WHERE talk_id = :t"), {"t": self.talk_id()})
            return [(email, status) for email, status in rows]


def _serve(stack: ExitStack, folder: Path, database_url: str, name: str, redis_url: str | None = None) -> Live:
    env = live.lectern_env(folder, database_url, redis_url)
    live.prepare_instance(env)
    server = stack.enter_context(live.gunicorn("app:create_app()", env, folder, name=name))
    engine = create_engine(database_url)
    stack.callback(engine.dispose)
    return Live(backend=name, server=server, engine=engine)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def lectern(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Lectern under gunicorn on one backend, for all the tests of this module on that backend."""
    folder = tmp_path_factory.mktemp(f"live-{request.param}")
    with ExitStack() as stack:
        if request.param == "postgresql":
            reason = live.postgres_unreachable()
            if reason:
                skip_or_fail(reason)
            database_url = stack.enter_context(live.throwaway_postgres())
        else:
            database_url = live.sqlite_url(folder)
        served = _serve(stack, folder, database_url, request.param)
        yield served
        assert served.server.server_errors() == [], served.server.log_tail()


@pytest.fixture(scope="module")
def lectern_with_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Lectern on SQLite with LECTERN_REDIS_URL set: rate limits (and the queue) in a Redis db of its own."""
    reason = live.redis_unreachable()
    if reason:
        skip_or_fail(reason)
    redis_url = live.redis_db_url(REDIS_DB)
    live.flush_redis(redis_url)
    folder = tmp_path_factory.mktemp("live-redis")
    with ExitStack() as stack:
        stack.callback(live.flush_redis, redis_url)
        yield _serve(stack, folder, live.sqlite_url(folder), "sqlite+redis", redis_url)


# --- clients --------------------------------------------------------------------------------


def open_forms(server: live.Server, count: int) -> list[live.RsvpForm]:
    """`count` browsers, each with its own session, cookie and CSRF token."""
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(lambda _: live.open_form(requests.Session(), server), range(count)))


def all_at_once(actions: list[Callable[[], T]]) -> list[T]:
    """Run every action in its own thread, released together by a barrier; results in order."""
    barrier = threading.Barrier(len(actions), timeout=BARRIER_TIMEOUT)

    def released(action: Callable[[], T]) -> T:
        barrier.wait()
        return action()

    with ThreadPoolExecutor(len(actions)) as pool:
        return list(pool.map(released, actions))


def statuses(responses: list[requests.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


def unique(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


# --- (a) 200 at once for 50 seats ------------------------------------------------------------

_STATUS_TITLE = re.compile(r'<h2 id="status-title">\s*(.*?)\s*</h2>', re.S)


def test_200_simultaneous_rsvps_for_50_seats_seat_50_and_queue_150(lectern: Live) -> None:
    lectern.reset_talk(seats=50)
    run = unique("burst")
    emails = [f"{run}-{i}@example.org" for i in range(200)]
    forms = open_forms(lectern.server, len(emails))

    responses = all_at_once(
        [
            lambda form=form, email=email: form.submit(name=f"Person {email}", email=email, mode="room")
            for form, email in zip(forms, emails, strict=True)
        ]
    )

    assert all(live.is_accepted(r) for r in responses), statuses(responses)
    rows = lectern.rsvps()
    assert len(rows) == 200
    assert {email for email, _ in rows} == set(emails)  # nothing lost, nobody twice
    assert Counter(status for _, status in rows) == {"seated": 50, "waiting": 150}

    # What each person sees on their manage page (the link in their email): a seat, or a distinct place in line.
    paths = lectern.manage_paths()
    with ThreadPoolExecutor(16) as pool:
        titles = list(pool.map(lambda pair: pair[0].open(paths[pair[1]]), zip(forms, emails, strict=True)))
    headings = [" ".join(_STATUS_TITLE.search(page.text).group(1).split()) for page in titles]
    assert headings.count("You have a seat in the room") == 50
    positions = sorted(
        int(m.group(1)) for h in headings if (m := re.fullmatch(r"You are number (\d+) on the waiting list", h))
    )
    assert positions == list(range(1, 151))


# --- (b) one email twice at the same moment -----------------------------------------------------


def test_same_email_twice_at_once_gives_one_rsvp(lectern: Live) -> None:
    lectern.reset_talk(seats=50)
    emails = [f"{unique('twice')}@example.org" for _ in range(6)]
    forms = open_forms(lectern.server, 2 * len(emails))
    pairs = [(forms[2 * i], forms[2 * i + 1], email) for i, email in enumerate(emails)]

    # Each pair submits its email twice; all pairs at the same moment, so they contend for the lock too.
    responses = all_at_once(
        [
            lambda form=form, email=email: form.submit(name="Twice", email=email, mode="room")
            for first, second, email in pairs
            for form in (first, second)
        ]
    )

    for i, email in enumerate(emails):
        pair = responses[2 * i : 2 * i + 2]
        assert all(live.is_accepted(r) for r in pair), (email, statuses(pair))
        # One confirmation for the sign-up, and the link again for the repeat: one person, one sign-up.
        assert lectern.owed_kinds(email) == ["rsvp.confirmation", "rsvp.manage_link"], email
    rows = lectern.rsvps()
    assert Counter(email for email, _ in rows) == dict.fromkeys(emails, 1)


# --- (c) a lab behind one address ---------------------------------------------------------------


def test_300_rsvps_from_one_address_within_a_minute_all_go_through(lectern: Live) -> None:
    lectern.reset_talk(seats=100)
    run = unique("lab")
    emails = [f"{run}-{i}@lab.example.org" for i in range(300)]

    def sign_up(email: str) -> requests.Response:
        return live.open_form(requests.Session(), lectern.server).submit(name="Lab member", email=email, mode="room")

    started = time.monotonic()
    with ThreadPoolExecutor(30) as pool:  # everyone in the lab clicking within the same minute
        responses = list(pool.map(sign_up, emails))
    elapsed = time.monotonic() - started

    assert elapsed < 60, f"the burst took {elapsed:.1f}s: not a minute's traffic any more"
    assert all(live.is_accepted(r) for r in responses), statuses(responses)
    assert Counter(status for _, status in lectern.rsvps()) == {"seated": 100, "waiting": 200}

    # The limits were on all along: one email submitted again and again is stopped (in memory,
    # each worker counts on its own, so at most 5 per worker get through).
    abuser = live.open_form(requests.Session(), lectern.server)
    email = f"{unique('again')}@example.org"
    again = [abuser.submit(name="Again", email=email) for _ in range(5 * live.WORKERS + 2)]
    assert 429 in statuses(again), statuses(again)
    assert statuses(again)[429] >= 2


# --- (d) the per-email limit shared through Redis -----------------------------------------------


def test_per_email_limit_is_shared_by_the_workers_through_redis(lectern_with_redis: Live) -> None:
    lectern_with_redis.reset_talk(seats=50)
    server = lectern_with_redis.server
    rounds = []
    for _ in range(4):
        email = f"{unique('shared')}@example.org"
        forms = open_forms(server, 8)
        probes = [unique("probe") for _ in forms]
        # Eight at once: both workers serve some of them, and only five may pass in all.
        responses = all_at_once(
            [
                lambda form=form, probe=probe, email=email: form.submit(name="Limited", email=email, probe=probe)
                for form, probe in zip(forms, probes, strict=True)
            ]
        )
        assert statuses(responses)[429] == 3, statuses(responses)
        assert sum(live.is_accepted(r) for r in responses) == 5, statuses(responses)
        assert lectern_with_redis.owed_kinds(email) == ["rsvp.confirmation"] + ["rsvp.manage_link"] * 4
        # One more, later, on whichever worker: still refused.
        late_probe = unique("late")
        late = live.open_form(requests.Session(), server).submit(name="Limited", email=email, probe=late_probe)
        assert late.status_code == 429
        assert "try again" in late.text.lower()  # a page for a person, not a bare error
        rounds.append(([*probes, late_probe], [*responses, late]))

    served = server.served_by(probe for probes, _ in rounds for probe in probes)
    outcomes = [
        (served[probe][0][0], response.status_code)
        for probes, responses in rounds
        for probe, response in zip(probes, responses, strict=True)
    ]
    assert len({pid for pid, _ in outcomes}) == live.WORKERS, "the submissions should have reached both workers"
    refused_by = {pid for pid, status in outcomes if status == 429}
    assert len(refused_by) == live.WORKERS, f"each worker should have refused some (the count is shared): {outcomes}"
    assert server.server_errors() == [], server.log_tail()
