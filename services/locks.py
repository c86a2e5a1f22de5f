"""The write lock: how a unit of work that changes sign-ups or talks keeps others out.

On PostgreSQL a change locks the talk's row (SELECT ... FOR UPDATE). On SQLite, which has no
row locks, the unit of work takes the database's write lock at BEGIN (BEGIN IMMEDIATE): two
sign-ups then queue for it instead of both reading the same free seat; a deferred BEGIN would
upgrade later and could fail or, worse, count stale rows. `register_sqlite_hooks` installs the
engine hooks that make this so; `create_app` calls it once.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, joinedload, load_only

from models import Talk

# Execution option read by the BEGIN hook below: on SQLite, BEGIN IMMEDIATE.
WRITE_LOCK = {"lectern_write_lock": True}
# In session.info: the unit of work whose talks are locked, and their ids.
HELD_KEY = "lectern.locks.held"


class TalkGone(LookupError):
    """The talk to lock no longer exists."""


def actual_session(session: Session) -> Session:
    """The session itself: a scoped session (as in a web request) stands for the one of the
    current scope, and does not pass on every method (`get_transaction`, say)."""
    return session() if callable(session) and not isinstance(session, Session) else session


def begin_write(session: Session) -> None:
    """Open the unit of work with the write lock (SQLite: BEGIN IMMEDIATE), unless it has begun."""
    actual = actual_session(session)
    if not actual.in_transaction():
        actual.connection(execution_options=WRITE_LOCK)


def lock_talk(session: Session, talk_id: int) -> Talk:
    """Lock the talk's row for this unit of work (FOR UPDATE; on SQLite the write lock taken at BEGIN).

    The row is read again once locked, even when the session already holds the talk: on
    PostgreSQL a request reads the talk before it waits for the lock, and whoever held the lock
    meanwhile may have changed the capacity or closed sign-ups. (Pending changes to the talk are
    flushed first by autoflush; do not call this inside `no_autoflush` with the talk modified.)
    A talk this unit of work has locked already is not read again: nobody else can have changed
    it since, and the session holds what this unit of work changed.
    """
    if talk_id in _held(session):
        talk = session.get(Talk, talk_id)
    else:
        talk = lock_talk_by(session, _BY_ID, {"talk_id": talk_id})
    if talk is None:
        raise TalkGone(talk_id)
    return talk


def locking_read(
    *criteria: ColumnElement[bool],
    only: tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]] | None = None,
) -> Select[tuple[Talk]]:
    """The statement that reads and locks the talk matching `criteria`, with its series and room
    (what a change to its sign-ups looks at). Build it once, with bound parameters: building
    a statement costs about as much as running it.

    `only`: the attributes to read of the talk, its series and its room, when a caller needs
    few of them (a deferred one named there is read too); the others load when first asked for.
    """
    series, room = joinedload(Talk.series, innerjoin=True), joinedload(Talk.room)
    options = [series, room]
    if only is not None:
        of_talk, of_series, of_room = only
        options = [load_only(*of_talk), series.load_only(*of_series), room.load_only(*of_room)]
    return (
        select(Talk)
        .where(*criteria)
        .options(*options)
        .with_for_update(of=Talk)
        .execution_options(populate_existing=True)
    )


def each_locked(statement: Select[Any], model: type[Any]) -> Select[Any]:
    """`statement` locking the rows of `model` it reads (FOR UPDATE on PostgreSQL; on SQLite the
    write lock taken at BEGIN), in id order so that two such units of work never wait for each
    other in a circle, and reading them as they are once locked. For periodic jobs that two
    consumers may run at the same moment: the second waits, then sees what the first did."""
    return statement.order_by(model.id).with_for_update(of=model).execution_options(populate_existing=True)


def lock_talk_by(session: Session, statement: Select[tuple[Talk]], params: dict[str, Any]) -> Talk | None:
    """Lock the talk a `locking_read` statement finds; None when there is none."""
    begin_write(session)
    talk = session.scalars(statement, params).first()
    if talk is not None:
        _hold(session, talk.id)
    return talk


_BY_ID = locking_read(Talk.id == bindparam("talk_id"))


def _held(session: Session) -> set[int]:
    """The talks locked by the session's unit of work; none once it has ended (the locks with it)."""
    actual = actual_session(session)
    held = actual.info.get(HELD_KEY)
    if held is None or held[0] is not actual.get_transaction():
        return set()
    return held[1]


