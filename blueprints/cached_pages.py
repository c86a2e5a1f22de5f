"""Serving unchanged public pages straight from the page cache, before Flask dispatches anything.

The pages every visitor gets alike (a talk page, the home page, the schedules, the calendar
files, the feed) hold nothing per visitor. The first visit after a change goes through Flask as
usual (routing, the view, security headers). A talk page's view stores the page itself and this
middleware records the headers Flask sent with it; for the other pages this middleware keeps
the whole response, when the view said how long it holds (SHARED_UNTIL). Later visits are
answered here, from memory, with those same bytes and headers: no routing, no database, no
rendering.

Only a GET or HEAD without a query string is answered from, or kept in, the cache: a query
string goes on to Flask (the pages ignore it, so the answer is the same, only slower).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from werkzeug.http import parse_etags

from services.pagecache import CachedPage, PageCache

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# A slug holds no control character: such a path always goes on to Flask, which refuses it
# (blueprints/guards.py), so it is never answered from, nor stored in, the cache.
TALK_PATH = re.compile(r"^/talks/(?P<slug>[^/.\x00-\x1f\x7f]+)$")
# The other shared pages, each kept under its own path (the views in blueprints/public.py).
SHARED_PATHS = (
    re.compile(r"^/$"),
    re.compile(r"^/semesters$"),
    re.compile(r"^/semesters/[^/\x00-\x1f\x7f]+$"),
    re.compile(r"^/calendar\.ics$"),
    re.compile(r"^/talks/[^/\x00-\x1f\x7f]+\.ics$"),
    re.compile(r"^/feed\.atom$"),
)
# Set by a view in the WSGI environment: the response may be kept until then (None: until the
# content changes). A response without it is never kept.
SHARED_UNTIL = "lectern.shared_until"
# Headers that belong to one response, never to be replayed.
PER_RESPONSE = {"date", "set-cookie", "content-length"}
# What a 304 repeats of the full response (RFC 9110, 15.4.5), plus the security headers.
NOT_MODIFIED_DROP = {"content-type", "content-length", "content-disposition"}


def now() -> datetime:
    """The moment a cached page is checked against its validity (tests move it on)."""
    return datetime.now(UTC)


def talk_key(slug: str) -> tuple[str, str]:
    """The cache key of a talk page, shared by the view that stores it and this middleware."""
    return ("talk", slug)


def shared_key(path: str) -> tuple[str, str]:
    return ("shared", path)


def _shareable(headers: list[tuple[str, str]]) -> bool:
    """Headers fit to send everyone: public, and no cookie (a visitor's session stays theirs)."""
    names = {k.lower() for k, _ in headers}
    cache_control = next((v for k, v in headers if k.lower() == "cache-control"), "")
    return "set-cookie" not in names and "public" in cache_control.lower()


def _max_age_within(page: CachedPage) -> list[tuple[str, str]]:
    """The headers as kept, with a max-age no longer than the page holds: a copy rendered a while
    ago must not let a proxy keep it past the moment it changes (sign-up closing, a talk ending).
    Until its last max-age before that moment, the kept headers as they are."""
    assert page.headers is not None
    if page.valid_until is None:
        return page.headers
    left = max(0, math.ceil((page.valid_until - now()).total_seconds()))
    if page.max_age is None:
        ages = [int(m[1]) for k, v in page.headers if k.lower() == "cache-control" for m in MAX_AGE.finditer(v)]
        page.max_age = min(ages, default=0)
    if left >= page.max_age:
        return page.headers

    def capped(value: str) -> str:
        return MAX_AGE.sub(lambda m: f"max-age={min(int(m[1]), left)}", value)

    return [(k, capped(v) if k.lower() == "cache-control" else v) for k, v in page.headers]


MAX_AGE = re.compile(r"max-age=(\d+)")


class CachedPagesMiddleware:
    def __init__(self, app: WSGIApp, cache: PageCache) -> None:
        self.app = app
        self.cache = cache

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or environ.get("QUERY_STRING"):
            return self.app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        match = TALK_PATH.match(path)
        if match is not None:
            key = talk_key(match["slug"])
        elif any(pattern.match(path) for pattern in SHARED_PATHS):
            key = shared_key(path)
        else:
            return self.app(environ, start_response)
        page = self.cache.lookup(key, now())
        if page is not None and page.headers is not None:
            return self._serve(page, environ, start_response)
        if match is not None:
            return self._pass_through(key, environ, start_response)
        return self._render_and_keep(key, environ, start_response)

    def _serve(self, page: CachedPage, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert page.headers is not None
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        has_etag = any(k.lower() == "etag" for k, _ in page.headers)
        headers = _max_age_within(page)
        if has_etag and if_none_match and parse_etags(if_none_match).contains_weak(page.etag):
            start_response("304 NOT MODIFIED", [(k, v) for k, v in headers if k.lower() not in NOT_MODIFIED_DROP])
            return []
        start_response("200 OK", [*headers, ("Content-Length", str(len(page.body)))])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [page.body]

    def _pass_through(
        self, key: tuple[str, str], environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        def remember_headers(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status.startswith("200") and environ["REQUEST_METHOD"] == "GET" and _shareable(headers):
                sent_etag = next((v for k, v in headers if k.lower() == "etag"), None)
                page = self.cache.lookup(key, now())
                # Only the response of the page now in the cache, so headers and body agree.
                if page is not None and sent_etag == f'"{page.etag}"':
                    page.headers = [(k, v) for k, v in headers if k.lower() not in PER_RESPONSE]
            return start_response(status, headers, exc_info)

        return self.app(environ, remember_headers)

    def _render_and_keep(
        self, key: tuple[str, str], environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Flask's answer, kept whole when it is a 200 to a GET, fit for everyone, and the view
        said until when it holds."""
        version = self.cache.version.current()  # read before the view reads the data
        sent: dict[str, Any] = {}

        def remember(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            sent["status"], sent["headers"] = status, headers
            return start_response(status, headers, exc_info)

        chunks = self.app(environ, remember)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        headers = sent.get("headers", [])
        if (
            sent.get("status", "").startswith("200")
            and environ["REQUEST_METHOD"] == "GET"
            and SHARED_UNTIL in environ
            and _shareable(headers)
        ):
            page = self.cache.store(key, body, version, environ[SHARED_UNTIL])
            page.headers = [(k, v) for k, v in headers if k.lower() not in PER_RESPONSE]
        return [body]
