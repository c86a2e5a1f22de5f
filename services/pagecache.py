"""In-memory cache of rendered public pages, one per worker process.

An entry is served while the shared content version is the one it was rendered at and its
own validity window lasts (a talk page changes when the talk starts and when it ends).

A page's ETag names the release too (`release_fingerprint`: the code, templates and static
files that render it), so that after an upgrade a proxy or browser asking "still this one?"
gets the new page, not a 304 for the old one: the content version alone does not change
when the code does.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from services.content_version import Version


@dataclass
class CachedPage:
    body: bytes
    etag: str
    version: int
    valid_until: datetime | None
    # The HTTP headers sent with the page, once a response has carried them (see blueprints/cached_pages.py).
    headers: list[tuple[str, str]] | None = None
    max_age: int | None = None  # the max-age in those headers, once read


# What renders a page: the code, its templates and static files (under the application's folder).
RELEASE_FILES = ("*.py", "blueprints/**/*.py", "services/**/*.py", "adapters/**/*.py", "templates/**/*", "static/**/*")


@functools.cache
def release_fingerprint(root: Path) -> str:
    """A short digest of the files that render the pages: it changes with any release that
    changes them, and is the same on every host running the same release."""
    digest = hashlib.sha256()
    files = sorted({path for pattern in RELEASE_FILES for path in root.glob(pattern) if path.is_file()})
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:10]


class PageCache:
    def __init__(self, version: Version, max_entries: int = 2000, release: str = "") -> None:
        self.version = version
        self.release = release
        self.max_entries = max_entries
        self._entries: dict[Hashable, CachedPage] = {}
        self._lock = threading.Lock()

    def lookup(self, key: Hashable, now: datetime) -> CachedPage | None:
        page = self._entries.get(key)
        if page is None or page.version != self.version.current():
            return None
        if page.valid_until is not None and now >= page.valid_until:
            return None
        return page

    def store(self, key: Hashable, body: bytes, version: int, valid_until: datetime | None) -> CachedPage:
        """Keep a page rendered from data read at `version` (read before the data, not after).

        A page rendered at an unknown version (negative) is served but never kept.
        """
        stamp = int(valid_until.timestamp()) if valid_until else 0
        etag = f"{self.release}-{version:x}-{stamp:x}" if self.release else f"{version:x}-{stamp:x}"
        page = CachedPage(body=body, etag=etag, version=version, valid_until=valid_until)
        if version < 0:
            return page
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = page
        return page
