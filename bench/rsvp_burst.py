"""A burst of RSVPs: how fast does Lectern take 1,000 sign-ups arriving over 100 connections?

    .venv/bin/python bench/rsvp_burst.py [--requests 1000] [--connections 100] [--backends sqlite,postgresql]

One run:

1. for each backend (SQLite in a temporary folder, then a throwaway PostgreSQL database), creates
   an instance (migrations, demo content, the demo talk given more seats than the burst needs)
   and serves it with gunicorn (2 sync workers), configured as in production: CSRF on, rate
   limits on with their default values (in memory, per worker), jobs queued in SQLite;
2. opens the RSVP form once per connection (the session cookie and CSRF token, not measured),
   sends a small warm-up, then releases all connections together: each sends its share of the
   burst back to back (distinct emails, "In the room"), timing every POST until its 303;
3. serves bench/bare_app.py the same way (same gunicorn, same client, same form page for the
   token, a POST that answers 303 at once) as the baseline;
4. prints per server the requests per second, p50 and p99 latency, failures, the CPU other
   processes took meanwhile (not this script, the servers, nor the PostgreSQL backends of the
   benchmark's database), and the ratio to the bare app; checks that every RSVP is in the
   database. Each server is stopped before the next starts.

Exit status 1 when something could not be set up; slow results are reported, not errors.
PostgreSQL is skipped (with the reason) when it is not reachable. Results are recorded by hand
in docs/benchmarks.md ("RSVP burst").
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cli
import requests
from cli import BenchError
from proc_cpu import busy_cpu_seconds, group_cpu_seconds, pids_cpu_seconds
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.concurrency import live  # noqa: E402  (the gunicorn and client helpers the tests use)

BENCH = ROOT / "bench"
BACKENDS = ("sqlite", "postgresql")
BARE_REDIRECT = "/talks/bare-app/rsvp/sent"


@dataclass
class Burst:
    server: str
    requests: int
    seconds: float
    latencies: list[float] = field(repr=False)
    statuses: Counter[int]
    failed: int
    other_cpu: float | None
    stored: int | None = None  # RSVP rows in the database afterwards (Lectern only)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        ranked = sorted(self.latencies)
        index = max(0, min(len(ranked) - 1, round(p / 100 * len(ranked) + 0.5) - 1))
        return ranked[index] * 1000


# --- command line --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="RSVPs in the measured burst (default 1000)")
    parser.add_argument("--connections", type=int, default=100, help="concurrent connections (default 100)")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured RSVPs first, per server (default 100)")
    parser.add_argument("--workers", type=int, default=live.WORKERS, help="gunicorn sync workers (default 2)")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated, from: sqlite, postgresql (default both)"
    )
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not set(args.backends) <= set(BACKENDS) or not args.backends:
        parser.error(f"--backends takes some of {', '.join(BACKENDS)}")
    if min(args.requests, args.connections, args.workers) < 1 or args.warmup < 0:
        parser.error("--requests, --connections and --workers must be positive")
    if args.requests < args.connections:
        parser.error("--requests must be at least --connections")
    return args


# --- CPU accounting: see bench/proc_cpu.py ------------------------------------------------------


def postgres_backends(database_url: str) -> Callable[[], list[int]]:
    """The server processes serving one database: their work is the benchmark's, not another's."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]

    def pids() -> list[int]:
        with psycopg.connect(live.POSTGRES_ADMIN_URL) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)).fetchall()
        return [pid for (pid,) in rows]

    return pids


def our_cpu_seconds(server: live.Server, helpers: Callable[[], list[int]] | None) -> float:
    """CPU seconds of this client, the server's process group and its helpers (PostgreSQL backends)."""
    mine = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    helping = pids_cpu_seconds(helpers()) if helpers else 0.0
    return sum(r.ru_utime + r.ru_stime for r in mine) + group_cpu_seconds(server.process.pid) + helping


# --- the burst -----------------------------------------------------------------------------


def open_forms(server: live.Server, count: int) -> list[live.RsvpForm]:
    with ThreadPoolExecutor(min(count, 16)) as pool:
        return list(pool.map(lambda _: live.open_form(requests.Session(), server), range(count)))


