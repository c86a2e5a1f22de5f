"""Addresses on this site, made one way for pages and for emails.

An absolute link is SITE_URL, path prefix included (`https://example.org/seminars/`), followed
by a route's path (`/talks/<slug>`, `/rsvp/<token>`), never the request's Host header (which
anyone can set, and which would then reach every visitor through the page cache). A route's
path comes from the app's URL map without a request, so the job consumer, which has none,
makes the very links a page does, and each path is written once: in its route.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app


def absolute(site_url: str, path: str) -> str:
    """`path`, from the site's root ("/talks/x"), under `site_url`: https://example.org/seminars/talks/x."""
    return site_url.rstrip("/") + "/" + path.lstrip("/")


def domain(site_url: str) -> str:
    """The site's host name, for calendar UIDs and Message-IDs."""
    return urlsplit(site_url).hostname or "lectern.invalid"


def path_for(endpoint: str, **values: Any) -> str:
    """A route's path from the site's root, without SITE_URL's prefix, in a request or not."""
    return current_app.url_map.bind("localhost").build(endpoint, values)


def link_for(endpoint: str, **values: Any) -> str:
    """The absolute address of a route (`public.talk_page`, `rsvp.manage`), in a request or not."""
    return absolute(current_app.config["SITE_URL"], path_for(endpoint, **values))
