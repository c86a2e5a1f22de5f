"""Zoom's webhooks, checked without any web framework: the URL validation answer, the signature, the event.

A route receiving Zoom's events calls `verify_signature` on the raw body before anything else,
answers `endpoint.url_validation` with `url_validation_response`, and reads every other event with
`parse_event`. Zoom sends an event again when it is not answered fast, so handling must be
idempotent; `(event, meeting_id, event_ts)` names one event.

Signature (Zoom's documentation, DESIGN.md): `x-zm-signature` is `v0=` followed by the hex
HMAC-SHA256, keyed with the webhook secret token, of `v0:{x-zm-request-timestamp}:{raw body}`. The
timestamp is in seconds; one older than `max_age` is a replay and is refused, as is one from the
future beyond a small allowance for clocks that differ.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_AGE = 300  # seconds: five minutes
MAX_AHEAD = 60  # seconds a timestamp may be ahead of Lectern's clock
URL_VALIDATION = "endpoint.url_validation"
# Events Lectern follows, each about one meeting: without payload.object.id they are refused.
NAMING_A_MEETING = frozenset(
    {"meeting.started", "meeting.ended", "meeting.updated", "meeting.deleted", "recording.completed"}
)


class WebhookRejected(Exception):
    """The request is not a genuine, fresh, readable Zoom event. `reason` says why (for the log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class WebhookEvent:
    event: str
    # Milliseconds since the epoch; Zoom's description leaves it out of a few events (meeting.deleted).
    event_ts: int | None
    meeting_id: str | None  # payload.object.id as a string, when the event is about a meeting
    payload: dict[str, Any]


def _digest(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def url_validation_response(secret: str, plain_token: str) -> dict[str, str]:
    """The answer to `endpoint.url_validation`, which proves to Zoom that Lectern holds the secret."""
    if not secret:
        raise WebhookRejected("no Zoom webhook secret is configured (LECTERN_ZOOM_WEBHOOK_SECRET)")
    return {"plainToken": plain_token, "encryptedToken": _digest(secret, plain_token.encode())}


def signature_for(secret: str, timestamp: str, raw_body: bytes) -> str:
    """The `x-zm-signature` Zoom sends for this timestamp and body."""
    return "v0=" + _digest(secret, b"v0:" + timestamp.encode() + b":" + raw_body)


def verify_signature(
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    raw_body: bytes,
    now: datetime,
    max_age: int = MAX_AGE,
    max_ahead: int = MAX_AHEAD,
) -> None:
    """Return if the request is Zoom's and fresh; else raise WebhookRejected."""
    if not secret:
        raise WebhookRejected("no Zoom webhook secret is configured (LECTERN_ZOOM_WEBHOOK_SECRET)")
    if not timestamp_header:
        raise WebhookRejected("the x-zm-request-timestamp header is missing")
    if not signature_header:
        raise WebhookRejected("the x-zm-signature header is missing")
    timestamp = timestamp_header.strip()
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise WebhookRejected("the x-zm-request-timestamp header is not a number of seconds")
    age = now.astimezone(UTC).timestamp() - int(timestamp)
    if age > max_age:
        raise WebhookRejected(f"the request is {int(age)} seconds old (at most {max_age}): a replay, or very late")
    if age < -max_ahead:
        raise WebhookRejected(f"the request's timestamp is {int(-age)} seconds in the future")
    expected = signature_for(secret, timestamp, raw_body).encode()
    if not hmac.compare_digest(expected, signature_header.strip().encode("utf-8", "replace")):
        raise WebhookRejected("the signature does not match")


def parse_event(raw_body: bytes) -> WebhookEvent:
    """The event in a (verified) body, or WebhookRejected when it is not JSON or lacks what every event has."""
    try:
        data = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected("the body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookRejected("the body is not a JSON object")
    event, payload, event_ts = data.get("event"), data.get("payload"), data.get("event_ts")
    if not isinstance(event, str) or not event:
        raise WebhookRejected("the event has no name (event)")
    if not isinstance(payload, dict):
        raise WebhookRejected(f"the {event} event has no payload")
    if event_ts is not None and (not isinstance(event_ts, int) or isinstance(event_ts, bool)):
        raise WebhookRejected(f"the {event} event's event_ts is not a number")
    if event == URL_VALIDATION:
        if not isinstance(payload.get("plainToken"), str) or not payload["plainToken"]:
            raise WebhookRejected("the URL validation has no plainToken")
        return WebhookEvent(event, event_ts, None, payload)
    return WebhookEvent(event, event_ts, _meeting_id(event, payload), payload)


def _meeting_id(event: str, payload: dict[str, Any]) -> str | None:
    """The meeting an event is about, as a string: Zoom sends payload.object.id as a string in some
    events (meeting.started) and an int64 in others (meeting.deleted)."""
    thing = payload.get("object")
    value = thing.get("id") if isinstance(thing, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    if event in NAMING_A_MEETING:
        raise WebhookRejected(f"the {event} event names no meeting (payload.object.id)")
    return None
