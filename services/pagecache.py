"""In-memory cache of rendered public pages, one per worker process.

An entry is served while the shared content version is the one it was rendered at and its
own validity window lasts (a talk page changes when the talk starts and when it ends).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime

from services.content_version import Version


@dataclass
class CachedPage:
    body: bytes
    etag: str
    version: int
    valid_until: datetime | None
    # The HTTP headers sent with the page, once a response has carried them (see blueprints/cached_pages.py).
    headers: list[tuple[str, str]] | None = None


class PageCache:
    def __init__(self, version: Version, max_entries: int = 2000) -> None:
        self.version = version
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
        page = CachedPage(body=body, etag=f"{version:x}-{stamp:x}", version=version, valid_until=valid_until)
        if version < 0:
            return page
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = page
        return page
