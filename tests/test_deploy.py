"""The deployment shipped in deploy/ loads: nginx takes the site file, gunicorn its configuration,
systemd the units. What they do with real traffic is tested in tests/live/test_proxy.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from gunicorn.app.base import Application

from tests.concurrency import live
from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = ("lectern-web.service", "lectern-jobs.service")


def test_nginx_takes_the_shipped_site_file(tmp_path: Path) -> None:
    reason = live.nginx_unavailable()
    if reason:
        skip_or_fail(reason)
    conf = live.nginx_conf(tmp_path, live.render_site(tmp_path, upstreams=["127.0.0.1:9"], port=live.free_port()))
    checked = live.nginx_test(conf)
    assert checked.returncode == 0, checked.stderr
    broken = live.nginx_conf(tmp_path, live.render_site(tmp_path, upstreams=[], port=live.free_port()))
    assert live.nginx_test(broken).returncode != 0, "nginx -t refuses a site without an app host"


class ShippedConfig(Application):
    """gunicorn's own loader, reading deploy/gunicorn.conf.py as `gunicorn -c` does."""

    def load_config(self) -> None:
        self.load_config_from_file(str(DEPLOY / "gunicorn.conf.py"))

    def init(self, parser: Any, opts: Any, args: Any) -> None:
        return None

    def load(self) -> Any:
        raise AssertionError("the application is not loaded here")


def test_gunicorn_takes_the_shipped_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUNICORN_BIND", "10.0.0.11:8000")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.delenv("GUNICORN_ACCESS_LOG", raising=False)
    cfg = ShippedConfig().cfg
    assert cfg.bind == ["10.0.0.11:8000"]
    assert cfg.workers == 3
    assert cfg.worker_class_str == "sync"
    assert cfg.graceful_timeout < cfg.timeout + 15
    assert cfg.accesslog is None, "nginx keeps the access log unless GUNICORN_ACCESS_LOG says otherwise"
    assert cfg.logger_class.__name__ == "TokenHidingLogger"


def test_gunicorns_access_log_hides_manage_tokens(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    monkeypatch.setenv("GUNICORN_ACCESS_LOG", str(log))
    cfg = ShippedConfig().cfg
    logger = cfg.logger_class(cfg)

    class Request:
        method, path, query, uri, version = "GET", "", "", "", (1, 1)
        headers = (("REFERER", "https://talks.example.edu/rsvp/SECRET-A"),)

    class Response:
        status, status_code, response_length, sent = "200 OK", 200, 10, 10
        headers = ()

    for path in ("/rsvp/SECRET-A", "/rsvp/SECRET-B/chat/cancel", "/chats/speaker/SECRET-C", "/talks/x"):
        Request.path = Request.uri = path
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "RAW_URI": path, "SERVER_PROTOCOL": "HTTP/1.1"}
        logger.access(Response(), Request(), environ, timedelta(milliseconds=3))
    for handler in logger.access_log.handlers:
        handler.flush()
    text = log.read_text()
    assert "SECRET" not in text
    assert "/rsvp/<token>/chat/cancel" in text and "/chats/speaker/<token>" in text and "/talks/x" in text


def unit_for_this_machine(name: str, folder: Path) -> Path:
    """A shipped unit with this checkout and its Python in place of /srv/lectern (systemd checks the programs exist)."""
    venv_bin = Path(sys.executable).parent
    text = (DEPLOY / "systemd" / name).read_text()
    text = text.replace("/srv/lectern/.venv/bin", str(venv_bin)).replace("/srv/lectern", str(ROOT))
    text = text.replace("/etc/lectern/lectern.env", str(folder / "lectern.env"))
    text = text.replace("User=lectern", "User=root").replace("Group=lectern", "Group=root")
    (folder / "lectern.env").write_text("LECTERN_SITE_URL=https://talks.example.edu\n")
    unit = folder / name
    unit.write_text(text)
    return unit


@pytest.mark.parametrize("name", UNITS)
def test_systemd_takes_the_units(name: str, tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        skip_or_fail("systemd-analyze is not installed (Debian: systemd)")
    unit = unit_for_this_machine(name, tmp_path)
    checked = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in checked.stderr.splitlines() if name in line]
    assert checked.returncode == 0 and complaints == [], checked.stderr
