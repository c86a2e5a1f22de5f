"""Lectern: a site for a talk series. `create_app()` is the table of contents."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.engine import Engine

import commands
from blueprints import errors, public
from config import load_config
from extensions import db, migrate
from services.content_version import ContentVersion, bump_after_commits
from services.pagecache import PageCache

HERE = Path(__file__).resolve().parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    load_config(app, config)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(HERE / "migrations"))
    version = ContentVersion(app.config["CONTENT_VERSION_FILE"])
    app.extensions["lectern.content_version"] = version
    app.extensions["lectern.page_cache"] = PageCache(version)
    bump_after_commits(db.session, lambda: current_app.extensions["lectern.content_version"])


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(public.bp)


def register_error_handlers(app: Flask) -> None:
    errors.register(app)


def register_commands(app: Flask) -> None:
    commands.register(app)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers go on while a writer commits; foreign keys are off by default in SQLite.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


logging.getLogger("alembic").setLevel(logging.WARNING)
