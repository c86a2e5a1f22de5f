"""How close does a cached talk page come to a bare Flask app serving the same bytes?

    .venv/bin/python bench/talk_page.py [--duration 10] [--connections 32] [--threads 2]
    make bench

One run:

1. creates a throwaway instance in a temporary folder (SQLite database, content version file,
   fixed secret key), applies the migrations and seeds the demo content;
2. serves Lectern with gunicorn (2 sync workers, no access log) on a free 127.0.0.1 port and
   keeps the exact bytes of the demo talk page;
3. serves bench/bare_app.py the same way on another port: the same bytes, content type and path;
4. warms both up, then loads them with wrk, alternating, and prints per run requests/sec, latency
   percentiles, the server's CPU time per request and the share of the CPUs other processes took
   meanwhile (a run above 5% is disturbed), then the ratio lectern / bare (target >= 0.8);
5. stops both servers (their whole process groups) whatever happens, and removes the folder.

The instance and the servers are those of the live tests: tests/concurrency/live.py.

The exit status is 1 when something could not be set up or started, or wrk failed; a low ratio
is reported, not an error. Results are recorded by hand in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import cli
from cli import BenchError
from proc_cpu import busy_cpu_seconds, group_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.concurrency import live  # noqa: E402  (the instance and gunicorn helpers the tests use)

BENCH = ROOT / "bench"
TALK_PATH = f"/talks/{live.TALK_SLUG}"
TARGET_RATIO = 0.8
BUSY_ELSEWHERE = 0.05  # above this share of the CPUs taken by other processes, a run is disturbed


@dataclass
class Page:
    status: int
    content_type: str
    body: bytes


@dataclass
class WrkResult:
    server: str
    round: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    cpu_us: float = 0.0  # CPU time the server (arbiter and workers) spent per request, microseconds
    other_cpu: float | None = None  # share of all CPUs used by processes not in this benchmark


# --- command line ------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return cli.wrk_args(__doc__.split("\n\n")[0], "server", argv)


# --- the page ----------------------------------------------------------------------------


_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never send 127.0.0.1 to a proxy


def fetch(url: str) -> Page:
    with _no_proxy.open(url, timeout=5) as response:
        return Page(response.status, response.headers.get("Content-Type", ""), response.read())


# --- load --------------------------------------------------------------------------------


def run_wrk(url: str, threads: int, connections: int, duration: int) -> str:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
    return done.stdout


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def to_ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(output: str, server: str, round_: int) -> WrkResult:
    """Read requests/sec, latency percentiles and errors from `wrk --latency` output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s*(\d+) requests in", output, re.M)
    percentiles = {
        int(p): to_ms(value, unit)
        for p, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M)
    }
    if not rps or not total or not {50, 90, 99} <= percentiles.keys():
        raise BenchError(f"could not read wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        server=server,
        round=round_,
        rps=float(rps.group(1)),
        p50_ms=percentiles[50],
        p90_ms=percentiles[90],
        p99_ms=percentiles[99],
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


# --- CPU accounting: see bench/proc_cpu.py ------------------------------------------------------


def our_cpu_seconds(servers: list[live.Server]) -> float:
    """CPU seconds used by this script, its finished children (wrk) and the servers."""
    mine = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(r.ru_utime + r.ru_stime for r in mine) + sum(group_cpu_seconds(s.process.pid) for s in servers)


def measured_run(server: live.Server, servers: list[live.Server], args: argparse.Namespace, round_: int) -> WrkResult:
    """One wrk run, noting the server's CPU time per request and what other processes took meanwhile."""
    server_before = group_cpu_seconds(server.process.pid)
    busy_before, ours_before, started = busy_cpu_seconds(), our_cpu_seconds(servers), time.monotonic()
    output = run_wrk(server.url(TALK_PATH), args.threads, args.connections, args.duration)
    busy_after, ours_after, elapsed = busy_cpu_seconds(), our_cpu_seconds(servers), time.monotonic() - started
    result = parse_wrk(output, server.name, round_)
    result.cpu_us = (group_cpu_seconds(server.process.pid) - server_before) / max(result.requests, 1) * 1e6
    if busy_before is not None and busy_after is not None:
        other = (busy_after - busy_before) - (ours_after - ours_before)
        result.other_cpu = max(0.0, other) / (elapsed * (os.cpu_count() or 1))
    return result


def measure(servers: list[live.Server], args: argparse.Namespace) -> list[WrkResult]:
    """Warm both up, then alternate: round 1 runs them in order, round 2 in reverse, and so on."""
    if args.warmup:
        for server in servers:
            print(f"warm-up   {server.name:8} {args.warmup}s", file=sys.stderr)
            run_wrk(server.url(TALK_PATH), args.threads, args.connections, args.warmup)
    results = []
    for round_ in range(1, args.rounds + 1):
        order = servers if round_ % 2 else list(reversed(servers))
        for server in order:
            print(f"round {round_}   {server.name:8} {args.duration}s", file=sys.stderr)
            results.append(measured_run(server, servers, args, round_))
    return results


# --- report ------------------------------------------------------------------------------


def ratio(results: list[WrkResult], round_: int | None = None) -> float:
    """Lectern's requests/sec over the bare app's, in one round or over all rounds (ratio of the means)."""

    def mean_rps(name: str) -> float:
        return statistics.fmean(r.rps for r in results if r.server == name and round_ in (None, r.round))

    return mean_rps("lectern") / mean_rps("bare")


def cpu_ratio(results: list[WrkResult]) -> float:
    """The bare app's server CPU time per request over Lectern's: little affected by other processes."""

    def mean_cpu(name: str) -> float:
        return statistics.fmean(r.cpu_us for r in results if r.server == name)

    return mean_cpu("bare") / mean_cpu("lectern")


def code_state() -> str:
    """Which code was measured: the commit, and whether the working tree differs from it."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return f"{ROOT} (not a git checkout)"
    status = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True)
    changed = len(status.stdout.splitlines())
    return f"commit {head.stdout.strip()}" + (f" + {changed} uncommitted paths" if changed else " (clean)")


COLUMNS = [
    "round", "server", "req/s", "p50 ms", "p90 ms", "p99 ms", "requests", "non-2xx", "socket err",
    "server CPU µs/req", "other CPU",
]  # fmt: skip


def cells(r: WrkResult) -> list[str]:
    counts = [str(n) for n in (r.requests, r.non_2xx, r.socket_errors)]
    other = "?" if r.other_cpu is None else f"{r.other_cpu:.0%}"
    return [str(r.round), r.server, f"{r.rps:.1f}", f"{r.p50_ms:.2f}", f"{r.p90_ms:.2f}", f"{r.p99_ms:.2f}",
            *counts, f"{r.cpu_us:.0f}", other]  # fmt: skip


def table(results: list[WrkResult]) -> str:
    """A Markdown table, one row per wrk run, lectern first in each round; text left, numbers right."""
    rows = [COLUMNS] + [cells(r) for r in sorted(results, key=lambda r: (r.round, r.server != "lectern"))]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    rule = ["-" * (w - 1) + (":" if i != 1 else "-") for i, w in enumerate(widths)]
    lines = []
    for row in [rows[0], rule, *rows[1:]]:
        padded = [
            cell.ljust(w) if i == 1 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("| " + " | ".join(padded) + " |")
    return "\n".join(lines)


def print_report(results: list[WrkResult], args: argparse.Namespace, page: Page) -> None:
    wrk_banner = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    wrk_version = wrk_banner.split(" Copyright")[0].strip()
    print(
        f"\n{TALK_PATH}: {len(page.body)} bytes, {page.content_type}; gunicorn {live.WORKERS} sync workers each; "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s; {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}; {wrk_version}\ncode: {code_state()}\n"
    )
    print(table(results))
    rounds = sorted({r.round for r in results})
    per_round = ", ".join(f"{ratio(results, n):.2f}" for n in rounds)
    overall = ratio(results)
    verdict = "meets" if overall >= TARGET_RATIO else "BELOW"
    print(f"\nratio lectern/bare req/s: {overall:.2f} (per round: {per_round}); {verdict} the target {TARGET_RATIO}")
    print(f"server CPU per request, bare/lectern: {cpu_ratio(results):.2f} (less sensitive to a busy machine)")
    if any(r.non_2xx or r.socket_errors for r in results):
        print("warning: some requests failed (see non-2xx / socket errors); the numbers are suspect")
    if any(r.other_cpu is not None and r.other_cpu > BUSY_ELSEWHERE for r in results):
        print(
            f"warning: other processes used more than {BUSY_ELSEWHERE:.0%} of the CPUs during some runs "
            "(column 'other CPU'); those runs are disturbed: run again on a quiet machine, or with more --rounds"
        )


# --- main --------------------------------------------------------------------------------


def check_tools() -> None:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (Debian: apt-get install wrk)")
    for module in ("flask", "gunicorn"):
        found = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
        if found.returncode != 0:
            raise BenchError(f"{sys.executable} cannot import {module}: run with .venv/bin/python (make install)")


def run(args: argparse.Namespace) -> None:
    check_tools()
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lectern-bench-")))
        print(f"instance  {folder}", file=sys.stderr)
        env = live.lectern_env(folder, live.sqlite_url(folder))
        live.prepare_instance(env)

        # No access log: writing one line a request is work neither server would do otherwise.
        serve = {"ready_path": TALK_PATH, "access_log": False}
        lectern = stack.enter_context(live.gunicorn("app:create_app()", env, folder, name="lectern", **serve))
        page = fetch(lectern.url(TALK_PATH))
        if page.status != 200 or not page.body:
            raise BenchError(f"lectern: {TALK_PATH} answered {page.status} with {len(page.body)} bytes")
        body_file = folder / "talk-page.html"
        body_file.write_bytes(page.body)

        bare_env = {
            **env,
            "BENCH_BODY_FILE": str(body_file),
            "BENCH_PATH": TALK_PATH,
            "BENCH_CONTENT_TYPE": page.content_type,
        }
        bare_app = "bare_app:create_app()"
        bare = stack.enter_context(live.gunicorn(bare_app, bare_env, folder, name="bare", cwd=BENCH, **serve))
        copy = fetch(bare.url(TALK_PATH))
        if (copy.body, copy.content_type) != (page.body, page.content_type):
            raise BenchError("bare: does not serve the same bytes and content type as lectern")

        results = measure([lectern, bare], args)
        print_report(results, args, page)


def main(argv: list[str] | None = None) -> int:
    return cli.main(run, parse_args(argv), live.LiveError)


if __name__ == "__main__":
    sys.exit(main())
