"""Lectern served for real: a throwaway instance, gunicorn in its own process group, RSVP clients.

The one place that starts and stops servers for tests/concurrency/, tests/live/ and bench/
(talk_page.py, rsvp_burst.py, and bench/bare_app.py served beside Lectern). It imports neither
pytest nor the app, so the server runs exactly as in production (its own processes,
configuration from LECTERN_* variables, CSRF and rate limits on), and the benchmarks can use it.

Every server runs in a process group of its own and `gunicorn()` stops the whole group when
its block ends, however it ends (an exception, Ctrl-C, or SIGTERM turned into SystemExit):
nothing it started outlives the run.

    with throwaway_postgres() as url:              # or sqlite_url(folder)
        env = lectern_env(folder, url)             # optionally redis_url=...
        prepare_instance(env)                      # migrations and demo content
        with gunicorn("app:create_app()", env, folder) as server:
            form = open_form(requests.Session(), server)
            response = form.submit(name="Ada", email="ada@example.org", mode="room")
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import requests

if TYPE_CHECKING:
    from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parents[2]
TALK_SLUG = "what-quiet-benchmarks-hide"
RSVP_PATH = f"/talks/{TALK_SLUG}/rsvp"
WORKERS = 2
START_TIMEOUT = 60.0  # generous: CI machines run other things meanwhile
# Overridable where the services live elsewhere on this machine.
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
SECRET_KEY = "live-test-secret-key-not-for-production"
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
# Each request names itself in this header; the access log writes it beside the worker's pid.
PROBE_HEADER = "X-Lectern-Probe"
ACCESS_LOG_FORMAT = '%(p)s %(s)s %(m)s %(U)s "%({x-lectern-probe}i)s"'


class LiveError(Exception):
    """The instance or the server could not be set up."""


# --- backing services ----------------------------------------------------------------------


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'lectern.db'}"  # absolute path: sqlite:////tmp/...


def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {str(error).strip()}"
    return None


def redis_unreachable() -> str | None:
    try:
        import redis
    except ImportError:
        return "the redis package is not installed"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        return f"Redis not reachable at {REDIS_URL}: {error}"
    return None


def sqlalchemy_url(libpq_url: str) -> str:
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", libpq_url)


@contextlib.contextmanager
def throwaway_postgres(prefix: str = "lectern_tmp") -> Iterator[str]:
    """A database of its own on the PostgreSQL server, dropped afterwards; yields its SQLAlchemy URL."""
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
        yield sqlalchemy_url(f"{base}/{name}")
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            # FORCE: a worker killed mid-request may leave its connection behind for a moment.
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def redis_db_url(db: int) -> str:
    return f"{REDIS_URL.rstrip('/')}/{db}"


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


# --- the instance --------------------------------------------------------------------------


def lectern_env(folder: Path, database_url: str, redis_url: str | None = None) -> dict[str, str]:
    """The environment for every Lectern process: ours, without any LECTERN_* of the caller's."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LECTERN_")}
    env.update(
        LECTERN_DATABASE_URL=database_url,
        LECTERN_CONTENT_VERSION_FILE=str(folder / "content-version"),
        LECTERN_SECRET_KEY=SECRET_KEY,
        LECTERN_MAIL_BACKEND="memory",
        LECTERN_JOBS_DB=str(folder / "jobs.db"),  # nobody consumes it: the emails just wait there
    )
    if redis_url:
        env["LECTERN_REDIS_URL"] = redis_url
    return env


# One process for both steps (each `flask` command would start the app anew).
_PREPARE = """
import flask_migrate
from app import create_app
app = create_app()
with app.app_context():
    flask_migrate.upgrade()
result = app.test_cli_runner().invoke(args=["seed-demo"])
if result.exception is not None and not isinstance(result.exception, SystemExit):
    raise result.exception
if result.exit_code:
    raise SystemExit(result.output)
"""