def shares(total: int, parts: int) -> list[int]:
    """`total` split into `parts` near-equal counts."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def burst(
    server: live.Server,
    forms: list[live.RsvpForm],
    total: int,
    tag: str,
    helpers: Callable[[], list[int]] | None = None,
) -> Burst:
    """All connections released together; each sends its share back to back, timing each POST."""
    barrier = threading.Barrier(len(forms) + 1, timeout=120)
    marks: list[tuple[float, float]] = []
    results: list[tuple[float, int, bool]] = []
    lock = threading.Lock()

    def connection(index: int, count: int) -> None:
        form = forms[index]
        mine = []
        barrier.wait()
        started = time.perf_counter()
        for k in range(count):
            email = f"{tag}-{index}-{k}@bench.example.org"
            before = time.perf_counter()
            try:
                response = form.submit(name=f"Bench {index}-{k}", email=email, mode="room", timeout=120)
                outcome = (time.perf_counter() - before, response.status_code, live.is_accepted(response))
            except requests.RequestException:
                outcome = (time.perf_counter() - before, 0, False)  # status 0: no answer
            mine.append(outcome)
        with lock:
            marks.append((started, time.perf_counter()))
            results.extend(mine)

    threads = [
        threading.Thread(target=connection, args=(i, n), daemon=True) for i, n in enumerate(shares(total, len(forms)))
    ]
    for thread in threads:
        thread.start()
    cpu_before, ours_before = busy_cpu_seconds(), our_cpu_seconds(server, helpers)
    barrier.wait()
    for thread in threads:
        thread.join()
    cpu_after, ours_after = busy_cpu_seconds(), our_cpu_seconds(server, helpers)

    seconds = max(end for _, end in marks) - min(start for start, _ in marks)
    other = None
    if cpu_before is not None and cpu_after is not None:
        elsewhere = (cpu_after - cpu_before) - (ours_after - ours_before)
        other = max(0.0, elsewhere) / (seconds * (os.cpu_count() or 1))
    return Burst(
        server=server.name,
        requests=len(results),
        seconds=seconds,
        latencies=[latency for latency, _, _ in results],
        statuses=Counter(status for _, status, _ in results),
        failed=sum(not ok for _, _, ok in results),
        other_cpu=other,
    )


def measure(
    server: live.Server, args: argparse.Namespace, tag: str, helpers: Callable[[], list[int]] | None = None
) -> Burst:
    forms = open_forms(server, args.connections)
    if args.warmup:
        print(f"warm-up   {server.name:10} {args.warmup} RSVPs", file=sys.stderr)
        burst(server, forms[: min(args.warmup, args.connections)], args.warmup, f"{tag}-warm")
    print(f"burst     {server.name:10} {args.requests} RSVPs over {args.connections} connections", file=sys.stderr)
    return burst(server, forms, args.requests, tag, helpers)


# --- servers -------------------------------------------------------------------------------


def give_seats(database_url: str, seats: int) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE talk SET room_capacity = :n WHERE slug = :s"), {"n": seats, "s": live.TALK_SLUG})
    finally:
        engine.dispose()


def stored_rsvps(database_url: str, tag: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            query = text("SELECT count(*) FROM rsvp WHERE email LIKE :pattern AND email NOT LIKE :warm")
            return conn.execute(query, {"pattern": f"{tag}-%", "warm": f"{tag}-warm-%"}).scalar_one()
    finally:
        engine.dispose()


def bench_lectern(backend: str, folder: Path, args: argparse.Namespace) -> tuple[Burst, bytes, str]:
    """One backend: its instance, its server, its burst. Returns the burst and the form page."""
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            database_url = stack.enter_context(live.throwaway_postgres("lectern_bench"))
        else:
            database_url = live.sqlite_url(folder)
        env = live.lectern_env(folder, database_url)
        live.prepare_instance(env)
        give_seats(database_url, args.requests + args.warmup + 100)
        server = stack.enter_context(live.gunicorn("app:create_app()", env, folder, name=backend, workers=args.workers))
        page = requests.get(server.url(live.RSVP_PATH), timeout=30)
        helpers = postgres_backends(database_url) if backend == "postgresql" else None
        result = measure(server, args, f"bench-{backend}", helpers)
        result.stored = stored_rsvps(database_url, f"bench-{backend}")
        if server.server_errors():
            print(f"{backend}: errors in the server log:\n{server.log_tail()}", file=sys.stderr)
        return result, page.content, page.headers.get("Content-Type", "text/html; charset=utf-8")


def bench_bare(folder: Path, form_page: bytes, content_type: str, args: argparse.Namespace) -> Burst:
    body = folder / "rsvp-form.html"
    body.write_bytes(form_page)
    env = {
        **os.environ,
        "BENCH_BODY_FILE": str(body),
        "BENCH_PATH": live.RSVP_PATH,
        "BENCH_CONTENT_TYPE": content_type,
        "BENCH_REDIRECT_TO": BARE_REDIRECT,
    }
    with live.gunicorn("bare_app:create_app()", env, folder, name="bare", workers=args.workers, cwd=BENCH) as server:
        return measure(server, args, "bench-bare")


# --- report --------------------------------------------------------------------------------


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:", 1)[1].split()[0])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"nproc {usable}; CPU {cpu}; memory {memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}; PostgreSQL {postgres_version()}; "
        f"gunicorn {gunicorn_version()}"
    )


def postgres_version() -> str:
    if live.postgres_unreachable():
        return "not reachable"
    import psycopg

    with psycopg.connect(live.POSTGRES_ADMIN_URL, connect_timeout=3) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])


def gunicorn_version() -> str:
    done = subprocess.run([sys.executable, "-m", "gunicorn", "--version"], capture_output=True, text=True)
    return (done.stdout or done.stderr).strip().split()[-1].strip("()") if done.returncode == 0 else "?"


def code_state() -> str:
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return "not a git checkout"
    status = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True)
    changed = len(status.stdout.splitlines())
    return f"commit {head.stdout.strip()}" + (f" + {changed} uncommitted paths" if changed else " (clean)")


COLUMNS = ["server", "RSVPs", "seconds", "req/s", "p50 ms", "p99 ms", "failed", "stored", "other CPU", "vs bare"]


def table(results: list[Burst], bare: Burst) -> str:
    rows = [COLUMNS, ["---"] + ["---:"] * (len(COLUMNS) - 1)]
    for r in results:
        rows.append(
            [
                r.server,
                str(r.requests),
                f"{r.seconds:.2f}",
                f"{r.rps:.1f}",
                f"{r.percentile(50):.0f}",
                f"{r.percentile(99):.0f}",
                str(r.failed),
                "-" if r.stored is None else str(r.stored),
                "?" if r.other_cpu is None else f"{r.other_cpu:.0%}",
                f"{r.rps / bare.rps:.2f}",
            ]
        )
    return cli.markdown_table(rows)


def report(results: list[Burst], bare: Burst, skipped: list[str], args: argparse.Namespace) -> None:
    print(
        f"\nRSVP burst: {args.requests} POSTs over {args.connections} connections after a warm-up of {args.warmup}; "
        f"gunicorn {args.workers} sync workers; rate limits and CSRF on\n{machine()}\ncode: {code_state()}\n"
    )
    print(table([*results, bare], bare))
    for line in skipped:
        print(f"skipped: {line}")
    for r in [*results, bare]:
        others = {code: n for code, n in r.statuses.items() if code != 303}
        if r.failed or others:
            print(f"warning: {r.server}: {r.failed} requests did not end in a 303 to 'check your email' {dict(others)}")
        if r.stored is not None and r.stored != args.requests:
            print(f"warning: {r.server}: {r.stored} RSVPs stored for {args.requests} sent")
        if r.other_cpu is not None and r.other_cpu > 0.05:
            print(f"warning: {r.server}: other processes took {r.other_cpu:.0%} of the CPUs during the burst")


# --- main ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    results, skipped = [], []
    form_page, content_type = b"", ""
    with tempfile.TemporaryDirectory(prefix="lectern-rsvp-bench-") as tmp:
        for backend in args.backends:
            if backend == "postgresql" and (reason := live.postgres_unreachable()):
                skipped.append(reason)
                continue
            folder = Path(tmp) / backend
            folder.mkdir()
            result, form_page, content_type = bench_lectern(backend, folder, args)
            results.append(result)
        if not results:
            raise BenchError("no backend could be measured: " + "; ".join(skipped))
        folder = Path(tmp) / "bare"
        folder.mkdir()
        bare = bench_bare(folder, form_page, content_type, args)
    report(results, bare, skipped, args)


def main(argv: list[str] | None = None) -> int:
    return cli.main(run, parse_args(argv), live.LiveError)


if __name__ == "__main__":
    sys.exit(main())
