"""Background work, run by the Huey consumer beside the web server (`make run` starts both).

Huey, because it has both an embedded SQLite queue (nothing to install on a laptop) and a
Redis one (several hosts sharing work) behind the same API, plus periodic tasks for the
outbox sweep, reminders and data retention.

Every task is idempotent: the outbox records what is done, so a retry or a duplicate enqueue
sends nothing twice.

Queues. The tasks are declared once, below, on `tasks`. The queue itself belongs to an app:
`create_app` gives each app an `AppQueue` made from that app's configuration (config.py
`load_config`: defaults.py, then instance/config.py, then LECTERN_* variables), so the web
server, the `flask` commands and the consumer (consumer.py, which creates its app once) all use
the queue that one configuration names: Redis with REDIS_URL, else the SQLite file JOBS_DB.
With JOBS_IMMEDIATE (tests) an app's queue runs each job at once, inside the request that
enqueued it; that is the app's own setting, whatever other apps the process holds.

Enqueueing a declared task (`deliver_message(id)`) puts it on the queue of the current app.
A task runs in an app context: the request's, when run at once; else a context of the app
whose queue the consumer serves, pushed for that task alone.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from flask import Flask, current_app, has_app_context, render_template
from huey import Huey, crontab
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

import links
from extensions import db
from models import Rsvp, Talk
from services import chat_mail, chats, delivery, locks, mail_text, meetings, outbox, signups
from services.tokens import manage_token, speaker_token

log = logging.getLogger(__name__)
QUEUE_NAME = "lectern"


class TaskDeclarations(Huey):
    """Where the tasks are declared. It holds none: enqueueing goes to the current app's queue."""

    def enqueue(self, task: Any) -> Any:
        return current_app.extensions["lectern.queue"].enqueue(task)


tasks = TaskDeclarations(QUEUE_NAME, storage_class=MemoryStorage)


class SqliteQueueStorage(SqliteStorage):
    """Huey's SQLite queue, synced as Lectern's SQLite database is (services/locks.py): WAL with
    synchronous=NORMAL, no fsync at each enqueue. A process killed at any moment loses no job;
    a job a power cut loses is found again by the sweep, since its message is owed in the
    database (if the database kept it).

    Writers (web workers enqueueing, the consumer taking jobs) queue for the file's write lock
    as Lectern's own writers do (`locks.QueuedWriterConnection`, a file lock beside it), and
    take it at BEGIN: two workers enqueueing at once then wait for each other's few
    microseconds, not for SQLite's busy handler, which sleeps a millisecond or more per try.
    """

    begin_sql = "begin immediate"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, factory=locks.QueuedWriterConnection, **kwargs)

    def _create_connection(self) -> sqlite3.Connection:
        connection = super()._create_connection()
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    @contextlib.contextmanager
    def db(self, commit: bool = False, close: bool = False) -> Iterator[sqlite3.Cursor]:
        # Huey's BaseSqlStorage.db, with the writer's place in the queue taken first.
        with self.lock:  # Huey's own: one thread of this process at a time uses the connection
            connection = self.conn
            cursor = connection.cursor()
            try:
                if commit:
                    connection.queue_for_write()  # left by the connection's commit or rollback
                    cursor.execute(self.begin_sql)
                yield cursor
            except Exception:
                if commit:
                    connection.rollback()
                raise
            else:
                if commit:
                    connection.commit()
            finally:
                cursor.close()
                if close:
                    connection.close()
                    self._conn = None


# A Redis that is down or hung must not hold a request: enqueueing fails fast, the message stays
# owed in the database and the sweep enqueues it once Redis is back. The read timeout is above
# the consumer's blocking read (Huey's read_timeout, 1 s), which waits for work on purpose.
REDIS_QUEUE_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 3.0}


class AppQueue(Huey):
    """One app's job queue, as its configuration says: Redis, a SQLite file, or run at once."""

    def __init__(self, app: Flask) -> None:
        config = app.config
        options: dict[str, Any]
        if config["REDIS_URL"]:
            pool = redis.ConnectionPool.from_url(config["REDIS_URL"], **REDIS_QUEUE_TIMEOUTS)
            options = {"storage_class": RedisStorage, "connection_pool": pool}
        else:
            options = {"storage_class": SqliteQueueStorage, "filename": config["JOBS_DB"]}
            if not config["JOBS_IMMEDIATE"]:
                Path(config["JOBS_DB"]).parent.mkdir(parents=True, exist_ok=True)
        # Immediate mode keeps its results in memory and never opens the configured storage.
        # No results kept: nobody reads them (the outbox records what was done), and a Redis queue
        # would keep each one forever.
        super().__init__(QUEUE_NAME, immediate=bool(config["JOBS_IMMEDIATE"]), results=False, **options)
        self.app = app
        self.paused_until = 0.0  # `dispatch` leaves a queue that did not answer alone until then
        # The tasks declared below, for every app: a message names its task ("jobs.deliver_message").
        self._registry = tasks._registry

    def execute(self, task: Any, timestamp: datetime | None = None) -> Any:
        if has_app_context() and current_app._get_current_object() is self.app:  # type: ignore[attr-defined]
            return super().execute(task, timestamp)  # run at once, inside the request that enqueued it
        with self.app.app_context():  # in the consumer: a context for this task alone
            try:
                return super().execute(task, timestamp)
            finally:
                db.session.remove()