def prepare_instance(env: dict[str, str]) -> None:
    """Migrations (`flask db upgrade`), then the demo content (`flask seed-demo`: TALK_SLUG in Auditorium 2)."""
    done = subprocess.run(
        [sys.executable, "-c", _PREPARE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise LiveError(f"migrations or demo content failed ({done.returncode}):\n{done.stderr}{done.stdout}")


# --- gunicorn ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]  # the arbiter, leader of the group its workers are in
    log: Path
    access_log: Path | None  # None: started with access_log=False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def served_by(self, probes: Iterable[str], timeout: float = 10.0) -> dict[str, list[tuple[str, int]]]:
        """For each probe name sent in PROBE_HEADER: (worker pid, status) of each request carrying it.

        A worker writes its access-log line after sending the response: wait until every probe has one.
        """
        if self.access_log is None:
            raise LiveError(f"{self.name}: started without an access log")
        wanted = set(probes)
        deadline = time.monotonic() + timeout
        while True:
            seen: dict[str, list[tuple[str, int]]] = {}
            for line in self.access_log.read_text().splitlines():
                match = re.match(r'<?(\d+)>? (\d{3}) \S+ \S+ "(.*)"$', line)
                if match and match.group(3) not in ("", "-"):
                    seen.setdefault(match.group(3), []).append((match.group(1), int(match.group(2))))
            if wanted <= seen.keys() or time.monotonic() > deadline:
                return seen
            time.sleep(0.05)

    def server_errors(self) -> list[str]:
        """Tracebacks and worker timeouts in the error log: none may appear under load."""
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if "Traceback" in line or "WORKER TIMEOUT" in line]


def start_gunicorn(
    name: str,
    app_spec: str,
    env: dict[str, str],
    folder: Path,
    *,
    workers: int = WORKERS,
    cwd: Path = ROOT,
    access_log: bool = True,
    shipped_config: bool = False,
) -> Server:
    """gunicorn with sync workers, in its own process group so that stopping it stops the workers too.

    Its output goes to `folder/<name>.log`; with access_log, one line a request (worker pid, status,
    method, path, PROBE_HEADER) to `folder/<name>-access.log`. A benchmark turns that off: writing
    it is work the server would not do otherwise.

    With shipped_config, gunicorn reads deploy/gunicorn.conf.py as in production (its access log
    format, logger and timeouts), told the port, the workers and the access log by its variables.
    """
    port = free_port()
    log = folder / f"{name}.log"
    argv = [
        sys.executable, "-m", "gunicorn",
        "--workers", str(workers),
        "--worker-class", "sync",
        "--bind", f"127.0.0.1:{port}",
        "--graceful-timeout", "5",
        "--no-control-socket",  # gunicorn 27's default socket is one path per user: servers would clash
    ]  # fmt: skip
    access = folder / f"{name}-access.log" if access_log else None
    if shipped_config:
        argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--no-control-socket"]
        env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers)}
        env["GUNICORN_ACCESS_LOG"] = str(access) if access is not None else ""
    elif access is not None:
        argv += ["--access-logfile", str(access), "--access-logformat", ACCESS_LOG_FORMAT]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*argv, app_spec],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    return Server(name=name, port=port, process=process, log=log, access_log=access)


def stop(server: Server) -> None:
    """SIGTERM the process group (gunicorn stops its workers gracefully), SIGKILL whatever lingers, reap the arbiter."""
    stop_process_group(server.process, server.name)


def stop_process_group(
    process: subprocess.Popen[Any], name: str, *, term_timeout: float = 15.0, kill_timeout: float = 5.0
) -> None:
    """Stop the group that `process` leads (started with start_new_session=True), and reap `process`.

    SIGTERM to the whole group, up to `term_timeout` seconds for `process` to exit, then SIGKILL to
    the group whatever happened: a process that ignored SIGTERM, or children it left behind.
    """
    pgid = process.pid  # start_new_session: the process leads its own group
    try:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                process.wait(timeout=term_timeout)
            except subprocess.TimeoutExpired:
                print(f"{name}: still running {term_timeout:.0f}s after SIGTERM, killing it", file=sys.stderr)
    finally:  # also when Ctrl-C cuts the graceful stop short
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=kill_timeout)


