"""nginx with the shipped site file (deploy/nginx/lectern.conf) in front of gunicorn with the shipped
configuration (deploy/gunicorn.conf.py), on 127.0.0.1: what a visitor and an operator notice.

Servers come from tests/concurrency/live.py. A missing nginx skips, or fails under CI=true.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from tests.concurrency import live
from tests.conftest import skip_or_fail

SLUG = live.TALK_SLUG
TALK = f"/talks/{SLUG}"
SHARED = ["/", TALK, "/semesters", "/calendar.ics", f"{TALK}.ics", "/feed.atom"]


@dataclass
class Site:
    app: live.Server
    proxy: live.Proxy
    folder: Path
    env: dict[str, str]

    def get(self, path: str, **kwargs: object) -> requests.Response:
        with requests.Session() as http:
            http.trust_env = False
            return http.get(self.proxy.url(path), allow_redirects=False, timeout=60, **kwargs)  # type: ignore[arg-type]

    def upstream_requests(self, path: str) -> int:
        """How many GETs of `path` reached gunicorn (its access log, as deploy/gunicorn.conf.py writes it)."""
        assert self.app.access_log is not None
        return sum(f'"GET {path}"' in line for line in self.app.access_log.read_text().splitlines())


def wait_for(condition: object, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return bool(condition())  # type: ignore[operator]


def start_site(stack: ExitStack, folder: Path, **settings: str) -> Site:
    reason = live.nginx_unavailable()
    if reason:
        skip_or_fail(reason)
    env = {**live.lectern_env(folder, live.sqlite_url(folder)), "LECTERN_PROXY_HOPS": "1", **settings}
    live.prepare_instance(env)
    app = stack.enter_context(live.gunicorn("app:create_app()", env, folder, ready_path=TALK, shipped_config=True))
    port = live.free_port()
    conf = live.nginx_conf(folder, live.render_site(folder, upstreams=[f"127.0.0.1:{app.port}"], port=port))
    proxy = stack.enter_context(live.nginx(conf, port))
    return Site(app=app, proxy=proxy, folder=folder, env=env)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with ExitStack() as stack:
        found = start_site(stack, tmp_path_factory.mktemp("proxy"))
        yield found
        assert found.app.server_errors() == [], found.app.log_tail()


def test_public_pages_are_answered_by_the_proxy_after_the_first_visit(site: Site) -> None:
    reached: dict[str, int] = {}
    for path in SHARED:
        before = site.upstream_requests(path)
        first = site.get(path)
        assert first.status_code == 200, path
        assert "Set-Cookie" not in first.headers, path
        assert wait_for(lambda p=path, n=before: site.upstream_requests(p) == n + 1), f"{path} went to Lectern"
        reached[path] = before + 1
        again = [site.get(path) for _ in range(3)]
        assert [r.headers.get("X-Cache-Status") for r in again] == ["HIT"] * 3, path
        assert all(r.content == first.content for r in again), path
        with_query = site.get(path, params={"utm_source": "newsletter"})
        assert with_query.headers.get("X-Cache-Status") == "HIT", f"{path}: a query string does not bypass the cache"
    # A request that always reaches Lectern, logged after the others.
    checks = site.upstream_requests("/healthz")
    assert site.get("/healthz").status_code == 200
    assert wait_for(lambda: site.upstream_requests("/healthz") == checks + 1)
    for path in SHARED:
        assert site.upstream_requests(path) == reached[path], f"{path}: the later visits never reached Lectern"


def test_pages_for_one_visitor_are_never_kept(site: Site) -> None:
    for path in ("/healthz", f"{TALK}/rsvp"):
        site.get(path)
        assert "X-Cache-Status" not in site.get(path).headers, path
    assert site.get("/healthz").headers["Cache-Control"] == "no-store"


def test_public_pages_say_how_long_the_proxy_may_keep_them(site: Site) -> None:
    for path in SHARED:
        cache_control = site.get(path).headers["Cache-Control"]
        assert "public" in cache_control and "max-age=" in cache_control, path
        max_age = int(cache_control.split("max-age=")[1].split(",")[0])
        assert 0 < max_age <= 60, f"{path}: an organizer's change reaches readers within PUBLIC_PAGE_MAX_AGE"


class Recorder:
    """An upstream that writes down every request it gets, head and all, and answers 200."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.heads: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.heads.append(data.decode("latin-1"))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def close(self) -> None:
        self.sock.close()


