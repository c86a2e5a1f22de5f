"""How Lectern's connections to PostgreSQL are set up: whether a COMMIT waits for the disk."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import consumer
from app import create_app
from extensions import db
from tests.concurrency import live
from tests.conftest import skip_or_fail


def _connection_settings(tmp_path: Path, **settings: object) -> tuple[str, str]:
    """synchronous_commit and application_name as a connection of the app's has them."""
    reason = live.postgres_unreachable()
    if reason:
        skip_or_fail(reason)
    with live.throwaway_postgres() as url:
        config = {"TESTING": True, "SECRET_KEY": "test", "MAIL_BACKEND": "memory", **settings}
        config["DATABASE_URL"] = str(config.get("DATABASE_URL", "{url}")).format(url=url)
        app = create_app({**config, "CONTENT_VERSION_FILE": str(tmp_path / "content-version")})
        try:
            with app.app_context():
                row = db.session.execute(
                    sa.text("SELECT current_setting('synchronous_commit'), current_setting('application_name')")
                )
                synchronous, name = row.one()
                return synchronous, name
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def test_a_commit_does_not_wait_for_the_disk_unless_configured_to(tmp_path: Path) -> None:
    assert _connection_settings(tmp_path)[0] == "off"
    assert _connection_settings(tmp_path, DATABASE_SYNCHRONOUS_COMMIT="on")[0] == "on"
    assert _connection_settings(tmp_path, DATABASE_SYNCHRONOUS_COMMIT=True)[0] == "on"


def test_an_instance_s_own_connection_options_are_kept(tmp_path: Path) -> None:
    options = {"connect_args": {"options": "-c application_name=lectern-web"}}
    assert _connection_settings(tmp_path, SQLALCHEMY_ENGINE_OPTIONS=options) == ("off", "lectern-web")
    in_the_url = {"DATABASE_URL": "{url}?application_name=from-the-url"}
    assert _connection_settings(tmp_path, **in_the_url) == ("off", "from-the-url")


def test_the_job_consumer_waits_for_the_disk_whatever_the_web_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery commits its claim before it sends: with the consumer's COMMITs flushed, no email
    goes out about a sign-up that a crash of the database could still lose."""
    reason = live.postgres_unreachable()
    if reason:
        skip_or_fail(reason)
    with live.throwaway_postgres() as url:
        monkeypatch.setenv("LECTERN_DATABASE_URL", url)
        monkeypatch.setenv("LECTERN_DATABASE_SYNCHRONOUS_COMMIT", "off")
        monkeypatch.setenv("LECTERN_SECRET_KEY", "test")
        app = consumer.make_queue(str(tmp_path / "instance")).app
        try:
            with app.app_context():
                assert db.session.scalar(sa.text("SELECT current_setting('synchronous_commit')")) == "on"
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def test_a_wrong_value_is_refused_at_start_with_what_it_may_be(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DATABASE_SYNCHRONOUS_COMMIT must be one of on, off"):
        create_app({"TESTING": True, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none",
                    "DATABASE_SYNCHRONOUS_COMMIT": "sometimes", "SECRET_KEY": "test"})  # fmt: skip
