"""The baseline for bench/talk_page.py: a bare Flask app that serves fixed bytes at one path.

It does the least a Flask view can do (route, build a response) and nothing Lectern does on top
(configuration, extensions, page cache lookup, ETag, Cache-Control, conditional requests), so
Lectern's requests per second divided by this app's says what Lectern's own work costs.

Configured by environment variables, set by bench/talk_page.py:

    BENCH_BODY_FILE      file whose bytes are the response body (required)
    BENCH_PATH           the path to serve them at (required), e.g. /talks/what-quiet-benchmarks-hide
    BENCH_CONTENT_TYPE   the Content-Type header (default text/html; charset=utf-8)
    BENCH_REDIRECT_TO    if set, POST to the same path answers 303 to this location (set by
                         bench/rsvp_burst.py: the baseline for a form that redirects when done)

The benchmarks serve it as they serve Lectern, with tests/concurrency/live.py's gunicorn()
(`cwd=bench`): the same gunicorn settings, its own process group, stopped with the run. By hand:
`gunicorn -w 2 -b 127.0.0.1:PORT --chdir bench 'bare_app:create_app()'`.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, redirect


def create_app() -> Flask:
    body = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
    path = os.environ["BENCH_PATH"]
    content_type = os.environ.get("BENCH_CONTENT_TYPE", "text/html; charset=utf-8")

    app = Flask(__name__)

    def page() -> Response:
        return Response(body, content_type=content_type)

    app.add_url_rule(path, "page", page, methods=["GET"])
    if redirect_to := os.environ.get("BENCH_REDIRECT_TO"):

        def submitted() -> Response:
            return redirect(redirect_to, 303)

        app.add_url_rule(path, "submitted", submitted, methods=["POST"])
    return app
