"""How close does the shipped nginx site, in front of gunicorn, come to nginx serving the same bytes as a file?

    .venv/bin/python bench/proxy_read.py [--duration 10] [--connections 32] [--threads 2] [--rounds 2]
    make bench-proxy

One run:

1. creates a throwaway instance in a temporary folder (SQLite database, demo content), as the
   live tests do (tests/concurrency/live.py);
2. serves Lectern with gunicorn as deployed (deploy/gunicorn.conf.py, 2 sync workers, production
   mode), and nginx with the shipped site file (deploy/nginx/lectern.conf) in front of it, with
   this run's ports and folders in place of the documented ones;
3. keeps the bytes of the talk page and of the home page, writes them as files, and adds to the
   same nginx a second server that serves those files (same access log format), so that both
   sides run in the same nginx processes;
4. warms each up, then loads them with wrk, page by page, alternating proxy and file, and prints
   requests/sec, latency percentiles and the ratio proxy / file for each page (target >= 0.8);
5. stops nginx and gunicorn (their whole process groups) whatever happens, and removes the folder.

The exit status is 1 when something could not be set up or started, or wrk failed; a low ratio
is reported, not an error. Results are recorded by hand in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import cli
from cli import BenchError, markdown_table
from talk_page import WrkResult, code_state, fetch, parse_wrk, run_wrk

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.concurrency import live  # noqa: E402  (the instance, gunicorn and nginx helpers the tests use)

TALK_PATH = f"/talks/{live.TALK_SLUG}"
PAGES = {"talk page": TALK_PATH, "home page": "/"}
# Where the file server has each page: the talk page at its own path, the home page as a named file.
FILE_PATHS = {"talk page": TALK_PATH, "home page": "/home.html"}
TARGET_RATIO = 0.8


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return cli.wrk_args(__doc__.split("\n\n")[0], "URL", argv)


def check_tools() -> None:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (Debian: apt-get install wrk)")
    reason = live.nginx_unavailable()
    if reason:
        raise BenchError(reason)
    for module in ("flask", "gunicorn"):
        found = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
        if found.returncode != 0:
            raise BenchError(f"{sys.executable} cannot import {module}: run with .venv/bin/python (make install)")


def static_server(folder: Path, root: Path, port: int) -> str:
    """An nginx server block serving the kept pages as files (FILE_PATHS), logging as the site does."""
    return f"""
    server {{
        listen 127.0.0.1:{port};
        access_log {folder / "static-access.log"} lectern;
        root {root};
        default_type text/html;
    }}"""


def measure(urls: dict[tuple[str, str], str], args: argparse.Namespace) -> list[WrkResult]:
    if args.warmup:
        for (page, side), url in urls.items():
            print(f"warm-up   {page} via {side} {args.warmup}s", file=sys.stderr)
            run_wrk(url, args.threads, args.connections, args.warmup)
    results = []
    for round_ in range(1, args.rounds + 1):
        for page in PAGES:
            sides = ["proxy", "file"] if round_ % 2 else ["file", "proxy"]
            for side in sides:
                print(f"round {round_}   {page} via {side} {args.duration}s", file=sys.stderr)
                output = run_wrk(urls[(page, side)], args.threads, args.connections, args.duration)
                results.append(parse_wrk(output, f"{page} via {side}", round_))
    return results


def report(results: list[WrkResult], args: argparse.Namespace, sizes: dict[str, int]) -> None:
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split(" Copyright")[0].strip()
    nginx_version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    cpu = models[0] if models else platform.processor()
    load = os.getloadavg()
    print(
        f"\n{', '.join(f'{page} {sizes[page]} bytes' for page in PAGES)}; gunicorn {live.WORKERS} sync workers "
        f"(deploy/gunicorn.conf.py); nginx (deploy/nginx/lectern.conf, 2 workers); wrk -t{args.threads} "
        f"-c{args.connections} -d{args.duration}s\n{os.cpu_count()} CPUs ({cpu}); {nginx_version}; {wrk_version}; "
        f"load average before the run {load[0]:.2f}\ncode: {code_state()}\n"
    )
    rows = [["page via", "round", "req/s", "p50 ms", "p99 ms", "requests", "non-2xx", "socket err"]]
    rows.append(["-" * len(cell) for cell in rows[0]])
    for r in results:
        rows.append(
            [r.server, str(r.round), f"{r.rps:.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}"]
            + [str(n) for n in (r.requests, r.non_2xx, r.socket_errors)]
        )
    print(markdown_table(rows))
    print()
    for page in PAGES:

        def mean(side: str, page: str = page) -> float:
            return statistics.fmean(r.rps for r in results if r.server == f"{page} via {side}")

        ratio = mean("proxy") / mean("file")
        verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
        print(f"{page}: proxy / file req/s {ratio:.2f}; {verdict} the target {TARGET_RATIO}")
    if any(r.non_2xx or r.socket_errors for r in results):
        print("warning: some requests failed (see non-2xx / socket errors); the numbers are suspect")


def run(args: argparse.Namespace) -> None:
    check_tools()
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lectern-bench-proxy-")))
        print(f"instance  {folder}", file=sys.stderr)
        env = {**live.lectern_env(folder, live.sqlite_url(folder)), "LECTERN_PROXY_HOPS": "1"}
        live.prepare_instance(env)
        app = stack.enter_context(
            live.gunicorn("app:create_app()", env, folder, ready_path=TALK_PATH, access_log=False, shipped_config=True)
        )

        pages = folder / "pages"
        sizes = {}
        for page, path in PAGES.items():
            fetched = fetch(app.url(path))
            if fetched.status != 200 or not fetched.body:
                raise BenchError(f"{path} answered {fetched.status} with {len(fetched.body)} bytes")
            target = pages / FILE_PATHS[page].lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(fetched.body)
            sizes[page] = len(fetched.body)

        proxy_port, file_port = live.free_port(), live.free_port()
        site = live.render_site(folder, upstreams=[f"127.0.0.1:{app.port}"], port=proxy_port)
        conf = live.nginx_conf(folder, site, extra_http=static_server(folder, pages, file_port), workers=2)
        proxy = stack.enter_context(live.nginx(conf, proxy_port))
        urls = {}
        for page, path in PAGES.items():
            file_url = f"http://127.0.0.1:{file_port}{FILE_PATHS[page]}"
            via_proxy, via_file = fetch(proxy.url(path)), fetch(file_url)
            if via_proxy.body != via_file.body:
                raise BenchError(f"{page}: the proxy and the file server answer different bytes")
            urls[(page, "proxy")] = proxy.url(path)
            urls[(page, "file")] = file_url
        results = measure(urls, args)
        report(results, args, sizes)


if __name__ == "__main__":
    sys.exit(cli.main(run, parse_args(), live.LiveError))
