"""Serving unchanged talk pages straight from the page cache, before Flask dispatches anything.

A talk page is the hottest page of the site and holds nothing per visitor. The first visit
after a change goes through Flask as usual (routing, the view, security headers) and the view
stores the page; this middleware then records the headers Flask sent with it. Later visits are
answered here, from memory, with those same headers: no routing, no database, no rendering.
"""

from __future__ import annotations

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
# Headers that belong to one response, never to be replayed.
PER_RESPONSE = {"date", "set-cookie", "content-length"}
# What a 304 repeats of the full response (RFC 9110, 15.4.5), plus the security headers.
NOT_MODIFIED_DROP = {"content-type", "content-length", "content-disposition"}


def talk_key(slug: str) -> tuple[str, str]:
    """The cache key of a talk page, shared by the view that stores it and this middleware."""
    return ("talk", slug)


def _shareable(headers: list[tuple[str, str]]) -> bool:
    """Headers fit to send everyone: public, and no cookie (a visitor's session stays theirs)."""
    names = {k.lower() for k, _ in headers}
    cache_control = next((v for k, v in headers if k.lower() == "cache-control"), "")
    return "set-cookie" not in names and "public" in cache_control.lower()


class CachedPagesMiddleware:
    def __init__(self, app: WSGIApp, cache: PageCache) -> None:
        self.app = app
        self.cache = cache

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        match = TALK_PATH.match(environ.get("PATH_INFO", ""))
        if match is None or environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or environ.get("QUERY_STRING"):
            return self.app(environ, start_response)
        key = talk_key(match["slug"])
        page = self.cache.lookup(key, datetime.now(UTC))
        if page is not None and page.headers is not None:
            return self._serve(page, environ, start_response)
        return self._pass_through(key, environ, start_response)

    def _serve(self, page: CachedPage, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert page.headers is not None
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and parse_etags(if_none_match).contains_weak(page.etag):
            start_response("304 NOT MODIFIED", [(k, v) for k, v in page.headers if k.lower() not in NOT_MODIFIED_DROP])
            return []
        start_response("200 OK", [*page.headers, ("Content-Length", str(len(page.body)))])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [page.body]

    def _pass_through(
        self, key: tuple[str, str], environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        def remember_headers(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status.startswith("200") and environ["REQUEST_METHOD"] == "GET" and _shareable(headers):
                sent_etag = next((v for k, v in headers if k.lower() == "etag"), None)
                page = self.cache.lookup(key, datetime.now(UTC))
                # Only the response of the page now in the cache, so headers and body agree.
                if page is not None and sent_etag == f'"{page.etag}"':
                    page.headers = [(k, v) for k, v in headers if k.lower() not in PER_RESPONSE]
            return start_response(status, headers, exc_info)

        return self.app(environ, remember_headers)
