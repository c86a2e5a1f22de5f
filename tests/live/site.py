"""Lectern on several hosts, as tests/live/ runs it: app servers and job consumers on one database.

Each host is a gunicorn (tests/concurrency/live.py) with an instance folder of its own, whose
config.py holds the series' SECRET_KEY: every host must have the same one, or a manage link
or a login made by one host is refused by the other. The database URL, REDIS_URL and the mail
server come from LECTERN_* variables, the same for every host. Each consumer runs
`huey_consumer` on an app of its own instance folder (consumer.make_queue).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from tests.concurrency import live

# Shared by every host (see above); the tests also make manage links with it.
SECRET_KEY = live.SECRET_KEY
ORGANIZER = "organizer@example.org"
DELIVERY_TIMEOUT = 180.0  # generous: a busy machine; the check is what arrived, not how fast


@dataclass
class Site:
    folder: Path
    env: dict[str, str]
    engine: Engine
    smtp: live.SmtpSink
    hosts: dict[str, live.Server] = field(default_factory=dict)
    consumers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def instance(self, name: str) -> Path:
        """The host's own instance folder, with its config.py."""
        path = self.folder / f"instance-{name}"
        if not path.exists():
            path.mkdir()
            (path / "config.py").write_text(f"SECRET_KEY = {SECRET_KEY!r}\n")
        return path

    def host_env(self, **extra: str) -> dict[str, str]:
        # The secret from config.py; the content version and the queue in Redis, and nothing
        # else in a file two hosts would have to share.
        local = ("LECTERN_SECRET_KEY", "LECTERN_CONTENT_VERSION_FILE", "LECTERN_JOBS_DB")
        env = {key: value for key, value in self.env.items() if key not in local}
        return {**env, **extra}

    def start_host(self, stack: ExitStack, name: str, **extra_env: str) -> live.Server:
        spec = f"app:create_app(instance_path={str(self.instance(name))!r})"
        server = stack.enter_context(live.gunicorn(spec, self.host_env(**extra_env), self.folder, name=name))
        self.hosts[name] = server
        return server

    def start_consumer(self, stack: ExitStack, name: str) -> None:
        process = live.start_consumer(name, self.host_env(), self.folder, self.instance(name))
        stack.callback(self.stop_consumer, name)
        self.consumers[name] = process

    def stop_consumer(self, name: str) -> None:
        process = self.consumers.pop(name, None)
        if process is not None:
            live.stop_process_group(process, name)

    def consumer_log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    # --- the database, as the test sees it ------------------------------------------------

    def talk_id(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT id FROM talk WHERE slug = :s"), {"s": live.TALK_SLUG}).scalar_one()

    def emails_owed(self) -> Counter[tuple[str, int]]:
        """(recipient, outbox message id) of every email the outbox holds, done or not."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT lower(coalesce(m.recipient_email, r.email)), m.id FROM outbox_message m"
                    " LEFT JOIN rsvp r ON r.id = m.rsvp_id WHERE m.kind NOT LIKE 'meeting.%'"
                )
            )
            return Counter((email, message_id) for email, message_id in rows)

    def not_done(self) -> list[tuple[int, str, int, str]]:
        """(id, kind, attempts, last error) of the messages still owed or given up on."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, kind, attempts, last_error FROM outbox_message"
                    " WHERE done_at IS NULL OR given_up_at IS NOT NULL ORDER BY id"
                )
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]

    def wait_until_delivered(self, timeout: float = DELIVERY_TIMEOUT) -> None:
        """Until the outbox owes nothing (every message done); fails with what is left."""
        deadline = time.monotonic() + timeout
        while self.not_done():
            if time.monotonic() > deadline:
                raise AssertionError(f"still owed after {timeout:.0f}s: {self.not_done()[:10]}")
            time.sleep(0.5)

    def delivered_once(self) -> None:
        """Every email the outbox holds arrived at the mail server once: as many emails for each
        address as messages owed to it, and none more. (Each message is done: wait first.)"""
        owed = Counter(email for email, _ in self.emails_owed())
        received = Counter(mail.recipient for mail in self.smtp.mail())
        assert received == owed, {
            "missing": dict(owed - received),
            "twice": dict(received - owed),
        }


def add_organizer(env: dict[str, str], email: str) -> None:
    """`flask organizers add EMAIL`, as an operator adds the first organizer."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "organizers", "add", email],
        cwd=live.ROOT,
        env={**env, "LECTERN_MAIL_BACKEND": "memory"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def make_site(stack: ExitStack, folder: Path, database_url: str, redis_url: str | None) -> Site:
    """The database migrated with the demo content, a mail server running; no host started yet."""
    smtp = live.SmtpSink()
    smtp.start()
    stack.callback(smtp.stop)
    env = {**live.lectern_env(folder, database_url, redis_url), **smtp.env()}
    live.prepare_instance({**env, "LECTERN_MAIL_BACKEND": "memory"})
    add_organizer(env, ORGANIZER)
    engine = create_engine(database_url)
    stack.callback(engine.dispose)
    return Site(folder=folder, env=env, engine=engine, smtp=smtp)
