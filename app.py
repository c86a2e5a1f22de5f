"""Lectern: a site for a talk series. `create_app()` is the table of contents."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import redis
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from werkzeug.middleware.proxy_fix import ProxyFix

import commands
import jobs
from adapters.identity import OIDCProvider
from adapters.mail import ConsoleMailer, Mailer, MemoryMailer, SMTPMailer
from adapters.meetings import build_meeting_provider
from adapters.ratelimits import LocalMemoryStorage
from blueprints import auth, chats, errors, guards, health, limits, organize, public, rsvp, speakers, webhooks
from blueprints.cached_pages import CachedPagesMiddleware
from blueprints.sessions import SessionInterface
from blueprints.site_address import SiteAddressMiddleware
from config import load_config
from extensions import csrf, db, migrate, talisman
from services import locks
from services.content_version import ContentVersion, RedisContentVersion, Version, bump_after_commits
from services.pagecache import PageCache, release_fingerprint

HERE = Path(__file__).resolve().parent
LOCAL_LIMITS = f"{LocalMemoryStorage.STORAGE_SCHEME[0]}://"
# Seconds a request waits for Redis (content version, rate limits) before going on without it.
REDIS_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def create_app(config: dict[str, Any] | None = None, *, instance_path: str | None = None) -> Flask:
    """The web server, each `flask` command and the job consumer (consumer.py) all start here."""
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    load_config(app, config)
    register_proxy(app)
    register_extensions(app)
    register_security(app)
    register_identity(app)
    register_mail(app)
    register_meetings(app)
    register_jobs(app)
    register_limits(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    register_page_cache(app)
    register_site_address(app)
    return app


def _set_synchronous_commit(value: str, dbapi_connection: Any, _record: Any) -> None:
    """Each new PostgreSQL connection commits as DATABASE_SYNCHRONOUS_COMMIT says (a value from
    config.SYNCHRONOUS_COMMIT): set once per connection, not per transaction, and without
    touching libpq's `options`, which the database URL or PGOPTIONS may carry."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SELECT set_config('synchronous_commit', %s, false)", (value,))
    dbapi_connection.commit()


def register_proxy(app: Flask) -> None:
    """Behind N reverse proxies, trust their X-Forwarded-For header: the client's address.

    The per-address rate limit needs the real client address, not the proxy's. Nothing else a
    proxy forwards is read: the scheme, host and prefix come from SITE_URL (register_site_address).
    """
    hops = int(app.config["PROXY_HOPS"])
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=0, x_host=0, x_port=0, x_prefix=0)  # type: ignore[method-assign]


def register_extensions(app: Flask) -> None:
    locks.register_sqlite_hooks()  # SQLite: WAL, foreign keys, and BEGIN IMMEDIATE for writes
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            setting = functools.partial(_set_synchronous_commit, app.config["DATABASE_SYNCHRONOUS_COMMIT"])
            event.listen(db.engine, "connect", setting)
    migrate.init_app(app, db, directory=str(HERE / "migrations"), render_as_batch=True)
    version: Version
    if app.config["REDIS_URL"]:
        # Several hosts: the version lives where they all can see it.
        version = RedisContentVersion(redis.Redis.from_url(app.config["REDIS_URL"], **REDIS_TIMEOUTS))
    else:
        version = ContentVersion(app.config["CONTENT_VERSION_FILE"])
    app.extensions["lectern.content_version"] = version
    # A change made while Redis was down bumps the counter at this process's next request.
    app.before_request(version.settle)
    app.extensions["lectern.page_cache"] = PageCache(version, release=release_fingerprint(HERE))
    bump_after_commits(db.session, lambda: current_app.extensions["lectern.content_version"])


CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    # Imported posts may show images from the group's old site.
    "img-src": ["'self'", "https:", "data:"],
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def register_security(app: Flask) -> None:
    guards.register(app)  # first: control characters are refused before anything reads the request
    app.session_interface = SessionInterface()
    csrf.init_app(app)
    https = app.config["SITE_URL"].startswith("https://")
    talisman.init_app(
        app,
        force_https=False,  # a proxy in front terminates TLS; it redirects http itself
        strict_transport_security=https,
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
    )