def test_a_header_with_an_underscore_never_reaches_the_app(tmp_path: Path) -> None:
    reason = live.nginx_unavailable()
    if reason:
        skip_or_fail(reason)
    recorder = Recorder()
    try:
        port = live.free_port()
        conf = live.nginx_conf(
            tmp_path, live.render_site(tmp_path, upstreams=[f"127.0.0.1:{recorder.port}"], port=port)
        )
        with live.nginx(conf, port) as proxy, requests.Session() as http:
            http.trust_env = False
            headers = {"X_Forwarded_For": "203.0.113.9", "X_Lectern_Probe": "underscore", "X-Lectern-Probe": "hyphen"}
            assert http.get(proxy.url("/organize/"), headers=headers, timeout=30).status_code == 200
    finally:
        recorder.close()
    assert len(recorder.heads) == 1
    head = recorder.heads[0].lower()
    assert "x-lectern-probe: hyphen" in head, "headers with hyphens go through"
    assert "underscore" not in head and "x_forwarded_for" not in head and "203.0.113.9" not in head
    assert "x-forwarded-for: 127.0.0.1" in head, "the proxy says who the client is"


def test_no_manage_token_reaches_an_access_log(site: Site) -> None:
    attendee = live.manage_path(live.SECRET_KEY, 1, 1, "a" * 32)  # /rsvp/<signed token>
    token = attendee.rsplit("/", 1)[1]
    speaker = "/chats/speaker/" + token
    login_code = "one-time-code-from-the-provider"
    for path in (attendee, speaker, f"{attendee}/chat", f"/auth/callback?code={login_code}&state=s"):
        site.get(path, headers={"Referer": site.proxy.url(attendee)})
    checks = site.upstream_requests("/healthz")
    site.get("/healthz")
    assert wait_for(lambda: site.upstream_requests("/healthz") == checks + 1)
    nginx_log = site.proxy.access_log.read_text()
    assert "/rsvp/<token>" in nginx_log and "/chats/speaker/<token>" in nginx_log and "/rsvp/<token>/chat" in nginx_log
    assert token not in nginx_log
    assert "/auth/callback" in nginx_log and login_code not in nginx_log, "no query string in the log"
    assert site.app.access_log is not None
    app_log = site.app.access_log.read_text()
    assert "/rsvp/<token>" in app_log
    assert token not in app_log


def test_an_organizers_change_reaches_readers_within_the_max_age(tmp_path: Path) -> None:
    with ExitStack() as stack:
        site = start_site(stack, tmp_path, LECTERN_PUBLIC_PAGE_MAX_AGE="2")
        for path in ("/", TALK):
            assert "max-age=2" in site.get(path).headers["Cache-Control"], path
            assert site.get(path).headers["X-Cache-Status"] in ("HIT", "UPDATING", "EXPIRED", "REVALIDATED"), path

        from app import create_app
        from extensions import db
        from models import Talk

        organizer_app = create_app(
            {
                "DATABASE_URL": site.env["LECTERN_DATABASE_URL"],
                "CONTENT_VERSION_FILE": site.env["LECTERN_CONTENT_VERSION_FILE"],
                "JOBS_DB": site.env["LECTERN_JOBS_DB"],
                "SECRET_KEY": live.SECRET_KEY,
                "MAIL_BACKEND": "memory",
            },
            instance_path=str(tmp_path / "organizer-instance"),
        )
        with organizer_app.app_context():
            db.session.scalars(select(Talk).where(Talk.slug == SLUG)).one().title = "Benchmarks Told Plainly"
            db.session.commit()
            db.engine.dispose()

        for path in ("/", TALK):
            assert wait_for(lambda p=path: "Benchmarks Told Plainly" in site.get(p).text), (
                f"{path}: the change reached readers through the proxy"
            )
        assert site.get(TALK).content == requests.get(site.app.url(TALK), timeout=30).content
