"""An accepted sign-up survives the server killed outright: every 303 is in the database, with its email owed.

Lectern under gunicorn (2 sync workers, as in production) on SQLite and on PostgreSQL; clients
sign up without pause, and the whole process group (arbiter and workers) gets SIGKILL while
sign-ups are in flight. Whatever was answered 303 must then be read back from the database by
a new connection, with its confirmation in the outbox (the sweep sends what no job was queued
for). A request still in flight when the server died may or may not be stored: nobody was told.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.concurrency import live
from tests.conftest import skip_or_fail

CLIENTS = 8
KILL_AFTER = 60  # sign-ups answered 303 before the kill


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield live.sqlite_url(tmp_path)
        return
    reason = live.postgres_unreachable()
    if reason:
        skip_or_fail(reason)
    with live.throwaway_postgres() as url:
        yield url


def test_every_accepted_sign_up_survives_the_server_killed_mid_burst(database_url: str, tmp_path: Path) -> None:
    env = live.lectern_env(tmp_path, database_url)
    live.prepare_instance(env)
    accepted: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def client(number: int) -> None:
        with requests.Session() as http:
            http.trust_env = False
            form = live.open_form(http, server)
            for i in range(10_000):
                email = f"kill-{number}-{i}@example.org"
                try:
                    response = form.submit(name=f"Client {number}", email=email, timeout=30)
                except requests.RequestException:
                    return  # the server is gone
                if not live.is_accepted(response):
                    return
                with lock:
                    accepted.append(email)
                    if len(accepted) >= KILL_AFTER:
                        enough.set()

    with ExitStack() as stack:
        server = stack.enter_context(live.gunicorn("app:create_app()", env, tmp_path, access_log=False))
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            assert enough.wait(120), f"only {len(accepted)} sign-ups went through"
        finally:
            os.killpg(server.process.pid, signal.SIGKILL)  # no graceful stop: mid-request, mid-commit
            for thread in threads:
                thread.join(60)

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            stored = set(conn.execute(text("SELECT email FROM rsvp WHERE email LIKE 'kill-%'")).scalars())
            confirmed = set(
                conn.execute(
                    text(
                        "SELECT r.email FROM outbox_message m JOIN rsvp r ON r.id = m.rsvp_id"
                        " WHERE m.kind = 'rsvp.confirmation' AND r.email LIKE 'kill-%'"
                    )
                ).scalars()
            )
    finally:
        engine.dispose()
    assert len(accepted) >= KILL_AFTER
    assert set(accepted) <= stored, f"{len(set(accepted) - stored)} accepted sign-ups lost"
    assert set(accepted) <= confirmed, "an accepted sign-up without its confirmation owed"