def _hold(session: Session, talk_id: int) -> None:
    actual = actual_session(session)
    if actual.get_nested_transaction() is not None:
        # PostgreSQL gives a row lock taken inside a savepoint back when the savepoint is rolled back.
        return
    root = actual.get_transaction()
    held = actual.info.get(HELD_KEY)
    if held is None or held[0] is not root:
        held = actual.info[HELD_KEY] = (root, set())
    held[1].add(talk_id)


# SQLite -----------------------------------------------------------------------------------


def register_sqlite_hooks() -> None:
    """Install the SQLite connection settings and the BEGIN hook on every engine (once)."""
    hooks = (("do_connect", _sqlite_connection_class), ("connect", _sqlite_pragmas), ("begin", _sqlite_begin))
    for name, hook in hooks:
        if not event.contains(Engine, name, hook):
            event.listen(Engine, name, hook)


class QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write units of work queue for the write lock on a file lock.

    A writer that finds SQLite's write lock taken waits in SQLite's busy handler, which sleeps
    1, 2, 5, 10, 15, 20, 25 ... ms between tries instead of waking when the lock is freed: the
    lock stays free while the next writer sleeps. So before BEGIN IMMEDIATE a writer takes an
    exclusive flock on a file beside the database (`<database>-write-queue`), which the kernel
    hands to the next waiter the moment it is released; it is released when the transaction
    ends (commit, rollback, close). The flock orders writers, SQLite's lock still guards the
    data: a process that does not queue (the sqlite3 shell) is waited for as before.
    """

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        name = os.fsdecode(database) if isinstance(database, str | bytes | os.PathLike) else ""
        in_file = name not in ("", ":memory:") and not kwargs.get("uri") and not name.startswith("file:")
        self._queue_path = f"{name}-write-queue" if in_file else None
        self._queue_fd: int | None = None
        self._place: list[QueuedWriterConnection] | None = None  # its thread's places, while queued

    def queue_for_write(self) -> None:
        """Wait for the writers queued before this one (called just before BEGIN IMMEDIATE)."""
        places = _places_of_this_thread()
        if self._queue_path is None or self._place is not None or places:
            # A second writer in this thread would wait for itself: SQLite's busy handler
            # then decides, as it did before the queue.
            return
        if self._queue_fd is None:
            self._queue_fd = os.open(self._queue_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._queue_fd, fcntl.LOCK_EX)
        self._place = places
        places.append(self)

    def leave_queue(self) -> None:
        if self._place is not None and self._queue_fd is not None:
            fcntl.flock(self._queue_fd, fcntl.LOCK_UN)
            self._place.remove(self)  # from the list of the thread that queued, whichever ends it
            self._place = None

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_queue()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_queue()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leave_queue()
            if self._queue_fd is not None:
                os.close(self._queue_fd)
                self._queue_fd = None


_thread = threading.local()


def _places_of_this_thread() -> list[QueuedWriterConnection]:
    """The connections of this thread that hold a place in a write queue."""
    places: list[QueuedWriterConnection] | None = getattr(_thread, "places", None)
    if places is None:
        places = _thread.places = []
    return places


def _sqlite_connection_class(dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
    if dialect.name == "sqlite" and dialect.driver == "pysqlite":
        cparams.setdefault("factory", QueuedWriterConnection)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers go on while a writer commits; foreign keys are off by default in SQLite.
    if isinstance(dbapi_connection, sqlite3.Connection):
        # SQLAlchemy emits BEGIN itself (below), so that a write can take its lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # A commit is written to the WAL file before COMMIT returns, so a process killed at
        # any moment loses nothing; the WAL is synced to the disk at checkpoints, not at every
        # commit (which would hold the write lock through an fsync). A power cut or an
        # operating-system crash may lose the commits since the last checkpoint, never the
        # database's consistency (docs/benchmarks.md, "RSVP POST under wrk").
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """On SQLite, a unit of work that asks for the write lock gets it at BEGIN (BEGIN IMMEDIATE),
    after the writers queued before it."""
    if connection.dialect.name != "sqlite":
        return
    if not connection.get_execution_options().get("lectern_write_lock"):
        connection.exec_driver_sql("BEGIN")
        return
    dbapi_connection = connection.connection.dbapi_connection
    queued = isinstance(dbapi_connection, QueuedWriterConnection)
    if queued:
        dbapi_connection.queue_for_write()
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        if queued:
            dbapi_connection.leave_queue()
        raise