def wait_until_ready(server: Server, path: str) -> None:
    """Until `path` answers 200 (from every worker there is no way to ask; one answer means listening).

    Fails at once when gunicorn exits or `path` answers another status. Asks 127.0.0.1 directly,
    whatever proxy the environment names.
    """
    deadline = time.monotonic() + START_TIMEOUT
    with requests.Session() as http:
        http.trust_env = False
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise LiveError(f"{server.name}: gunicorn exited ({server.process.returncode}):\n{server.log_tail()}")
            try:
                response = http.get(server.url(path), timeout=START_TIMEOUT)
            except requests.ConnectionError:
                time.sleep(0.1)
                continue
            if response.status_code == 200:
                return
            raise LiveError(f"{server.name}: {path} answered {response.status_code}:\n{server.log_tail()}")
    raise LiveError(f"{server.name}: no answer on port {server.port} within {START_TIMEOUT:.0f}s:\n{server.log_tail()}")


@contextlib.contextmanager
def gunicorn(
    app_spec: str,
    env: dict[str, str],
    folder: Path,
    *,
    name: str = "lectern",
    ready_path: str = RSVP_PATH,
    workers: int = WORKERS,
    cwd: Path = ROOT,
    access_log: bool = True,
    shipped_config: bool = False,
) -> Iterator[Server]:
    """A server answering 200 on `ready_path`; its whole process group is stopped when the block ends."""
    server = start_gunicorn(
        name, app_spec, env, folder, workers=workers, cwd=cwd, access_log=access_log, shipped_config=shipped_config
    )
    try:
        wait_until_ready(server, ready_path)
        yield server
    finally:
        stop(server)


# --- nginx in front: the shipped site file (deploy/nginx/lectern.conf) ---------------------------

NGINX_SITE = ROOT / "deploy" / "nginx" / "lectern.conf"
NGINX_MIME_TYPES = Path("/etc/nginx/mime.types")


def nginx_unavailable() -> str | None:
    """Why nginx cannot be run here, or None when it can."""
    if shutil.which("nginx") is None:
        return "nginx is not installed (Debian: apt-get install nginx)"
    if not NGINX_MIME_TYPES.is_file():
        return f"{NGINX_MIME_TYPES} is missing (Debian's nginx-common installs it)"
    return None


def render_site(folder: Path, *, upstreams: list[str], port: int, static_root: Path = ROOT / "static") -> str:
    """The shipped site file with this run's addresses and folders in place of the documented ones."""
    text = NGINX_SITE.read_text()
    replacements = {
        "server 127.0.0.1:8000;": " ".join(f"server {upstream};" for upstream in upstreams),
        "listen 80;": f"listen 127.0.0.1:{port};",
        "listen [::]:80;": "",
        "/var/cache/nginx/lectern": str(folder / "nginx-cache"),
        "/var/log/nginx/lectern.access.log": str(folder / "nginx-access.log"),
        "/var/log/nginx/lectern.error.log": str(folder / "nginx-error.log"),
        "/srv/lectern/static/": f"{static_root}/",
    }
    for documented, ours in replacements.items():
        if documented not in text:
            raise LiveError(f"{NGINX_SITE} no longer holds {documented!r}: update render_site")
        text = text.replace(documented, ours)
    return text


