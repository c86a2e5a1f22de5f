"""`/healthz`: whether this web server can reach its database and its job queue, for the proxy and monitoring.

It reads and never writes: a `SELECT 1` on the database; on the queue a Redis PING, or a read
of the SQLite queue file. 200 when both answer; 503 naming the part that does not, by the kind
of error only (an error's text may hold an address or a user name). Never cached, no cookie.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import redis
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from extensions import db

bp = Blueprint("health", __name__)
# Seconds to wait for an answer: a health check that hangs tells the proxy nothing.
TIMEOUT = 3


def database_problem() -> str | None:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure to answer is the database being down for this server
        return type(error).__name__
    return None


def queue_problem() -> str | None:
    config = current_app.config
    if config["JOBS_IMMEDIATE"]:
        return None  # jobs run inside the request: there is no queue to reach
    if config["REDIS_URL"]:
        try:
            client = redis.Redis.from_url(config["REDIS_URL"], socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
            with client:
                client.ping()
        except redis.RedisError as error:
            return type(error).__name__
        return None
    path = Path(config["JOBS_DB"])
    if not path.is_file():
        return "FileNotFoundError"
    try:
        # Read-only: opening it this way can neither create nor change the file.
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=TIMEOUT) as connection:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as error:
        return type(error).__name__
    return None


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    problems = {
        part: problem for part, problem in (("database", database_problem()), ("queue", queue_problem())) if problem
    }
    body: dict[str, Any] = {
        "status": "down" if problems else "ok",
        "database": "down: " + problems["database"] if "database" in problems else "ok",
        "queue": "down: " + problems["queue"] if "queue" in problems else "ok",
    }
    response = jsonify(body)
    response.status_code = 503 if problems else 200
    response.headers["Cache-Control"] = "no-store"
    return response
