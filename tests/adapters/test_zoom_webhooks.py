"""Zoom's webhooks: the URL validation answer, signatures and their freshness, and reading events.

The expected digests were computed with `openssl dgst -sha256 -hmac`, not with the code under test.
The sample events are checked against Zoom's webhook description (meetings-webhooks.openapi.json)
before they are read, so that they are the shapes Zoom sends.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from adapters.zoom_webhooks import (
    WebhookEvent,
    WebhookRejected,
    parse_event,
    signature_for,
    url_validation_response,
    verify_signature,
)
from tests.zoom_fake import webhooks_openapi

SECRET = "lectern-webhook-secret"
TIMESTAMP = "1700000000"
SENT = datetime.fromtimestamp(int(TIMESTAMP), UTC)
BODY = (
    b'{"event":"meeting.ended","event_ts":1700000000123,'
    b'"payload":{"account_id":"AcC0unt","object":{"id":"85746065001"}}}'
)
# printf '%s' 'v0:1700000000:<BODY>' | openssl dgst -sha256 -hmac lectern-webhook-secret
SIGNATURE = "v0=5e938cea816ede07fea143603b879d42de1508322820c3fd8236e9fd5ced2387"


def test_the_url_validation_answer_proves_lectern_holds_the_secret() -> None:
    # printf '%s' qgg8vlvZRS6UYooatFL8Aw | openssl dgst -sha256 -hmac lectern-webhook-secret
    assert url_validation_response(SECRET, "qgg8vlvZRS6UYooatFL8Aw") == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": "c3fad942bdf18edce6c59778ada12e0a103d136238ac520134c1629ef4a7faa3",
    }
    with pytest.raises(WebhookRejected, match="no Zoom webhook secret"):
        url_validation_response("", "qgg8vlvZRS6UYooatFL8Aw")


def test_a_signed_fresh_request_is_accepted() -> None:
    assert signature_for(SECRET, TIMESTAMP, BODY) == SIGNATURE
    verify_signature(SECRET, TIMESTAMP, SIGNATURE, BODY, SENT + timedelta(seconds=3))
    verify_signature(SECRET, TIMESTAMP, SIGNATURE, BODY, SENT + timedelta(seconds=300))
    verify_signature(SECRET, TIMESTAMP, SIGNATURE, BODY, SENT - timedelta(seconds=60))


@pytest.mark.parametrize(
    ("timestamp", "signature", "body", "reason"),
    [
        (None, SIGNATURE, BODY, "x-zm-request-timestamp header is missing"),
        ("", SIGNATURE, BODY, "x-zm-request-timestamp header is missing"),
        (TIMESTAMP, None, BODY, "x-zm-signature header is missing"),
        (TIMESTAMP, "", BODY, "x-zm-signature header is missing"),
        ("17e8", SIGNATURE, BODY, "not a number of seconds"),
        ("-1700000000", SIGNATURE, BODY, "not a number of seconds"),
        ("1700000000.0", SIGNATURE, BODY, "not a number of seconds"),
        ("١٧٠٠٠٠٠٠٠٠", SIGNATURE, BODY, "not a number of seconds"),
        (TIMESTAMP, SIGNATURE[:-1] + "8", BODY, "signature does not match"),
        (TIMESTAMP, SIGNATURE.removeprefix("v0="), BODY, "signature does not match"),
        (TIMESTAMP, "v0=é", BODY, "signature does not match"),
        (TIMESTAMP, SIGNATURE, BODY.replace(b"85746065001", b"85746065002"), "signature does not match"),
        ("1700000001", SIGNATURE, BODY, "signature does not match"),
    ],
)
def test_a_request_without_a_good_signature_is_rejected(
    timestamp: str | None, signature: str | None, body: bytes, reason: str
) -> None:
    with pytest.raises(WebhookRejected, match=reason):
        verify_signature(SECRET, timestamp, signature, body, SENT)


def test_a_replay_is_rejected_once_five_minutes_have_passed() -> None:
    with pytest.raises(WebhookRejected, match="301 seconds old"):
        verify_signature(SECRET, TIMESTAMP, SIGNATURE, BODY, SENT + timedelta(seconds=301))
    with pytest.raises(WebhookRejected, match="seconds old"):
        verify_signature(SECRET, TIMESTAMP, SIGNATURE, BODY, SENT + timedelta(days=30))


def test_a_replay_with_a_new_timestamp_does_not_match_the_old_signature() -> None:
    fresh = str(int(TIMESTAMP) + 3600)
    with pytest.raises(WebhookRejected, match="signature does not match"):
        verify_signature(SECRET, fresh, SIGNATURE, BODY, SENT + timedelta(hours=1))


def test_a_timestamp_from_the_future_is_rejected() -> None:
    with pytest.raises(WebhookRejected, match="61 seconds in the future"):
        verify_signature(SECRET, TIMESTAMP, SIGNATURE, BODY, SENT - timedelta(seconds=61))


def test_without_a_secret_nothing_is_accepted() -> None:
    with pytest.raises(WebhookRejected, match="no Zoom webhook secret"):
        verify_signature("", TIMESTAMP, signature_for("", TIMESTAMP, BODY), BODY, SENT)


# --- Events -----------------------------------------------------------------------------------


def zoom_shaped(name: str, event: dict[str, Any]) -> bytes:
    """The event as bytes, once Zoom's webhook description has accepted it."""
    body = json.dumps(event).encode()

    class Delivery:
        method = "post"
        content_type = "application/json"
        parameters = RequestParameters(query=ImmutableMultiDict(), header=Headers(), cookie=ImmutableMultiDict())

        def __init__(self) -> None:
            self.name, self.body = name, body

    webhooks_openapi().validate_request(Delivery())
    return body


