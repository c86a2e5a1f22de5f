"""Faults, each a test: a part of the site fails while people sign up, and nothing they were told
was accepted is lost.

- A web worker killed with SIGKILL in the middle of a burst (gunicorn starts another).
- PostgreSQL restarted in the middle of a burst: a cluster of the test's own, on its own port.
- Redis stopped: a redis-server of the test's own; pages and sign-ups go on without it, and
  the emails owed meanwhile go out once it is back.
- The mail server down for an hour: the outbox retries, and each email goes out once after.

The servers on this machine's usual ports (PostgreSQL 5432, Redis 6379) are never stopped.
(The whole server killed at once: tests/concurrency/test_durability.py.)
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from extensions import db
from models import OutboxMessage
from services import outbox
from tests.adapters.test_mail_smtp import SMTPServer, app, smtp, sweep_at  # noqa: F401 (fixtures)
from tests.concurrency import live
from tests.conftest import skip_or_fail
from tests.live.site import Site, make_site

CLIENTS = 6


@dataclass
class Burst:
    """Clients signing up without pause on one server until told to stop; what each was answered."""

    server: live.Server
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    accepted: list[str] = field(default_factory=list)
    answers: list[tuple[str, int, str]] = field(default_factory=list)  # (email, status, page)
    failures: list[str] = field(default_factory=list)  # no answer at all
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.threads = [threading.Thread(target=self._client, args=(n,)) for n in range(CLIENTS)]
        for thread in self.threads:
            thread.start()

    def _client(self, number: int) -> None:
        with requests.Session() as http:
            http.trust_env = False
            form = live.open_form(http, self.server)
            for i in range(100_000):
                if self.stop.is_set():
                    return
                email = f"burst-{self.run}-{number}-{i}@example.org"
                try:
                    response = form.submit(name=f"Client {number}", email=email, timeout=60)
                except requests.RequestException as error:
                    with self.lock:
                        self.failures.append(f"{email}: {error}")
                    continue
                with self.lock:
                    self.answers.append((email, response.status_code, response.text))
                    if live.is_accepted(response):
                        self.accepted.append(email)

    def count(self, condition: Callable[[int], bool]) -> int:
        with self.lock:
            return sum(1 for _, status, _ in self.answers if condition(status))

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"{what}: not seen within {timeout:.0f}s ({self.statuses()})"
            time.sleep(0.05)

    def accepted_count(self) -> int:
        with self.lock:
            return len(self.accepted)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(120)

    def statuses(self) -> Counter[int]:
        with self.lock:
            return Counter(status for _, status, _ in self.answers)


def stored(site: Site, run: str) -> tuple[set[str], set[str]]:
    """The sign-ups of this burst in the database, and those with their confirmation owed or sent."""
    pattern = f"burst-{run}-%"
    with site.engine.connect() as conn:
        rsvps = set(conn.execute(text("SELECT email FROM rsvp WHERE email LIKE :p"), {"p": pattern}).scalars())
        confirmed = set(
            conn.execute(
                text(
                    "SELECT r.email FROM outbox_message m JOIN rsvp r ON r.id = m.rsvp_id"
                    " WHERE m.kind = 'rsvp.confirmation' AND r.email LIKE :p"
                ),
                {"p": pattern},
            ).scalars()
        )
    return rsvps, confirmed


def received_by(site: Site, emails: set[str]) -> Counter[str]:
    return Counter(mail.recipient for mail in site.smtp.mail() if mail.recipient in emails)


def require(*reasons: str | None) -> None:
    for reason in reasons:
        if reason:
            skip_or_fail(reason)


# --- a web worker killed ------------------------------------------------------------------------


def workers_of(server: live.Server) -> list[int]:
    """The pids of the gunicorn arbiter's children (its workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == server.process.pid:
                children.append(int(entry.name))
    return children


def test_a_web_worker_killed_mid_burst_loses_no_accepted_sign_up(tmp_path: Path) -> None:
    require(live.postgres_unreachable(), None if _has("redis-server") else "redis-server is not installed")
    with ExitStack() as stack:
        redis = stack.enter_context(live.redis_server(tmp_path))
        site = make_site(stack, tmp_path, stack.enter_context(live.throwaway_postgres("lectern_faults")), redis.url)
        server = site.start_host(stack, "a")
        site.start_consumer(stack, "consumer")
        burst = Burst(server)
        burst.start()
        try:
            burst.wait_for(lambda: burst.accepted_count() >= 30, "30 sign-ups accepted")
            victim = workers_of(server)[0]
            os.kill(victim, signal.SIGKILL)  # mid-request, mid-commit: whatever it was doing
            seen = burst.accepted_count()
            burst.wait_for(lambda: burst.accepted_count() >= seen + 30, "sign-ups accepted after the kill")
        finally:
            burst.finish()
        assert victim not in workers_of(server) and len(workers_of(server)) == live.WORKERS, "gunicorn replaced it"
        rsvps, confirmed = stored(site, burst.run)
        assert set(burst.accepted) <= rsvps, f"{len(set(burst.accepted) - rsvps)} accepted sign-ups lost"
        assert rsvps <= confirmed, "a sign-up stored without its confirmation owed"
        # Every email owed goes out once, the killed worker's hand-offs included (the sweep).
        site.wait_until_delivered()
        site.stop_consumer("consumer")
        site.delivered_once()
        assert set(received_by(site, rsvps).values()) == {1}


