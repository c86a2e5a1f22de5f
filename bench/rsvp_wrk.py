"""RSVP POSTs under steady load with wrk: how many sign-ups a second does Lectern take?

    .venv/bin/python bench/rsvp_wrk.py [--duration 10] [--connections 16] [--threads 2] [--warmup 2]
                                      [--backends sqlite,postgresql] [--limit-per-address "2000 per minute"]

One run:

1. for each backend (SQLite in a temporary folder, then a throwaway PostgreSQL database), creates
   an instance (migrations, demo content, the demo talk given more seats than any run needs) and
   serves it with gunicorn (2 sync workers, no access log), configured as in production: CSRF on,
   rate limits on (in memory, per worker), jobs queued in SQLite;
2. GETs the RSVP form once with requests (one session: its cookie and CSRF token) and hands both
   to wrk, whose Lua script POSTs the form (name, email, mode=room, csrf_token, website=) with a
   new email on every request (a per-thread counter and a random tag), over 16 connections:
   first an unmeasured warm-up, then the measured run;
3. serves bench/bare_app.py the same way (same gunicorn, same wrk script, the same form page for
   the GET) as the baseline, whose POST answers 303 at once;
4. prints per server the requests per second, latency, the status counts (2xx, 3xx, 429 and
   anything else), the server's CPU per request (gunicorn and, for PostgreSQL, the database's
   backends), the CPU other processes took meanwhile, and lectern / bare per backend; then
   checks in the database that every 303 wrk saw stored one sign-up. A request still in flight
   when wrk stops may be stored without wrk counting its answer: at most one per connection.

The per-address limit ("2000 per minute" by default, counted per worker) stays as in production
unless --limit-per-address sets LECTERN_RSVP_LIMIT_PER_ADDRESS for the run; the output says so.
A 429 means the limit was met and the run is spoiled: the output warns.

Exit status 1 when something could not be set up; slow results are reported, not errors. Every
server is stopped by its process group in every case. Results are recorded by hand in
docs/benchmarks.md ("RSVP POST under wrk").
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import cli
import requests
from cli import BenchError
from proc_cpu import busy_cpu_seconds, group_cpu_seconds, pids_cpu_seconds
from rsvp_burst import BARE_REDIRECT, code_state, give_seats, machine, our_cpu_seconds, postgres_backends
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.concurrency import live  # noqa: E402  (the gunicorn and client helpers the tests use)

BENCH = ROOT / "bench"
BACKENDS = ("sqlite", "postgresql")
SEATS = 1_000_000  # more than any run can fill: every RSVP takes a seat, none waits

# Filled in per run: the target, the session's cookie and token, the run's tag. Each thread numbers
# its own requests; the tag (random per run and per thread) keeps every email new.
LUA = r"""
threads_list = {}
counter = 0
s2xx, s3xx, s429, sother = 0, 0, 0, 0

