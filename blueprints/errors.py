"""Error pages a person can read."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def form_expired(error: CSRFError):  # type: ignore[no-untyped-def]
        # A form kept open across a browser restart, or cookies turned off: say so in words.
        return render_template("form_expired.html", error=error), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        if error.code is None or error.code < 400:
            return error
        return render_template("error.html", error=error), error.code