MEETING = {
    "uuid": "4444AAAiAAAAAiAiAiiAii==",
    "host_id": "KDcuGIm1QgePTO8WbOqwIQ",
    "topic": "What Quiet Benchmarks Hide",
    "type": 2,
    "start_time": "2031-03-20T20:00:00Z",
    "timezone": "America/Montreal",
    "duration": 60,
}


def test_meeting_started_names_its_meeting_as_a_string() -> None:
    event = {
        "event": "meeting.started",
        "event_ts": 1700000000123,
        "payload": {"account_id": "AcC0unt", "object": {**MEETING, "id": "85746065001"}},
    }
    assert parse_event(zoom_shaped("meeting.started", event)) == WebhookEvent(
        "meeting.started", 1700000000123, "85746065001", event["payload"]
    )


def test_meeting_ended_too() -> None:
    event = {
        "event": "meeting.ended",
        "event_ts": 1700003600123,
        "payload": {
            "account_id": "AcC0unt",
            "object": {**MEETING, "id": "85746065001", "end_time": "2031-03-20T21:00:00Z"},
        },
    }
    assert parse_event(zoom_shaped("meeting.ended", event)).meeting_id == "85746065001"


def test_meeting_deleted_names_its_meeting_as_a_number_and_may_lack_a_time() -> None:
    event = {
        "event": "meeting.deleted",
        "payload": {"account_id": "AcC0unt", "operator": "ada@example.edu", "object": {**MEETING, "id": 85746065001}},
    }
    parsed = parse_event(zoom_shaped("meeting.deleted", event))
    assert (parsed.event, parsed.event_ts, parsed.meeting_id) == ("meeting.deleted", None, "85746065001")


def test_recording_completed() -> None:
    event = {
        "event": "recording.completed",
        "event_ts": 1700007200000,
        "download_token": "abJhbGciOiJIUzUxMiJ9.eyJpc3MiOiJodHRwczovL2V2ZW50Lnpvb20udXMi",
        "payload": {
            "account_id": "AcC0unt",
            "object": {
                **MEETING,
                "id": 85746065001,
                "account_id": "AcC0unt",
                "password": "132456",
                "host_email": "talks-host@example.edu",
                "share_url": "https://example.com/rec/share/abc",
                "total_size": 3328371,
                "recording_count": 1,
                "recording_files": [
                    {
                        "id": "ed6c2f27-2ae7-42f4-b3d0-835b493e4fa8",
                        "meeting_id": "098765ABCD",
                        "recording_start": "2031-03-20T20:00:00Z",
                        "recording_end": "2031-03-20T21:00:00Z",
                        "file_type": "MP4",
                        "file_size": 3328371,
                        "file_extension": "MP4",
                        "download_url": "https://example.com/rec/download/abc",
                        "status": "completed",
                        "recording_type": "shared_screen_with_speaker_view",
                    }
                ],
            },
        },
    }
    parsed = parse_event(zoom_shaped("recording.completed", event))
    assert (parsed.event, parsed.meeting_id) == ("recording.completed", "85746065001")
    assert parsed.payload["object"]["share_url"] == "https://example.com/rec/share/abc"


def test_the_url_validation_event() -> None:
    # Not in Zoom's webhook description: its shape is from Zoom's documentation.
    body = (
        b'{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},'
        b'"event_ts":1654503849680,"event":"endpoint.url_validation"}'
    )
    parsed = parse_event(body)
    assert parsed == WebhookEvent(
        "endpoint.url_validation", 1654503849680, None, {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}
    )
    assert url_validation_response(SECRET, parsed.payload["plainToken"])["plainToken"] == "qgg8vlvZRS6UYooatFL8Aw"


def test_an_event_lectern_does_not_follow_may_name_no_meeting() -> None:
    body = json.dumps(
        {"event": "meeting.summary_completed", "event_ts": 1, "payload": {"account_id": "a", "object": {}}}
    ).encode()
    assert parse_event(body).meeting_id is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not JSON"),
        (b'{"event": "meeting.started", ', "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b'["meeting.started"]', "not a JSON object"),
        (b'{"payload": {}}', "no name"),
        (b'{"event": "", "payload": {}}', "no name"),
        (b'{"event": "meeting.started", "event_ts": 1}', "has no payload"),
        (b'{"event": "meeting.started", "event_ts": 1, "payload": []}', "has no payload"),
        (b'{"event": "meeting.started", "event_ts": "1", "payload": {"object": {"id": "1"}}}', "event_ts is not"),
        (b'{"event": "meeting.started", "event_ts": true, "payload": {"object": {"id": "1"}}}', "event_ts is not"),
        (b'{"event": "meeting.started", "event_ts": 1, "payload": {"object": {}}}', "names no meeting"),
        (b'{"event": "meeting.ended", "event_ts": 1, "payload": {}}', "names no meeting"),
        (b'{"event": "meeting.deleted", "payload": {"object": {"id": "85 74"}}}', "names no meeting"),
        (b'{"event": "recording.completed", "event_ts": 1, "payload": {"object": {"id": -5}}}', "names no meeting"),
        (b'{"event": "endpoint.url_validation", "event_ts": 1, "payload": {}}', "no plainToken"),
    ],
)
def test_a_body_that_is_not_a_readable_event_is_rejected(body: bytes, reason: str) -> None:
    with pytest.raises(WebhookRejected, match=reason):
        parse_event(body)
