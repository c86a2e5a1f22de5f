"""Error pages a person can read."""

from __future__ import annotations

import logging
import re
import sqlite3

from flask import Flask, make_response, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from extensions import db

log = logging.getLogger(__name__)
# A visitor who meets the outage is told when to come back (seconds): a restart takes about that long.
RETRY_AFTER = 60

# A manage link's token is as good as a password for that sign-up; a speaker's, for their schedule.
MANAGE_LINK = re.compile(r"/rsvp/[^/\s\]]+")
SPEAKER_LINK = re.compile(r"/chats/speaker/[^/\s\]]+")


class HideManageLinks(logging.Filter):
    """Flask logs the path of a request that failed ("Exception on /rsvp/<token>/cancel"):
    the token is left out, so the log never lets anyone act on an attendee's sign-up (nor read
    a speaker's schedule)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = SPEAKER_LINK.sub("/chats/speaker/<token>", MANAGE_LINK.sub("/rsvp/<token>", record.msg))
        return True


def register(app: Flask) -> None:
    app.logger.addFilter(HideManageLinks())

    @app.errorhandler(CSRFError)
    def form_expired(error: CSRFError):  # type: ignore[no-untyped-def]
        # A form kept open across a browser restart, or cookies turned off: say so in words.
        return render_template("form_expired.html", error=error), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        if error.code is None or error.code < 400:
            return error
        return render_template("error.html", error=error), error.code

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(DBAPIError)
    def database_error(error: Exception):  # type: ignore[no-untyped-def]
        # Refused or lost connections (a restart), a pool out of connections: the database, not
        # Lectern. Any other database error is a bug: the usual 500, with its trace in the log.
        if unreachable(error):
            return _database_unreachable(error)
        raise error


# PostgreSQL's answers that mean "not now" rather than "not so": a connection exception (class
# 08), the server shutting down or starting (57P01 to 57P03), too many connections (53300).
UNREACHABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")
# SQLite's: another writer holds the file longer than the busy time-out, the file is out of reach.
UNREACHABLE_SQLITE = ("database is locked", "unable to open database file")


def unreachable(error: Exception) -> bool:
    """Whether a database error means the database cannot be reached (try again later), as
    opposed to a bug (a deadlock, a missing table after a forgotten migration: a 500)."""
    if isinstance(error, PoolTimeout) or getattr(error, "connection_invalidated", False):
        return True
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    original = getattr(error, "orig", None)
    if isinstance(original, sqlite3.Error):
        return any(phrase in str(original).lower() for phrase in UNREACHABLE_SQLITE)
    state = getattr(original, "sqlstate", None)
    if state:
        return state.startswith(UNREACHABLE_STATES)
    return True  # no answer from the server at all: refused, lost, timed out


def _database_unreachable(error: Exception):  # type: ignore[no-untyped-def]
    """The database is down, restarting or out of connections: a page that says so, not a 500.

    The unit of work is rolled back, so whatever the request had written is undone as a whole.
    """
    log.warning("database unreachable: %s", str(error).splitlines()[0] if str(error) else type(error).__name__)
    try:
        db.session.rollback()
    except Exception:  # the connection is gone already: nothing was committed
        log.debug("rollback after a lost connection failed", exc_info=True)
    page = ServiceUnavailable("The site cannot reach its database; try again in a minute.")
    response = make_response(render_template("error.html", error=page), 503)
    response.headers["Retry-After"] = str(RETRY_AFTER)
    response.headers["Cache-Control"] = "no-store"
    return response
