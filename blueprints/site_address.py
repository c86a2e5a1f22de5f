"""Every request is seen as addressed to SITE_URL: its scheme, its host and its path prefix.

Outermost WSGI middleware. What a request may claim about where it was sent (the Host header,
`X-Forwarded-Proto`, a `SCRIPT_NAME` header that gunicorn takes from 127.0.0.1 by default)
never reaches Flask, so `url_for`, `request.is_secure` and everything built on them (links,
the HSTS header, the Secure cookie) depend on the configuration alone. That is what lets a page
rendered once be served to everyone (blueprints/cached_pages.py) without a visitor choosing the
links every later visitor gets.

Only the path of a request is its own: a `SCRIPT_NAME` set in front of Lectern is put back in
front of the path, so `//evil.example/talks/x` stays that path (and finds no page) instead of
becoming `/talks/x` with every link pointing at evil.example.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SiteAddressMiddleware:
    def __init__(self, app: WSGIApp, site_url: str) -> None:
        self.app = app
        parts = urlsplit(site_url)
        self.scheme = parts.scheme or "http"
        self.host = parts.netloc or "localhost"
        self.server_name = parts.hostname or "localhost"
        self.server_port = str(parts.port or (443 if self.scheme == "https" else 80))
        # Where the site lives on its host: "" for the root, "/talks" for https://example.org/talks/.
        self.prefix = parts.path.rstrip("/")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            path = path[len(self.prefix) :]  # a proxy that passes the prefix on
        environ["SCRIPT_NAME"] = self.prefix
        environ["PATH_INFO"] = path or "/"
        environ["wsgi.url_scheme"] = self.scheme
        environ["HTTP_HOST"] = self.host
        environ["SERVER_NAME"] = self.server_name
        environ["SERVER_PORT"] = self.server_port
        return self.app(environ, start_response)
