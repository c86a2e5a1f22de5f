"""Zoom's webhooks at POST /webhooks/zoom: checked, recorded, applied, answered at once.

Zoom calls this route, not a browser: no CSRF token (the signature stands for it), no session,
answers in plain text or JSON. Every request is checked before it is read:

1. the secret is configured (else 503: Zoom tries again later, once someone has set it);
2. the body is small (413 otherwise) and both headers are there (400);
3. `x-zm-signature` matches the raw body and `x-zm-request-timestamp` is fresh (401), which is
   true of the URL validation handshake too: answered unsigned, it would sign anything anyone
   sends (its answer is the HMAC of a text the caller chooses);
4. the body is a Zoom event (400).

A request handled already (its signature is on record) is a replay: 409. Nothing here calls Zoom:
the rules are in services/zoom_events.py and only write to the database.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from adapters.zoom_webhooks import (
    URL_VALIDATION,
    WebhookRejected,
    parse_event,
    url_validation_response,
    verify_signature,
)
from extensions import csrf, db
from services import locks, zoom_events

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)

# Zoom's events are a few kilobytes; a recording's lists its files. Anything far bigger is not Zoom.
MAX_BODY = 256 * 1024
TIMESTAMP_HEADER = "x-zm-request-timestamp"
SIGNATURE_HEADER = "x-zm-signature"


def now() -> datetime:
    return datetime.now(UTC)


def plain(status: int, reason: str) -> Response:
    return Response(reason + "\n", status=status, mimetype="text/plain")


@bp.post("/zoom")
def zoom() -> Any:
    secret = current_app.config.get("ZOOM_WEBHOOK_SECRET") or ""
    if not secret:
        return plain(503, "Zoom webhooks are not set up on this site: LECTERN_ZOOM_WEBHOOK_SECRET is not configured.")
    if request.content_length is not None and request.content_length > MAX_BODY:
        return plain(413, f"The body is larger than {MAX_BODY} bytes.")
    request.max_content_length = MAX_BODY  # a body sent without its length is held to the same
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return plain(413, f"The body is larger than {MAX_BODY} bytes.")
    timestamp, signature = request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER)
    if not timestamp or not signature:
        return _refused(400, f"the {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers are required")
    if not (timestamp.strip().isascii() and timestamp.strip().isdigit()):
        return _refused(400, f"the {TIMESTAMP_HEADER} header is not a number of seconds")
    moment = now()
    try:
        verify_signature(secret, timestamp, signature, raw, moment)
    except WebhookRejected as rejected:  # a wrong signature, or a timestamp too old or ahead
        return _refused(401, rejected.reason)
    try:
        event = parse_event(raw)
    except WebhookRejected as rejected:
        return _refused(400, rejected.reason)
    if event.event == URL_VALIDATION:
        return jsonify(url_validation_response(secret, event.payload["plainToken"]))
    locks.begin_write(db.session)
    try:
        zoom_events.record_receipt(db.session, signature.strip(), event.event, moment)
    except IntegrityError:
        db.session.rollback()
        return _refused(409, "this request was received already (a replay)")
    providers = ("zoom", "fake") if current_app.config.get("MEETING_PROVIDER") == "fake" else ("zoom",)
    done = zoom_events.follow(db.session, event, providers, moment)
    db.session.commit()
    log.info("Zoom webhook %s: %s", event.event, done)
    return plain(200, "OK")


def _refused(status: int, reason: str) -> Response:
    log.warning("Zoom webhook refused (%s): %s", status, reason)
    return plain(status, f"Refused: {reason}.")
