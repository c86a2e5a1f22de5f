"""The write lock: how a unit of work that changes sign-ups or talks keeps others out.

On PostgreSQL a change locks the talk's row (SELECT ... FOR UPDATE). On SQLite, which has no
row locks, the unit of work takes the database's write lock at BEGIN (BEGIN IMMEDIATE): two
sign-ups then queue for it instead of both reading the same free seat; a deferred BEGIN would
upgrade later and could fail or, worse, count stale rows. `register_sqlite_hooks` installs the
engine hooks that make this so; `create_app` calls it once.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, joinedload

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


def locking_read(*criteria: ColumnElement[bool]) -> Select[tuple[Talk]]:
    """The statement that reads and locks the talk matching `criteria`, with its series and room
    (what a change to its sign-ups looks at). Build it once, with bound parameters: building
    a statement costs about as much as running it."""
    return (
        select(Talk)
        .where(*criteria)
        .options(joinedload(Talk.series, innerjoin=True), joinedload(Talk.room))
        .with_for_update(of=Talk)
        .execution_options(populate_existing=True)
    )


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
    for name, hook in (("connect", _sqlite_pragmas), ("begin", _sqlite_begin)):
        if not event.contains(Engine, name, hook):
            event.listen(Engine, name, hook)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers go on while a writer commits; foreign keys are off by default in SQLite.
    if isinstance(dbapi_connection, sqlite3.Connection):
        # SQLAlchemy emits BEGIN itself (below), so that a write can take its lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """On SQLite, a unit of work that asks for the write lock gets it at BEGIN (BEGIN IMMEDIATE)."""
    if connection.dialect.name == "sqlite":
        immediate = connection.get_execution_options().get("lectern_write_lock")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
