"""What every benchmark's command line shares: its error, and a main that always cleans up."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable


class BenchError(Exception):
    """Something could not be set up, started or measured."""


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    sys.exit(128 + signum)  # unwinds the with blocks: servers stopped, databases dropped


def main(run: Callable[[argparse.Namespace], None], args: argparse.Namespace, *errors: type[Exception]) -> int:
    """Run one benchmark: 1 when something could not be set up (BenchError or `errors`), 130 on Ctrl-C."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        run(args)
    except (BenchError, *errors) as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    return 0


def markdown_table(rows: list[list[str]]) -> str:
    """Rows as a Markdown table (the first is the header, the second the rule): the first column
    left-aligned, the numbers right-aligned, every column as wide as its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def wrk_args(description: str, each: str, argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of a read benchmark: wrk's duration, connections and threads, a warm-up
    and the measured rounds, alternating between the `each` compared (servers, addresses)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    warmup = f"seconds of unmeasured load per {each} first (default 3)"
    parser.add_argument("--warmup", type=int, default=3, help=warmup)
    parser.add_argument("--rounds", type=int, default=2, help=f"measured runs per {each}, alternating (default 2)")
    args = parser.parse_args(argv)
    if min(args.duration, args.connections, args.threads, args.rounds) < 1 or args.warmup < 0:
        parser.error("--duration, --connections, --threads and --rounds must be positive")
    if args.connections < args.threads:
        parser.error("wrk needs at least one connection per thread")
    return args
