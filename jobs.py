"""Background work, run by the Huey consumer beside the web server (`make run` starts both).

Huey, because it has both an embedded SQLite queue (nothing to install on a laptop) and a
Redis one (several hosts sharing work) behind the same API, plus periodic tasks for the
outbox sweep, reminders and data retention. `LECTERN_REDIS_URL` selects Redis.

Every task is idempotent: the outbox records what is done, so a retry or a duplicate enqueue
sends nothing twice.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask, current_app, has_app_context, render_template
from huey import RedisHuey, SqliteHuey, crontab

from extensions import db
from models import Rsvp, Talk
from services import delivery, mail_text, outbox
from services.tokens import manage_token

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent


def make_huey() -> SqliteHuey | RedisHuey:
    if url := os.environ.get("LECTERN_REDIS_URL"):
        return RedisHuey("lectern", url=url)
    path = Path(os.environ.get("LECTERN_JOBS_DB") or HERE / "instance" / "jobs.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("lectern", filename=str(path))


huey = make_huey()
_consumer_app: Flask | None = None
_consumer_app_lock = threading.Lock()


@contextmanager
def app_context() -> Iterator[Flask]:
    """The web app's context when called from a request (immediate mode), else the consumer's own app."""
    global _consumer_app
    if has_app_context():
        yield current_app._get_current_object()  # type: ignore[attr-defined]
        return
    with _consumer_app_lock:  # the consumer runs tasks in several threads: one app for all
        if _consumer_app is None:
            from app import create_app

            _consumer_app = create_app()
    with _consumer_app.app_context():
        try:
            yield _consumer_app
        finally:
            db.session.remove()


def now() -> datetime:
    return datetime.now(UTC)


def links_for(talk: Talk, rsvp: Rsvp) -> mail_text.Links:
    config = current_app.config
    site = config["SITE_URL"].rstrip("/")
    return mail_text.Links(
        talk_url=f"{site}/talks/{talk.slug}",
        manage_url=f"{site}/rsvp/{manage_token(config['SECRET_KEY'], rsvp)}",
        domain=site.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "lectern.invalid",
    )


@huey.task()
def deliver_message(message_id: int) -> str:
    with app_context() as app:
        result = delivery.deliver(
            db.session,
            message_id,
            mailer=app.extensions["lectern.mailer"],
            links_for=links_for,
            render=render_template,
            now=now(),
        )
        log.info("outbox message %s: %s", message_id, result)
        return result


def dispatch(ids: list[int]) -> None:
    """Hand committed outbox messages to the queue. If the queue is unreachable the sweep will."""
    for message_id in ids:
        try:
            deliver_message(message_id)
        except Exception:  # the message is safe in the database; the sweep re-enqueues it
            log.exception("could not enqueue outbox message %s; the sweep will", message_id)


def commit_and_dispatch() -> None:
    """Commit the request's unit of work, then enqueue what it owes (never before the commit)."""
    ids = outbox.take_pending_ids(db.session)
    db.session.commit()
    dispatch(ids)


@huey.periodic_task(crontab(minute="*"))
def sweep_outbox() -> int:
    """Re-enqueue everything still owed: failed sends whose retry is due, lost hand-offs."""
    with app_context():
        ids = outbox.owed(db.session, now())
        db.session.rollback()
    dispatch(ids)
    return len(ids)


@huey.periodic_task(crontab(minute="*/10"))
def send_reminders() -> int:
    with app_context():
        count = delivery.queue_reminders(db.session, now())
        commit_and_dispatch()
        return count


@huey.periodic_task(crontab(hour="3", minute="17"))
def purge_attendee_data() -> int:
    with app_context() as app:
        count = delivery.purge_attendee_data(
            db.session, now(), keep=timedelta(days=app.config["ATTENDEE_RETENTION_DAYS"])
        )
        db.session.commit()
        return count
