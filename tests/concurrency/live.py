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
import tempfile
import threading
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


# --- services of the test's own: Redis, a PostgreSQL cluster, a mail server, the consumer ------
#
# For the fault tests: each can be stopped and started again on the same port without touching
# the servers other people on this machine use (127.0.0.1:5432, :6379).


class RedisServer:
    """A redis-server of the test's own on a free port, in its own process group, nothing saved to disk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        log = (self.folder / f"redis-{self.port}.log").open("ab")
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [*argv, "--dir", str(self.folder)], stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1).ping()
                return
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise LiveError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, f"redis-server:{self.port}")
            self.process = None


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def postgres_binaries() -> Path | None:
    """The folder of initdb and postgres of the newest PostgreSQL installed, if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


class PostgresCluster:
    """A PostgreSQL cluster of the test's own (initdb in a temporary folder, a free port, trust on
    127.0.0.1), which the test may stop and start while Lectern runs. As root, the server runs
    as the `postgres` user, which PostgreSQL requires."""

    def __init__(self) -> None:
        binaries = postgres_binaries()
        if binaries is None:
            raise LiveError("no PostgreSQL server installed under /usr/lib/postgresql")
        self.bin = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="lectern-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            import pwd

            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        done = subprocess.run(
            [
                *self.as_user,
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise LiveError(f"initdb failed:\n{done.stderr}")

    def url(self, database: str = "postgres") -> str:
        return sqlalchemy_url(f"postgresql://postgres@127.0.0.1:{self.port}/{database}")

    def start(self) -> None:
        import psycopg

        log = (self.folder / "postgres.log").open("ab")
        argv = [
            *self.as_user, str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.folder}",
            "-c", "fsync=off", "-c", "max_connections=100",
        ]  # fmt: skip
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=2):
                    return
            except psycopg.Error:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise LiveError(f"PostgreSQL on port {self.port} did not start:\n{self.log_tail()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """A fast shutdown (SIGINT): transactions in flight are rolled back, clients disconnected."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        stop_process_group(self.process, f"postgres:{self.port}", term_timeout=30)
        self.process = None

    def create_database(self, name: str) -> str:
        import psycopg
        from psycopg import sql

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def log_tail(self) -> str:
        try:
            return "\n".join((self.folder / "postgres.log").read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no log)"

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@dataclass
class Mail:
    recipient: str
    subject: str


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, in this process; it can be stopped and started
    on the same port, keeping what it received."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Mail] = []
        self._lock = threading.Lock()
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email
        import email.policy

        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            for recipient in envelope.rcpt_tos:
                self.received.append(Mail(recipient.lower(), str(message["Subject"])))
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def mail(self) -> list[Mail]:
        with self._lock:
            return list(self.received)

    def env(self) -> dict[str, str]:
        return {
            "LECTERN_MAIL_BACKEND": "smtp",
            "LECTERN_SMTP_HOST": "127.0.0.1",
            "LECTERN_SMTP_PORT": str(self.port),
            "LECTERN_SMTP_TIMEOUT": "5",
        }


_CONSUMER_MODULE = """
import consumer
huey = consumer.make_queue({instance!r})
"""


def start_consumer(name: str, env: dict[str, str], folder: Path, instance: Path) -> subprocess.Popen[bytes]:
    """`huey_consumer` on the app of `instance` (as consumer.py serves it: consumer.make_queue),
    2 worker threads, in its own process group; output to `folder/<name>.log`. Stop it with
    stop_process_group."""
    module = folder / f"{name}_queue.py"
    module.write_text(_CONSUMER_MODULE.format(instance=str(instance)))
    consumer_env = {**env, "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)])}
    with (folder / f"{name}.log").open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "huey.bin.huey_consumer", f"{name}_queue.huey", "--workers", "2",
             "--worker-type", "thread", "--delay", "0.1", "--max-delay", "1"],
            cwd=ROOT, env=consumer_env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
