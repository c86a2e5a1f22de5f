"""Loading configuration: built-in defaults, then instance/config.py, then LECTERN_* variables."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask

import defaults
from adapters import meetings
from services import addresses

log = logging.getLogger(__name__)


def load_config(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    app.config.from_object(defaults)
    app.config.from_pyfile("config.py", silent=True)
    # Values are parsed as JSON when they look like it ("60", "true"), else kept as strings.
    app.config.from_prefixed_env(prefix="LECTERN")
    _keep_as_typed(app, TEXT_SETTINGS)
    if overrides:
        app.config.update(overrides)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'lectern.db'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    if not app.config.get("JOBS_DB"):
        app.config["JOBS_DB"] = str(instance / "jobs.db")
    app.config["SITE_URL"] = site_url(app.config["SITE_URL"])
    # Merged, not replaced: an instance adding a pool size keeps parameters hidden from logs.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **defaults.SQLALCHEMY_ENGINE_OPTIONS,
        **(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}),
    }
    app.config["DATABASE_SYNCHRONOUS_COMMIT"] = synchronous_commit(app.config["DATABASE_SYNCHRONOUS_COMMIT"])
    app.config.setdefault("CONTENT_VERSION_FILE", str(instance / "content-version"))
    if not app.config.get("MAIL_BACKEND"):
        app.config["MAIL_BACKEND"] = "console" if app.config["ENV"] == "development" else "smtp"
    if not app.config.get("MEETING_PROVIDER"):
        app.config["MEETING_PROVIDER"] = meetings.default_provider_name(app.config)
    # Cookies marked Secure wherever the site is served over https (a laptop's http://127.0.0.1 is
    # not), unless a configuration says otherwise. (Flask defines this key itself, as False, so
    # "not configured" is None in defaults.py, never a missing key.)
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = app.config["SITE_URL"].startswith("https://")
    app.config["SERIES_CONTACT_EMAIL"] = _contact_address(app.config["SERIES_CONTACT_EMAIL"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = shared_secret_key(instance / "secret_key")


# Identifiers and secrets read from LECTERN_* variables as typed: from_prefixed_env parses a value that
# looks like JSON, so a client id of digits would become a number and a secret such as "12e45678"
# a float (infinity).
TEXT_SETTINGS = (
    "ZOOM_ACCOUNT_ID",
    "ZOOM_CLIENT_ID",
    "ZOOM_CLIENT_SECRET",
    "ZOOM_HOST_USER",
    "ZOOM_WEBHOOK_SECRET",
)


SYNCHRONOUS_COMMIT = ("on", "off", "local", "remote_write", "remote_apply")


def synchronous_commit(setting: Any) -> str:
    """DATABASE_SYNCHRONOUS_COMMIT as PostgreSQL takes it, or a clear error at start."""
    value = {True: "on", False: "off"}[setting] if isinstance(setting, bool) else setting
    if not isinstance(value, str) or value.strip().lower() not in SYNCHRONOUS_COMMIT:
        raise ValueError(f"DATABASE_SYNCHRONOUS_COMMIT must be one of {', '.join(SYNCHRONOUS_COMMIT)}, not {setting!r}")
    return value.strip().lower()


def _keep_as_typed(app: Flask, names: tuple[str, ...]) -> None:
    for name in names:
        value = os.environ.get(f"LECTERN_{name}")
        if value is not None:
            app.config[name] = value


def site_url(text: str) -> str:
    """SITE_URL with its scheme and host in lower case (as every check of it expects), or a clear error."""
    parts = urlsplit(text.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise RuntimeError(
            f"SITE_URL {text!r} must be an http:// or https:// address, such as https://talks.example.edu/"
        )
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))


def _contact_address(text: str) -> str:
    """The configured contact address (it seeds a new series) in the form mail servers take.

    One the checks refuse (a special-use domain such as .test or localhost, on a test machine)
    is kept as typed, with a warning: it may be all a closed network has.
    """
    if not text:
        return ""
    try:
        return addresses.deliverable(text)
    except addresses.AddressError as error:
        log.warning("SERIES_CONTACT_EMAIL %r may not receive email: %s", text, error)
        return addresses.as_key(text)


def shared_secret_key(path: Path) -> str:
    """Read the instance's secret key, creating it once.

    Several workers may start at the same moment: each writes a candidate to a temporary
    file and tries to link it into place; link() fails when the key already exists, so
    exactly one candidate wins and every worker then reads that one.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        os.chmod(tmp, 0o600)
        with contextlib.suppress(FileExistsError):  # another worker won: use its key
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return _read_key(path)


def _read_key(path: Path) -> str:
    key = path.read_text().strip()
    if not key:
        raise FileNotFoundError(path)
    return key
