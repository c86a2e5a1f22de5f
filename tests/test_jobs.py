"""The job queue comes from the app's configuration, for the web server and the consumer alike."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import flask_migrate
import pytest
from flask import Flask
from huey import RedisHuey

import consumer
import jobs
from app import create_app
from extensions import db
from models import ChatAssignment, Speaker
from services import chats
from tests.conftest import dispose, make_app, skip_or_fail
from tests.rsvp_support import make_talk, sent, text_part

ROOT = Path(__file__).resolve().parents[1]
# A Redis database of this file's own, flushed before and after (see also tests/concurrency).
REDIS_URL = f"{os.environ.get('TEST_REDIS_URL', 'redis://127.0.0.1:6379').rstrip('/')}/11"


@pytest.fixture
def redis_url() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        skip_or_fail(f"Redis not reachable at {REDIS_URL}: {error}")
    client.flushdb()
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


def sign_up(app: Flask, email: str, slug: str = "a-talk") -> None:
    response = app.test_client().post(f"/talks/{slug}/rsvp", data={"name": "Ada", "email": email, "mode": "room"})
    assert response.status_code == 303, response.get_data(as_text=True)


def test_a_redis_url_in_instance_config_moves_the_queue_of_the_web_app_and_the_consumer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    for key in [key for key in os.environ if key.startswith("LECTERN_")]:
        monkeypatch.delenv(key)  # instance/config.py alone says where the queue is
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(
        f"REDIS_URL = {redis_url!r}\n"
        f"DATABASE_URL = {'sqlite:///' + str(tmp_path / 'lectern.db')!r}\n"
        "SECRET_KEY = 'test-secret'\n"
        "SITE_URL = 'http://lectern.test'\n"
        "MAIL_BACKEND = 'memory'\n"
        "WTF_CSRF_ENABLED = False\n"
    )
    web = create_app(instance_path=str(instance))
    with web.app_context():
        flask_migrate.upgrade()
        make_talk(5)
    # The consumer's app, made as `huey_consumer consumer.huey` makes it (consumer.py).
    served = consumer.make_queue(str(instance))
    try:
        sign_up(web, "ada@example.org")
        assert sent(web) == [], "queued for the consumer, not sent by the web app"
        assert RedisHuey(jobs.QUEUE_NAME, url=redis_url).pending_count() == 1, "the job waits in Redis"
        assert not (instance / "jobs.db").exists(), "no SQLite queue beside it"

        task = served.dequeue()
        assert task is not None, "the consumer reads the queue the web app wrote to"
        served.execute(task)
        [email] = sent(served.app)
        assert email["To"] == "Ada <ada@example.org>"
        assert "http://lectern.test/rsvp/" in text_part(email)
        assert served.pending_count() == 0
    finally:
        dispose(web)
        dispose(served.app)


def test_immediate_mode_belongs_to_the_app_that_enqueues(tmp_path: Path) -> None:
    (tmp_path / "now").mkdir()
    (tmp_path / "later").mkdir()
    immediate = make_app(tmp_path / "now")
    queued = make_app(tmp_path / "later", JOBS_IMMEDIATE=False, JOBS_DB=str(tmp_path / "later" / "jobs.db"))
    try:
        for app in (immediate, queued):
            with app.app_context():
                make_talk(5)
        sign_up(immediate, "ada@example.org")  # the app created last queues its jobs: this one still runs them
        sign_up(queued, "bob@example.org")
        assert [email["To"] for email in sent(immediate)] == ["Ada <ada@example.org>"]
        assert sent(queued) == []
        assert queued.extensions["lectern.queue"].pending_count() == 1

        another = make_app(tmp_path / "now", DATABASE_URL=f"sqlite:///{tmp_path / 'another.db'}")
        dispose(another)
        sign_up(queued, "cy@example.org")  # an app created since runs its jobs at once; this one still queues
        assert sent(queued) == []
        assert queued.extensions["lectern.queue"].pending_count() == 2
    finally:
        dispose(immediate)
        dispose(queued)


def test_writers_of_the_sqlite_queue_wait_their_turn_and_every_job_is_kept(tmp_path: Path) -> None:
    """Enqueueing queues for the file's write lock (as Lectern's own writers do) instead of
    sleeping in SQLite's busy handler: while someone holds it, an enqueue waits; then it goes in,
    and enqueues from several threads at once all arrive."""
    storage = jobs.SqliteQueueStorage(name="lectern", filename=str(tmp_path / "jobs.db"))
    reader = jobs.SqliteQueueStorage(name="lectern", filename=str(tmp_path / "jobs.db"))  # reads never queue
    holder = os.open(f"{tmp_path / 'jobs.db'}-write-queue", os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)
    waiting = threading.Thread(target=storage.enqueue, args=(b"first",))
    waiting.start()
    waiting.join(timeout=0.5)
    assert waiting.is_alive(), "the enqueue did not wait for the writer ahead of it"
    assert reader.queue_size() == 0
    fcntl.flock(holder, fcntl.LOCK_UN)
    os.close(holder)
    waiting.join(timeout=30)
    assert not waiting.is_alive() and reader.queue_size() == 1

    others = [jobs.SqliteQueueStorage(name="lectern", filename=str(tmp_path / "jobs.db")) for _ in range(4)]
    threads = [threading.Thread(target=lambda s=other: [s.enqueue(b"job") for _ in range(25)]) for other in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert reader.queue_size() == 101
    for each in (storage, reader, *others):
        each.close()


def test_the_jobs_module_does_not_import_the_app() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LECTERN_")}
    done = subprocess.run(
        [sys.executable, "-c", "import sys, jobs; print('app' in sys.modules)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_the_minutely_jobs_make_due_draws_and_send_speakers_their_schedule(app: Flask) -> None:
    with app.app_context():
        talk = make_talk(5, starts_at=datetime.now(UTC) + timedelta(hours=2))
        talk.parts[0].speakers.append(Speaker(position=0, name="Grace Hopper"))
        talk.chat_speaker_emails = {"Grace Hopper": "grace@example.org"}
        db.session.commit()
        (slot,) = chats.add_slots(
            db.session,
            talk.id,
            first_starts_at=None,
            count=1,
            minutes=15,
            capacity=1,
            place=None,
            now=datetime.now(UTC),
        )
        chats.set_options(
            db.session,
            talk.id,
            assignment=ChatAssignment.DRAW,
            closes=None,
            draw_time=datetime.now(UTC) + timedelta(minutes=30),
            prefer_new=False,
            is_open=True,
            now=datetime.now(UTC),
        )
        chats.book(
            db.session,
            talk.id,
            name="Ada",
            email="ada@example.org",
            slot_ids=[slot.id],
            topic="",
            now=datetime.now(UTC),
        )
        jobs.commit_and_dispatch()

        assert jobs.make_due_draws.call_local() == 0, "not yet: the draw is in half an hour"
        talk.chat_draw_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
        assert jobs.make_due_draws.call_local() == 1
        assert chats.booking_of(db.session, chats.draw_of(db.session, talk.id).result["order"][0])
        assert any("ada@example.org" in m["To"] and "chat" in m["Subject"].lower() for m in sent(app))

        assert jobs.send_speaker_schedules.call_local() == 0, "chat sign-up is still open"
        talk.chat_open = False
        db.session.commit()
        assert jobs.send_speaker_schedules.call_local() == 1
        (schedule,) = [m for m in sent(app) if "grace@example.org" in m["To"]]
        assert "Ada" in text_part(schedule)


def test_a_queue_that_does_not_answer_is_left_alone_for_a_moment(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each try at a Redis host that does not answer costs the whole connect time-out: after one
    failure, the sign-ups of the next seconds leave their emails to the sweep without waiting."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    tries: list[int] = []

    def unreachable(message_id: int) -> None:
        tries.append(message_id)
        raise RedisConnectionError("Timeout connecting to server")

    monkeypatch.setattr(jobs, "deliver_message", unreachable)
    with app.app_context():
        jobs.dispatch([1, 2])
        jobs.dispatch([3])
        assert tries == [1], "asked once, then left alone"
        queue = app.extensions["lectern.queue"]
        queue.paused_until = 0.0  # the pause is over
        jobs.dispatch([4])
        assert tries == [1, 4]
