"""Where the rate limits count without Redis: this process's memory, as limits' "memory://" does,
without its timer thread.

limits' MemoryStorage frees expired counters from a timer thread, which it starts anew (to run
10 ms later, over every counter) on each hit that finds none running: under steady sign-ups
that is a new thread for nearly every request, about 0.3 ms of CPU each on the benchmark
machine (docs/benchmarks.md), against a few microseconds for the count itself. This storage
counts the same fixed windows (the strategy blueprints/limits.py counts with),
treats an expired counter as zero when it reads it, and drops expired counters from memory
on a hit at most once a second.

It registers the scheme `lectern-memory://` with limits (limits' documented way to add a
storage: subclass `limits.storage.Storage`); app.py names it when REDIS_URL is not set. Like
"memory://", each process counts on its own.
"""

from __future__ import annotations

import threading
import time
from typing import ClassVar

from limits.storage import Storage

SWEEP_EVERY = 1.0  # seconds between two passes that drop expired counters


class LocalMemoryStorage(Storage):
    STORAGE_SCHEME: ClassVar[list[str]] = ["lectern-memory"]  # limits registers the class under it

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: float | str | bool) -> None:
        self._counters: dict[str, tuple[int, float]] = {}  # key: (count, when its window ends)
        self._lock = threading.Lock()
        self._next_sweep = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            count, ends = self._counters.get(key, (0, 0.0))
            if ends <= now:  # a new window starts with this hit
                count, ends = 0, now + expiry
            count += amount
            self._counters[key] = (count, ends)
            return count

    def get(self, key: str) -> int:
        count, ends = self._counters.get(key, (0, 0.0))
        return count if ends > time.time() else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        _, ends = self._counters.get(key, (0, 0.0))
        return ends if ends > now else now

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = len(self._counters)
            self._counters.clear()
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._counters.pop(key, None)

    def _sweep(self, now: float) -> None:
        self._counters = {key: value for key, value in self._counters.items() if value[1] > now}
        self._next_sweep = now + SWEEP_EVERY
