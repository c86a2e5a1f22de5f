"""The write lock: a talk locked once per unit of work, and SQLite writers queued on a file lock."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from extensions import db
from services import locks
from tests.rsvp_support import make_talk


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def talk_reads_during(action: object) -> int:
    reads: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.startswith("SELECT") and "FROM talk" in statement:
            reads.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        action()  # type: ignore[operator]
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    return len(reads)


def test_a_talk_is_read_once_per_unit_of_work_that_locks_it(ctx: Flask) -> None:
    talk = make_talk(seats=5)  # held, as a request holds the talk it locked
    talk_id = talk.id
    db.session.expire_all()
    assert talk_reads_during(lambda: locks.lock_talk(db.session, talk_id)) == 1
    assert talk_reads_during(lambda: locks.lock_talk(db.session, talk_id)) == 0, "locked already: not read again"
    db.session.commit()
    assert talk_reads_during(lambda: locks.lock_talk(db.session, talk_id)) == 1, "a new unit of work locks it anew"
    db.session.rollback()
    assert talk_reads_during(lambda: locks.lock_talk(db.session, talk_id)) == 1


def test_a_lock_taken_inside_a_savepoint_is_taken_again_after_it(ctx: Flask) -> None:
    talk = make_talk(seats=5)
    talk_id = talk.id
    locks.begin_write(db.session)
    with db.session.begin_nested():
        assert talk_reads_during(lambda: locks.lock_talk(db.session, talk_id)) == 1
    assert talk_reads_during(lambda: locks.lock_talk(db.session, talk_id)) == 1
    db.session.rollback()


# SQLite's writers queue ---------------------------------------------------------------------


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_a_writer_waits_in_the_queue_until_the_one_before_it_ends(
    ctx: Flask, monkeypatch: pytest.MonkeyPatch, end: str
) -> None:
    engine = db.engine
    waiting, through = threading.Event(), threading.Event()
    queue_for_write = locks.QueuedWriterConnection.queue_for_write

    def watched(self: locks.QueuedWriterConnection) -> None:
        if threading.current_thread() is not threading.main_thread():
            waiting.set()
        queue_for_write(self)

    monkeypatch.setattr(locks.QueuedWriterConnection, "queue_for_write", watched)

    def second_writer() -> None:
        with Session(engine) as session:
            locks.begin_write(session)
            through.set()
            session.rollback()

    first = Session(engine)
    locks.begin_write(first)
    second = threading.Thread(target=second_writer)
    second.start()
    try:
        assert waiting.wait(30)
        assert not through.wait(0.5), "the second writer went ahead while the first held the write lock"
    finally:
        getattr(first, end)()
    assert through.wait(30), f"the queue was not left at {end}"
    second.join()


def test_a_second_writer_in_the_same_thread_does_not_wait_for_itself(tmp_path: Path) -> None:
    database = str(tmp_path / "queue.db")
    holder = sqlite3.connect(database, factory=locks.QueuedWriterConnection)
    other = sqlite3.connect(database, factory=locks.QueuedWriterConnection)
    try:
        holder.queue_for_write()
        other.queue_for_write()  # returns: SQLite's busy handler decides, as before the queue
        holder.commit()
        other.commit()
        holder.queue_for_write()  # the queue was left: it is free again
        holder.rollback()
    finally:
        holder.close()
        other.close()
    assert (tmp_path / "queue.db-write-queue").exists()


def test_a_database_in_memory_has_no_queue() -> None:
    connection = sqlite3.connect(":memory:", factory=locks.QueuedWriterConnection)
    try:
        connection.queue_for_write()
        connection.commit()
    finally:
        connection.close()