# --- PostgreSQL restarted -----------------------------------------------------------------------


def test_postgresql_restarted_mid_burst_answers_503_then_serves_and_writes_nothing_by_half(tmp_path: Path) -> None:
    if live.postgres_binaries() is None:
        skip_or_fail("no PostgreSQL server installed under /usr/lib/postgresql")
    with ExitStack() as stack:
        cluster = stack.enter_context(live.postgres_cluster())
        site = make_site(stack, tmp_path, cluster.create_database("lectern"), None)
        server = site.start_host(stack, "a")
        burst = Burst(server)
        burst.start()
        try:
            burst.wait_for(lambda: burst.accepted_count() >= 30, "30 sign-ups accepted")
            cluster.stop()  # a fast shutdown: transactions in flight are rolled back
            burst.wait_for(lambda: burst.count(lambda status: status == 503) >= CLIENTS, "503 while it is down")
            cluster.start()
            seen = burst.accepted_count()
            burst.wait_for(lambda: burst.accepted_count() >= seen + 30, "sign-ups accepted after the restart")
        finally:
            burst.finish()

        assert not burst.failures, burst.failures[:5]
        assert set(burst.statuses()) == {303, 503}, burst.statuses()
        refused = [page for _, status, page in burst.answers if status == 503]
        assert all("cannot reach its database" in page for page in refused), "a page a person can read"
        rsvps, confirmed = stored(site, burst.run)
        assert set(burst.accepted) <= rsvps, "an accepted sign-up lost"
        assert rsvps <= confirmed, "a sign-up written without its confirmation: half a unit of work"
        answered_503 = {email for email, status, _ in burst.answers if status == 503}
        assert len(answered_503 - rsvps) >= CLIENTS, "a request that failed is not stored"
        assert server.server_errors() == [], server.log_tail()


def _has(program: str) -> bool:
    import shutil

    return shutil.which(program) is not None


# --- Redis stopped ------------------------------------------------------------------------------


def test_with_redis_stopped_pages_and_sign_ups_go_on_and_the_emails_go_out_once_it_is_back(tmp_path: Path) -> None:
    require(live.postgres_unreachable(), None if _has("redis-server") else "redis-server is not installed")
    with ExitStack() as stack:
        redis = live.RedisServer(tmp_path)
        redis.start()
        stack.callback(redis.stop)
        site = make_site(stack, tmp_path, stack.enter_context(live.throwaway_postgres("lectern_faults")), redis.url)
        server = site.start_host(stack, "a")
        site.start_consumer(stack, "consumer")
        http = requests.Session()
        http.trust_env = False
        talk_page = server.url(f"/talks/{live.TALK_SLUG}")
        assert http.get(talk_page, timeout=60).status_code == 200

        redis.stop()
        run = uuid.uuid4().hex[:8]
        meanwhile = {f"burst-{run}-{i}@example.org" for i in range(12)}
        for email in sorted(meanwhile):
            form = live.open_form(requests.Session(), server)
            assert live.is_accepted(form.submit(name="No Redis", email=email)), "a sign-up taken without Redis"
            assert http.get(talk_page, timeout=60).status_code == 200, "pages served without Redis"
        rsvps, confirmed = stored(site, run)
        assert rsvps == meanwhile and confirmed == meanwhile
        assert received_by(site, meanwhile) == {}, "nothing could be sent: the queue is in Redis"

        redis.start()  # the same port, empty: what was queued is gone, the outbox still owes it
        site.wait_until_delivered()
        site.stop_consumer("consumer")
        assert server.server_errors() == [], server.log_tail()
        site.delivered_once()
        assert received_by(site, meanwhile) == dict.fromkeys(meanwhile, 1)


# --- the mail server down for an hour -----------------------------------------------------------


def test_with_the_mail_server_down_for_an_hour_each_email_goes_out_once_after(
    app: Flask,  # noqa: F811 (the fixture imported above)
    client: FlaskClient,
    smtp: SMTPServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The consumer's sweep runs every minute while the server is down (each send fails), for an
    hour; then the server is back and the sweep goes on until nothing is owed."""
    people = [f"person{i}@example.org" for i in range(5)]
    for email in people:
        response = client.post("/talks/smtp-talk/rsvp", data={"name": "Ada", "email": email, "mode": "room"})
        assert response.status_code == 303, "accepted whatever the mail server does"
    start = datetime.now(UTC)
    for minute in range(1, 61):
        sweep_at(monkeypatch, app, start + timedelta(minutes=minute))
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage)))
        assert len(rows) == len(people)
        assert all(row.done_at is None and row.given_up_at is None for row in rows), "nobody gave up"
        assert all(row.attempts >= 5 for row in rows), "tried again and again"
        assert max(row.next_attempt_at for row in rows) - (start + timedelta(hours=1)) <= outbox.MAX_DELAY

    smtp.start()
    moment = start + timedelta(hours=1)
    with app.app_context():
        while db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.done_at.is_(None)).limit(1)):
            db.session.rollback()
            moment += timedelta(minutes=1)
            assert moment < start + timedelta(hours=8), "still owed hours after the server came back"
            sweep_at(monkeypatch, app, moment)
        db.session.rollback()
    assert sorted(r for received in smtp.received for r in received.rcpt_tos) == sorted(people)
    # And the sweeps that follow send nothing again.
    sweep_at(monkeypatch, app, moment + timedelta(hours=7))
    assert len(smtp.received) == len(people)