def now() -> datetime:
    return datetime.now(UTC)


def links_for(talk: Talk, rsvp: Rsvp) -> mail_text.Links:
    """The links in an email, made as a page makes them (links.py), with or without a request."""
    # Only this person's: their own join link, or the pasted link for people signed up.
    join = meetings.join_link(db.session, talk, rsvp) if rsvp.id is not None else None
    return mail_text.Links(
        talk_url=links.link_for("public.talk_page", slug=talk.slug),
        manage_url=links.link_for("rsvp.manage", token=manage_token(current_app.config["SECRET_KEY"], rsvp)),
        domain=links.domain(current_app.config["SITE_URL"]),
        chat_url=chat_booking_url(talk),
        join_url=join.url if join else None,
        join_personal=bool(join and join.url and join.personal),
        join_pending=bool(join and join.pending),
    )


def chat_booking_url(talk: Talk) -> str:
    """The talk's page for booking a chat with the speaker (its route: blueprints/chats.py)."""
    return links.link_for("chats.book", slug=talk.slug)


def speaker_links_for(talk: Talk, speaker_name: str) -> chat_mail.SpeakerLinks:
    """The links in a speaker's email: their schedule's page only while the organizers have made one."""
    schedule_url = ""
    if talk.chat_link_nonce:
        token = speaker_token(current_app.config["SECRET_KEY"], talk, chats.speaker_key(talk, speaker_name))
        schedule_url = links.link_for("speakers.schedule", token=token)
    return chat_mail.SpeakerLinks(
        talk_url=links.link_for("public.talk_page", slug=talk.slug),
        schedule_url=schedule_url,
        domain=links.domain(current_app.config["SITE_URL"]),
    )


@tasks.task()
def deliver_message(message_id: int) -> str:
    result = delivery.deliver(
        db.session,
        message_id,
        mailer=current_app.extensions["lectern.mailer"],
        links_for=links_for,
        render=render_template,
        now=now(),
        enqueue=dispatch,
        speaker_links_for=speaker_links_for,
        meetings=current_app.extensions.get("lectern.meetings"),
    )
    log.info("outbox message %s: %s", message_id, result)
    return result


# After the queue's Redis failed to answer, this process leaves it alone for so many seconds: a
# host that does not answer at all costs each try the whole connect time-out, which every
# sign-up would otherwise wait for. The messages stay owed; the sweep enqueues them.
ENQUEUE_PAUSE = 5.0


def dispatch(ids: list[int]) -> None:
    """Hand committed outbox messages to the queue. If the queue is unreachable the sweep will."""
    queue = current_app.extensions["lectern.queue"]
    for message_id in ids:
        if time.monotonic() < queue.paused_until:
            log.warning("the queue did not answer a moment ago; outbox message %s is left to the sweep", message_id)
            continue
        try:
            deliver_message(message_id)
        except Exception as error:  # the message is safe in the database; the sweep re-enqueues it
            if isinstance(error, RedisConnectionError | RedisTimeoutError):
                queue.paused_until = time.monotonic() + ENQUEUE_PAUSE
            # Expected while Redis is down (docs/deploy.md, "When a part fails"): one line, not a trace each time.
            log.warning("could not enqueue outbox message %s (%s); the sweep will", message_id, error)


def commit_and_dispatch() -> None:
    """Commit the request's unit of work, then enqueue what it owes (never before the commit)."""
    ids = outbox.take_pending_ids(db.session)
    db.session.commit()
    dispatch(ids)


@tasks.periodic_task(crontab(minute="*"))
def sweep_outbox() -> int:
    """Re-enqueue everything still owed: failed sends whose retry is due, lost hand-offs.

    And a bump of the content version this process owes (a job changed public content while
    Redis was down): other hosts then stop serving what they cached before the change."""
    current_app.extensions["lectern.content_version"].settle()
    ids = outbox.owed(db.session, now())
    db.session.rollback()
    dispatch(ids)
    return len(ids)


@tasks.periodic_task(crontab(minute="*/10"))
def send_reminders() -> int:
    count = delivery.queue_reminders(db.session, now())
    commit_and_dispatch()
    return count


@tasks.periodic_task(crontab(hour="3", minute="17"))
def purge_attendee_data() -> int:
    count = signups.purge_attendee_data(
        db.session, now(), keep=timedelta(days=current_app.config["ATTENDEE_RETENTION_DAYS"])
    )
    db.session.commit()
    return count


@tasks.periodic_task(crontab(minute="*"))
def make_due_draws() -> int:
    """Chat draws whose time has come, each in its own unit of work (one failing spares the others)."""
    talk_ids = chats.due_draws(db.session, now())
    db.session.rollback()
    for talk_id in talk_ids:
        try:
            chats.run_draw(db.session, talk_id, now())
            commit_and_dispatch()
        except Exception:
            db.session.rollback()
            log.exception("the chat draw for talk %s could not be made; it is tried again next minute", talk_id)
    return len(talk_ids)


@tasks.periodic_task(crontab(minute="*"))
def send_speaker_schedules() -> int:
    """Speakers get their chat schedule once chat sign-up has closed."""
    count = chats.queue_closed_schedules(db.session, now())
    commit_and_dispatch()
    return count