function setup(thread)
  table.insert(threads_list, thread)
  thread:set("tag", "%(tag)s-" .. #threads_list .. "-" .. string.format("%%06x", math.random(0, 0xffffff)))
end

function init(args)
  wrk.method = "POST"
  wrk.path = "%(path)s"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  if "%(cookie)s" ~= "" then wrk.headers["Cookie"] = "%(cookie)s" end
end

function request()
  counter = counter + 1
  local email = tag .. "-" .. counter .. "@bench.example.org"
  local body = "name=Bench+" .. counter .. "&email=" .. email .. "&mode=room&csrf_token=%(token)s&website="
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 429 then s429 = s429 + 1
  elseif status >= 300 and status < 400 then s3xx = s3xx + 1
  elseif status >= 200 and status < 300 then s2xx = s2xx + 1
  else sother = sother + 1 end
end

function done(summary, latency, requests)
  local t = {s2xx = 0, s3xx = 0, s429 = 0, sother = 0}
  for _, thread in ipairs(threads_list) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
  end
  io.write(string.format("STATUS 2xx=%%d 3xx=%%d 429=%%d other=%%d\n", t.s2xx, t.s3xx, t.s429, t.sother))
  io.write(string.format("LATENCY p50=%%.3f p90=%%.3f p99=%%.3f\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000))
  io.write(string.format("TOTAL requests=%%d seconds=%%.3f connect_err=%%d read_err=%%d write_err=%%d timeouts=%%d\n",
    summary.requests, summary.duration / 1e6, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
"""
# setup() and done() run in wrk's main Lua state, the other functions in each thread's own: the
# main state keeps the threads for done(), each thread gets its tag as a global of its state.


@dataclass
class Run:
    server: str
    requests: int
    seconds: float
    p50: float
    p90: float
    p99: float
    statuses: dict[str, int]
    socket_errors: int
    other_cpu: float | None
    server_cpu: float  # CPU seconds of the gunicorn processes (and PostgreSQL backends) per request
    stored: int | None = None  # sign-ups with this run's tag in the database afterwards (Lectern only)
    notes: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def bad(self) -> int:
        """Answers that were neither 2xx nor 3xx (429 among them)."""
        return self.statuses["429"] + self.statuses["other"]


# --- command line --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of the measured run (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load first (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", type=int, default=live.WORKERS, help="gunicorn sync workers (default 2)")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated, from: sqlite, postgresql (default both)"
    )
    parser.add_argument(
        "--limit-per-address",
        default=None,
        help="LECTERN_RSVP_LIMIT_PER_ADDRESS for the run (default: Lectern's own, 2000 per minute)",
    )
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not set(args.backends) <= set(BACKENDS) or not args.backends:
        parser.error(f"--backends takes some of {', '.join(BACKENDS)}")
    if min(args.duration, args.connections, args.threads, args.workers) < 1 or args.warmup < 0:
        parser.error("--duration, --connections, --threads and --workers must be positive")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    return args


# --- wrk -----------------------------------------------------------------------------------


def session_for(server: live.Server) -> tuple[str, str]:
    """GET the form once: the Cookie header and CSRF token of that one session."""
    with requests.Session() as http:
        http.trust_env = False
        form = live.open_form(http, server)
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    return cookie, form.token  # the bare app sets no cookie: wrk then sends none


def lua_script(folder: Path, name: str, cookie: str, token: str, tag: str) -> Path:
    for value in (cookie, token, tag):
        if re.search(r'["\\\n]', value):
            raise BenchError(f"cannot put {value!r} into a Lua string")
    values = {"tag": tag, "path": live.RSVP_PATH, "cookie": cookie, "token": quote(token, safe="")}
    script = folder / f"{name}.lua"
    script.write_text(LUA % values)
    return script


def wrk(server: live.Server, script: Path, seconds: int, args: argparse.Namespace) -> str:
    argv = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency",
        "--timeout", "30s", "-s", str(script), server.url(live.RSVP_PATH),
    ]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"{server.name}: wrk did not finish") from error
    if done.returncode != 0 or "STATUS" not in done.stdout:
        raise BenchError(f"{server.name}: wrk failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    return done.stdout


def parse(output: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in output.splitlines():
        if line.startswith(("STATUS", "LATENCY", "TOTAL")):
            for key, value in re.findall(r"(\w+)=([\d.]+)", line):
                values[key] = float(value)
    return values


def measure(
    server: live.Server,
    folder: Path,
    tag: str,
    args: argparse.Namespace,
    helpers: Callable[[], list[int]] | None = None,
) -> Run:
    cookie, token = session_for(server)
    if args.warmup:
        print(f"warm-up   {server.name:10} {args.warmup}s", file=sys.stderr)
        wrk(server, lua_script(folder, "warm", cookie, token, f"{tag}-warm"), args.warmup, args)
    print(f"measure   {server.name:10} {args.duration}s over {args.connections} connections", file=sys.stderr)
    script = lua_script(folder, "run", cookie, token, f"{tag}-run")  # the warm-up's are not counted
    cpu_before, ours_before = busy_cpu_seconds(), our_cpu_seconds(server, helpers)
    server_before = serving_cpu_seconds(server, helpers)
    out = parse(wrk(server, script, args.duration, args))
    server_after = serving_cpu_seconds(server, helpers)
    cpu_after, ours_after = busy_cpu_seconds(), our_cpu_seconds(server, helpers)
    other = None
    if cpu_before is not None and cpu_after is not None:
        elsewhere = (cpu_after - cpu_before) - (ours_after - ours_before)
        other = max(0.0, elsewhere) / (out["seconds"] * (os.cpu_count() or 1))
    return Run(
        server=server.name,
        requests=int(out["requests"]),
        seconds=out["seconds"],
        p50=out["p50"],
        p90=out["p90"],
        p99=out["p99"],
        statuses={k: int(out[k]) for k in ("2xx", "3xx", "429", "other")},
        socket_errors=int(out["connect_err"] + out["read_err"] + out["write_err"] + out["timeouts"]),
        other_cpu=other,
        server_cpu=(server_after - server_before) / max(1, int(out["requests"])),
    )


def serving_cpu_seconds(server: live.Server, helpers: Callable[[], list[int]] | None) -> float:
    """CPU seconds so far of the server's process group and its helpers (PostgreSQL backends)."""
    return group_cpu_seconds(server.process.pid) + (pids_cpu_seconds(helpers()) if helpers else 0.0)


# --- servers -------------------------------------------------------------------------------


def stored(database_url: str, tag: str) -> tuple[int, int]:
    """Sign-ups of the measured run, and how many distinct addresses they have."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            query = text("SELECT count(*), count(DISTINCT email) FROM rsvp WHERE email LIKE :pattern")
            rows, distinct = conn.execute(query, {"pattern": f"{tag}-%"}).one()
            return rows, distinct
    finally:
        engine.dispose()


def bench_lectern(backend: str, folder: Path, tag: str, args: argparse.Namespace) -> tuple[Run, bytes, str]:
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            database_url = stack.enter_context(live.throwaway_postgres("lectern_bench"))
        else:
            database_url = live.sqlite_url(folder)
        env = live.lectern_env(folder, database_url)
        if args.limit_per_address:
            env["LECTERN_RSVP_LIMIT_PER_ADDRESS"] = args.limit_per_address
        live.prepare_instance(env)
        give_seats(database_url, SEATS)
        server = stack.enter_context(
            live.gunicorn("app:create_app()", env, folder, name=backend, workers=args.workers, access_log=False)
        )
        page = requests.get(server.url(live.RSVP_PATH), timeout=30)
        helpers = postgres_backends(database_url) if backend == "postgresql" else None
        run = measure(server, folder, tag, args, helpers)
        rows, distinct = stored(database_url, f"{tag}-run")
        run.stored = rows
        if distinct != rows:
            run.notes.append(f"{rows - distinct} addresses stored twice")
        if server.server_errors():
            run.notes.append("errors in the server log")
            print(f"{backend}: errors in the server log:\n{server.log_tail()}", file=sys.stderr)
        return run, page.content, page.headers.get("Content-Type", "text/html; charset=utf-8")


def bench_bare(folder: Path, form_page: bytes, content_type: str, tag: str, args: argparse.Namespace) -> Run:
    body = folder / "rsvp-form.html"
    body.write_bytes(form_page)
    env = {
        **os.environ,
        "BENCH_BODY_FILE": str(body),
        "BENCH_PATH": live.RSVP_PATH,
        "BENCH_CONTENT_TYPE": content_type,
        "BENCH_REDIRECT_TO": BARE_REDIRECT,
    }
    with live.gunicorn(
        "bare_app:create_app()", env, folder, name="bare", workers=args.workers, cwd=BENCH, access_log=False
    ) as server:
        return measure(server, folder, tag, args)


# --- report --------------------------------------------------------------------------------

COLUMNS = ["server", "req/s", "p50 ms", "p90 ms", "p99 ms", "requests", "3xx", "2xx", "429", "other", "socket err",
           "stored", "server CPU ms/req", "other CPU", "vs bare"]  # fmt: skip


def table(runs: list[Run], bare: Run) -> str:
    rows = [COLUMNS, ["---"] + ["---:"] * (len(COLUMNS) - 1)]
    for r in runs:
        rows.append(
            [
                r.server,
                f"{r.rps:.1f}",
                f"{r.p50:.1f}",
                f"{r.p90:.1f}",
                f"{r.p99:.1f}",
                str(r.requests),
                str(r.statuses["3xx"]),
                str(r.statuses["2xx"]),
                str(r.statuses["429"]),
                str(r.statuses["other"]),
                str(r.socket_errors),
                "-" if r.stored is None else str(r.stored),
                f"{r.server_cpu * 1000:.1f}",
                "?" if r.other_cpu is None else f"{r.other_cpu:.0%}",
                f"{r.rps / bare.rps:.2f}",
            ]
        )
    return cli.markdown_table(rows)


def report(runs: list[Run], bare: Run, skipped: list[str], args: argparse.Namespace) -> None:
    limit = (
        f"per-address limit raised for this run: LECTERN_RSVP_LIMIT_PER_ADDRESS={args.limit_per_address!r}"
        if args.limit_per_address
        else "per-address limit as in production (2000 per minute, per worker)"
    )
    print(
        f"\nRSVP POST under wrk: -t{args.threads} -c{args.connections} -d{args.duration}s after {args.warmup}s of "
        f"warm-up; gunicorn {args.workers} sync workers; CSRF and rate limits on; {limit}\n"
        f"{machine()}\ncode: {code_state()}\n"
    )
    print(table([*runs, bare], bare))
    print()
    for r in runs:
        print(f"ratio lectern / bare, {r.server}: {r.rps / bare.rps:.3f}")
    for line in skipped:
        print(f"skipped: {line}")
    for r in [*runs, bare]:
        if r.statuses["429"]:
            print(f"warning: {r.server}: {r.statuses['429']} answers were 429 (the per-address limit): run spoiled")
        if r.statuses["other"] or r.statuses["2xx"] or r.socket_errors:
            print(
                f"warning: {r.server}: {r.statuses['2xx']} 2xx (a form sent back), {r.statuses['other']} other "
                f"non-2xx/3xx, {r.socket_errors} socket errors"
            )
        if r.stored is not None:
            missing = r.statuses["3xx"] - r.stored
            extra = r.stored - r.statuses["3xx"]
            if missing > 0:
                print(f"warning: {r.server}: LOST WRITES: {r.statuses['3xx']} 303s, {r.stored} sign-ups stored")
            else:
                print(
                    f"{r.server}: every 303 stored ({r.stored} sign-ups for {r.statuses['3xx']} 303s; "
                    f"{extra} answered after wrk stopped counting, at most {args.connections})"
                )
        for note in r.notes:
            print(f"warning: {r.server}: {note}")
        if r.other_cpu is not None and r.other_cpu > 0.05:
            print(f"warning: {r.server}: other processes took {r.other_cpu:.0%} of the CPUs during the run")


# --- main ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    runs, skipped = [], []
    form_page, content_type = b"", ""
    tag = f"wrk{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory(prefix="lectern-rsvp-wrk-") as tmp:
        for backend in args.backends:
            if backend == "postgresql" and (reason := live.postgres_unreachable()):
                skipped.append(reason)
                continue
            folder = Path(tmp) / backend
            folder.mkdir()
            result, form_page, content_type = bench_lectern(backend, folder, f"{tag}-{backend}", args)
            runs.append(result)
        if not runs:
            raise BenchError("no backend could be measured: " + "; ".join(skipped))
        folder = Path(tmp) / "bare"
        folder.mkdir()
        bare = bench_bare(folder, form_page, content_type, f"{tag}-bare", args)
    report(runs, bare, skipped, args)


def main(argv: list[str] | None = None) -> int:
    return cli.main(run, parse_args(argv), live.LiveError)


if __name__ == "__main__":
    sys.exit(main())
