"""The rate limits on the forms that sign people up (the RSVP form, the chat booking form).

Two limits on each POST, aimed at abuse and loose enough for a whole lab behind one address:
per address typed (`RSVP_LIMIT_PER_EMAIL`, keyed by the talk and the address as the rules keep
it) and per client (`RSVP_LIMIT_PER_ADDRESS`, the remote address after the trusted proxies).
Reading a form is never limited. Counted in fixed windows by `limits` (the library under
Flask-Limiter, whose per-request resolution of a route's limits cost more than the two counts):
in Redis when REDIS_URL is set, shared by every process; otherwise in each process's memory
(adapters/ratelimits.py). If Redis does not answer, the process counts in its
own memory for `PAUSE` seconds, says so in one log line, then tries Redis again.

A POST over a limit gets 429 with a page (the blueprint's 429 handler); nothing of it is read
or written. The check is two counters and no more: it runs before the database is touched.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Any

from flask import Flask, abort, current_app, request
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from adapters.ratelimits import LocalMemoryStorage
from services import addresses

log = logging.getLogger(__name__)

EXTENSION = "lectern.form_limits"
PAUSE = 5.0  # seconds in memory after Redis failed to answer


class FormLimits:
    """The limits' counters for one app: its storage, and memory while that storage is down."""

    def __init__(self, storage: Storage, fallback: bool = True) -> None:
        self.storage = storage
        self.memory = LocalMemoryStorage()  # for while `storage` does not answer
        self.fallback = fallback
        self._counting = FixedWindowRateLimiter(storage)
        self._in_memory = FixedWindowRateLimiter(self.memory)
        self._paused_until = 0.0
        self._items: dict[str, RateLimitItem] = {}

    def item(self, text: str) -> RateLimitItem:
        """A limit as configured ("5 per 10 minutes"), parsed once."""
        if text not in self._items:
            self._items[text] = parse(text)
        return self._items[text]

    def hit(self, limit: str, *key: str) -> bool:
        """Count one hit under `key`; False when the limit was already reached."""
        item = self.item(limit)
        if time.monotonic() < self._paused_until:
            return self._in_memory.hit(item, *key)
        try:
            return self._counting.hit(item, *key)
        except StorageError as error:
            if not self.fallback:
                raise
            self._paused_until = time.monotonic() + PAUSE
            log.warning("rate limits count in memory for %ss: their storage did not answer (%s)", PAUSE, error)
            return self._in_memory.hit(item, *key)


def register(app: Flask, storage_uri: str, storage_options: dict[str, Any]) -> None:
    """This app's counters (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED: memory while Redis is down)."""
    storage = storage_from_string(storage_uri, wrap_exceptions=True, **storage_options)
    app.extensions[EXTENSION] = FormLimits(storage, fallback=bool(app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"]))


def form_limits() -> FormLimits:
    return current_app.extensions[EXTENSION]


def check_sign_up(form: str, slug: str) -> None:
    """Answer 429 when this POST of `form` ("rsvp", "chat") for the talk `slug` is one too many."""
    config = current_app.config
    if not config["RATELIMIT_ENABLED"]:
        return
    limits = form_limits()
    if not limits.hit(config["RSVP_LIMIT_PER_EMAIL"], form, "email", email_key(slug)):
        abort(429)
    if not limits.hit(config["RSVP_LIMIT_PER_ADDRESS"], form, "address", request.remote_addr or "unknown"):
        abort(429)


def email_key(slug: str) -> str:
    """This talk and the address as the rules keep it.

    The kept address, not the typed one: look-alikes (a full-width letter, an ideographic full
    stop, an IDN domain in either form) are one address to the one-sign-up rule, so one to the
    limit too. Per talk, so that someone typing a victim's address can lock them out of one talk
    at most. Keyed by a digest, not the address: the key is a Redis key.
    """
    address = addresses.as_key(request.form.get("email") or "")
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), address.encode(), hashlib.sha256).hexdigest()
    return f"{slug}:{digest[:32]}"