def register_identity(app: Flask) -> None:
    """The organizers' login provider, when one is configured."""
    if app.config["OIDC_METADATA_URL"]:
        app.extensions["lectern.identity"] = OIDCProvider(
            app,
            metadata_url=app.config["OIDC_METADATA_URL"],
            client_id=app.config["OIDC_CLIENT_ID"],
            client_secret=app.config["OIDC_CLIENT_SECRET"],
            timeout=app.config["OIDC_TIMEOUT"],
        )
    else:
        app.extensions["lectern.identity"] = None


def register_mail(app: Flask) -> None:
    backend = app.config["MAIL_BACKEND"]
    mailer: Mailer
    if backend == "smtp":
        mailer = SMTPMailer(
            app.config["SMTP_HOST"],
            int(app.config["SMTP_PORT"]),
            username=app.config["SMTP_USERNAME"],
            password=app.config["SMTP_PASSWORD"],
            starttls=bool(app.config["SMTP_STARTTLS"]),
            use_ssl=bool(app.config["SMTP_SSL"]),
            timeout=float(app.config["SMTP_TIMEOUT"]),
        )
    elif backend == "memory":
        mailer = MemoryMailer()
    else:
        mailer = ConsoleMailer()
    app.extensions["lectern.mailer"] = mailer


def register_meetings(app: Flask) -> None:
    """The meeting provider that MEETING_PROVIDER names (Zoom, the fake), or None: pasted links only."""
    app.extensions["lectern.meetings"] = build_meeting_provider(app.config)


def register_jobs(app: Flask) -> None:
    """This app's job queue (jobs.AppQueue), from its own configuration: Redis, SQLite, or run at once."""
    app.extensions["lectern.queue"] = jobs.AppQueue(app)


def register_limits(app: Flask) -> None:
    """The sign-up forms' rate limits (blueprints/limits.py): in Redis, or in each process's memory."""
    # Without Redis, each process counts in its own memory (adapters/ratelimits.py).
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or LOCAL_LIMITS)
    if app.config["REDIS_URL"]:
        # A Redis that is down costs a request at most this long; the limits then count in memory.
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", dict(REDIS_TIMEOUTS))
    limits.register(app, app.config["RATELIMIT_STORAGE_URI"], app.config.get("RATELIMIT_STORAGE_OPTIONS") or {})


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(public.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(organize.bp)
    app.register_blueprint(rsvp.bp)
    app.register_blueprint(chats.bp)
    app.register_blueprint(speakers.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)


def register_error_handlers(app: Flask) -> None:
    errors.register(app)


def register_commands(app: Flask) -> None:
    commands.register(app)


def register_page_cache(app: Flask) -> None:
    """Unchanged talk pages are answered from memory before Flask dispatches (blueprints/cached_pages.py)."""
    app.wsgi_app = CachedPagesMiddleware(app.wsgi_app, app.extensions["lectern.page_cache"])  # type: ignore[method-assign]


def register_site_address(app: Flask) -> None:
    """Outermost: every request is seen as sent to SITE_URL (blueprints/site_address.py)."""
    app.wsgi_app = SiteAddressMiddleware(app.wsgi_app, app.config["SITE_URL"])  # type: ignore[method-assign]


@event.listens_for(Engine, "handle_error")
def _no_values_in_database_errors(context: ExceptionContext) -> None:
    """A database error names what failed, never the values involved.

    hide_parameters keeps a query's values out of the error, but PostgreSQL repeats values in
    its own DETAIL and CONTEXT lines ("Key (talk_id, email)=(3, ada@example.org) already
    exists", "Failing row contains (...)"), which would reach the log with the error. Only the
    primary message and the constraint's name are kept.
    """
    original = context.original_exception
    diag = getattr(original, "diag", None)
    if diag is None or not (diag.message_detail or diag.context or diag.message_hint):
        return
    message = diag.message_primary or type(original).__name__
    if diag.constraint_name:
        message += f" (constraint {diag.constraint_name})"
    original.args = (message,)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None:
        wrapped.args = (f"({type(original).__module__}.{type(original).__name__}) {message}",)


logging.getLogger("alembic").setLevel(logging.WARNING)