def nginx_conf(folder: Path, site: str, *, extra_http: str = "", workers: int = 1) -> Path:
    """A main nginx.conf in `folder` around `site` (and `extra_http`, more server blocks), as
    Debian's /etc/nginx/nginx.conf is around a site: pid, logs and temporary files in `folder`."""
    (folder / "nginx-site.conf").write_text(site)
    temp = folder / "nginx-temp"
    temp.mkdir(exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""  # as root, workers would run as nobody
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""{user}worker_processes {workers};
pid {folder / "nginx.pid"};
error_log {folder / "nginx-main-error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    include {NGINX_MIME_TYPES};
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    client_body_temp_path {temp / "body"};
    proxy_temp_path {temp / "proxy"};
    fastcgi_temp_path {temp / "fastcgi"};
    uwsgi_temp_path {temp / "uwsgi"};
    scgi_temp_path {temp / "scgi"};
    include {folder / "nginx-site.conf"};
{extra_http}
}}
"""
    )
    return conf


def nginx_test(conf: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on a main configuration: 0 when it loads."""
    argv = ["nginx", "-t", "-e", "stderr", "-p", str(conf.parent), "-c", str(conf)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


@dataclass
class Proxy:
    port: int
    process: subprocess.Popen[bytes]
    folder: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def access_log(self) -> Path:
        return self.folder / "nginx-access.log"

    def log_tail(self, lines: int = 40) -> str:
        texts = []
        for name in ("nginx.log", "nginx-main-error.log", "nginx-error.log"):
            with contextlib.suppress(OSError):
                texts.append("\n".join((self.folder / name).read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(texts) or "(no log)"


@contextlib.contextmanager
def nginx(conf: Path, port: int) -> Iterator[Proxy]:
    """nginx on `conf` in the foreground, in its own process group, answering on `port` until the block ends."""
    checked = nginx_test(conf)
    if checked.returncode != 0:
        raise LiveError(f"nginx -t refused {conf}:\n{checked.stderr}")
    with (conf.parent / "nginx.log").open("wb") as out:
        process = subprocess.Popen(
            ["nginx", "-e", "stderr", "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    proxy = Proxy(port=port, process=process, folder=conf.parent)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise LiveError(f"nginx exited ({process.returncode}):\n{proxy.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise LiveError(f"nginx: no answer on port {port}:\n{proxy.log_tail()}")
            time.sleep(0.05)
        yield proxy
    finally:
        stop_process_group(process, "nginx")


# --- the attendee's side -------------------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


@dataclass
class RsvpForm:
    """The form as one browser got it: its session (with the CSRF cookie) and the token in the page."""

    http: requests.Session
    server: Server
    token: str

    def submit(
        self, *, name: str, email: str, mode: str = "room", probe: str = "", timeout: float = 60
    ) -> requests.Response:
        headers = {PROBE_HEADER: probe} if probe else {}
        return self.http.post(
            self.server.url(RSVP_PATH),
            data={"csrf_token": self.token, "name": name, "email": email, "mode": mode, "website": ""},
            headers=headers,
            allow_redirects=False,
            timeout=timeout,
        )

    def open(self, path: str) -> requests.Response:
        """GET a path of the site in this browser's session (a link from an email, say)."""
        return self.http.get(urljoin(self.server.base + "/", path), timeout=60)


def open_form(http: requests.Session, server: Server) -> RsvpForm:
    """GET the form, as a browser would: the session cookie and the CSRF token come with it."""
    page = http.get(server.url(RSVP_PATH), timeout=60)
    page.raise_for_status()
    match = _CSRF.search(page.text)
    if match is None:
        raise LiveError(f"no csrf_token in {RSVP_PATH}")
    return RsvpForm(http=http, server=server, token=match.group(1) or match.group(2))


def is_accepted(response: requests.Response) -> bool:
    """A sign-up that went through, new or repeat: 303 to "check your email" (/talks/<slug>/rsvp/sent).

    The two look the same on purpose (whoever types an address must not learn whether it is
    signed up); the database and the outbox tell them apart.
    """
    return response.status_code == 303 and response.headers.get("Location", "").endswith("/rsvp/sent")


def manage_path(secret: str, rsvp_id: int, talk_id: int, nonce: str) -> str:
    """The manage page's path, as the confirmation email gives it."""
    from itsdangerous import URLSafeSerializer

    from services.tokens import MANAGE_PURPOSE

    return "/rsvp/" + URLSafeSerializer(secret, salt=MANAGE_PURPOSE).dumps([rsvp_id, talk_id, nonce])


def owed_kinds(engine: Engine, email: str) -> list[str]:
    """What the outbox holds for one address, oldest first (read straight from the server's database)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT m.kind FROM outbox_message m JOIN rsvp r ON r.id = m.rsvp_id WHERE r.email = :e ORDER BY m.id"
            ),
            {"e": email},
        )
        return [kind for (kind,) in rows]
