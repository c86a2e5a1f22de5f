"""The application factory and its configuration."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from app import create_app
from config import shared_secret_key
from extensions import db


def _read_key(path: str, queue: multiprocessing.Queue) -> None:
    queue.put(shared_secret_key(Path(path)))


def test_workers_starting_together_share_one_secret_key(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    queue: multiprocessing.Queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_read_key, args=(str(key_file), queue)) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    keys = {queue.get(timeout=5) for _ in workers}
    assert len(keys) == 1
    assert keys == {key_file.read_text().strip()}
    assert len(keys.pop()) >= 32
    assert key_file.stat().st_mode & 0o077 == 0, "the key must not be readable by others"


def test_environment_overrides_defaults(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LECTERN_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("LECTERN_SERIES_DEFAULT_MINUTES", "90")
    monkeypatch.setenv("LECTERN_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["SERIES_DEFAULT_MINUTES"] == 90
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("x.db")


def test_behind_a_proxy_the_client_address_is_the_forwarded_one(tmp_path: Path) -> None:
    from flask import request

    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "x", "PROXY_HOPS": 1, "TESTING": True}
    )

    @app.get("/whoami")
    def whoami() -> str:
        return request.remote_addr or ""

    seen = app.test_client().get(
        "/whoami", headers={"X-Forwarded-For": "203.0.113.9"}, environ_base={"REMOTE_ADDR": "10.0.0.1"}
    )
    assert seen.get_data(as_text=True) == "203.0.113.9"
    direct = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'y.db'}", "SECRET_KEY": "x", "TESTING": True})
    direct.add_url_rule("/whoami", view_func=whoami)
    seen = direct.test_client().get(
        "/whoami", headers={"X-Forwarded-For": "203.0.113.9"}, environ_base={"REMOTE_ADDR": "10.0.0.1"}
    )
    assert seen.get_data(as_text=True) == "10.0.0.1", "without a configured proxy the header is not trusted"


def test_database_errors_hide_query_values_even_when_an_instance_adds_engine_options(
    monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LECTERN_SQLALCHEMY_ENGINE_OPTIONS", '{"pool_pre_ping": true}')
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "k"})
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {"hide_parameters": True, "pool_pre_ping": True}
    with app.app_context():
        assert db.engine.hide_parameters
        db.engine.dispose()


def test_the_session_cookie_is_secure_exactly_when_the_site_is_https(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def secure(**config: object) -> bool:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "k", **config})
        return app.config["SESSION_COOKIE_SECURE"]

    assert secure(SITE_URL="https://talks.example.edu") is True
    assert secure(SITE_URL="HTTPS://Talks.Example.edu/") is True, "whatever the case of the scheme"
    assert secure(SITE_URL="http://127.0.0.1:5000") is False
    assert secure(SITE_URL="https://talks.example.edu", SESSION_COOKIE_SECURE=False) is False, "a setting wins"
    monkeypatch.setenv("LECTERN_SESSION_COOKIE_SECURE", "false")
    assert secure(SITE_URL="https://talks.example.edu") is False, "so does the environment"
