"""Error pages a person can read."""

from __future__ import annotations

import logging
import re

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

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
