"""The real ZoomProvider against a fake Zoom on 127.0.0.1 (tests/zoom_fake.py).

The fake checks every request Lectern sends, and every answer it gives, against Zoom's OpenAPI
description; any mismatch fails the test at its end. Faults (time-outs, 5xx, 429, broken JSON,
expired tokens) are injected per call, and the fake counts calls so that the tests can say
"exactly one create".
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from adapters.meetings import (
    Meeting,
    MeetingRefused,
    MeetingSpec,
    MeetingUnavailable,
    ZoomProvider,
    parse_retry_after,
)
from tests.zoom_fake import CLIENT_SECRET, FakeZoom, running_fake_zoom

CREATE = "POST /users/{userId}/meetings"
LIST = "GET /users/{userId}/meetings"
GET = "GET /meetings/{meetingId}"
PATCH = "PATCH /meetings/{meetingId}"
DELETE = "DELETE /meetings/{meetingId}"
REGISTER = "POST /meetings/{meetingId}/registrants"
STATUS = "PUT /meetings/{meetingId}/registrants/status"

MONTREAL = ZoneInfo("America/Montreal")
READ_TIMEOUT = 0.5
DELAYS = (0.25, 0.5)


def talk(topic: str = "What Quiet Benchmarks Hide", *, hour: int = 16, **changes: Any) -> MeetingSpec:
    """A talk at 16:00 Montreal time (20:00 UTC in March 2031, daylight time)."""
    fields: dict[str, Any] = {
        "topic": topic,
        "starts_at": datetime(2031, 3, 20, hour, 0, tzinfo=MONTREAL),
        "minutes": 60,
        "timezone": "America/Montreal",
        "agenda": "A talk about benchmarks.",
    }
    return MeetingSpec(**{**fields, **changes})


@pytest.fixture
def zoom() -> Iterator[FakeZoom]:
    with running_fake_zoom() as fake:
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    """The pauses the provider took between tries (it does not really sleep in these tests)."""
    return []


def make_provider(zoom: FakeZoom, sleeps: list[float], **changes: Any) -> ZoomProvider:
    settings: dict[str, Any] = {
        **zoom.provider_settings(),
        "connect_timeout": 2.0,
        "read_timeout": READ_TIMEOUT,
        "retry_delays": DELAYS,
        "sleep": sleeps.append,
    }
    return ZoomProvider(**{**settings, **changes})


@pytest.fixture
def provider(zoom: FakeZoom, sleeps: list[float]) -> ZoomProvider:
    return make_provider(zoom, sleeps)


# --- The token --------------------------------------------------------------------------------


def test_one_token_serves_every_call_while_it_is_good(zoom: FakeZoom, provider: ZoomProvider) -> None:
    meeting = provider.create_meeting(talk())
    provider.update_meeting(meeting.id, talk(minutes=90))
    provider.register(meeting.id, "ada@example.org", "Ada", "Lovelace")
    provider.delete_meeting(meeting.id)

    assert zoom.token_requests == 1
    assert [call.status for call in zoom.calls] == [201, 204, 201, 204]


def test_the_token_is_renewed_shortly_before_zoom_ends_it(zoom: FakeZoom, sleeps: list[float]) -> None:
    now = [1000.0]
    provider = make_provider(zoom, sleeps, monotonic=lambda: now[0])
    provider.create_meeting(talk())
    now[0] += 3000  # 50 minutes into Zoom's hour
    provider.find_meeting(talk())
    assert zoom.token_requests == 1
    now[0] += 301  # within the last five minutes
    provider.find_meeting(talk())
    assert zoom.token_requests == 2


def test_an_expired_token_is_replaced_once_and_the_call_sent_once_more(zoom: FakeZoom, provider: ZoomProvider) -> None:
    provider.find_meeting(talk())
    zoom.expire_token_next()

    meeting = provider.create_meeting(talk())

    assert zoom.token_requests == 2
    assert [call.status for call in zoom.calls if call.operation == CREATE] == [401, 201]
    assert list(zoom.meetings) == [int(meeting.id)], "Zoom did nothing with the refused call: one meeting"


def test_a_fresh_token_refused_too_is_a_refusal_not_a_loop(zoom: FakeZoom, provider: ZoomProvider) -> None:
    zoom.expire_token_next()
    zoom.expire_token_next()

    with pytest.raises(MeetingRefused) as refused:
        provider.create_meeting(talk())

    assert refused.value.status == 401
    assert "access token" in refused.value.message_for_organizer
    assert zoom.token_requests == 2
    assert zoom.count(CREATE) == 2
    assert not zoom.meetings


def test_the_api_address_that_comes_with_the_token_is_used(zoom: FakeZoom, provider: ZoomProvider) -> None:
    assert zoom.configured_base != zoom.api_url + "/v2"
    meeting = provider.create_meeting(talk())
    provider.delete_meeting(meeting.id)
    assert {call.base for call in zoom.calls} == {"/regional"}


def test_without_an_api_address_in_the_token_the_configured_one_is_used(sleeps: list[float]) -> None:
    with running_fake_zoom(send_api_url=False) as zoom:
        make_provider(zoom, sleeps).create_meeting(talk())
        assert [call.base for call in zoom.calls] == [""]


def test_wrong_credentials_are_refused_in_plain_words(zoom: FakeZoom, sleeps: list[float]) -> None:
    provider = make_provider(zoom, sleeps, client_secret="not-the-secret")
    with pytest.raises(MeetingRefused) as refused:
        provider.create_meeting(talk())
    assert refused.value.message_for_organizer == (
        "Zoom refused the credentials: check LECTERN_ZOOM_CLIENT_ID and LECTERN_ZOOM_CLIENT_SECRET."
    )
    assert zoom.count(CREATE) == 0

    with pytest.raises(MeetingRefused, match="check LECTERN_ZOOM_ACCOUNT_ID"):
        make_provider(zoom, sleeps, account_id="someone-elses-account").delete_meeting("85746065001")


def test_a_login_that_fails_for_a_moment_is_tried_again_for_idempotent_calls(
    zoom: FakeZoom, provider: ZoomProvider, sleeps: list[float]
) -> None:
    zoom.fail_token_next(503)
    provider.find_meeting(talk())
    assert zoom.token_requests == 2
    assert sleeps == [DELAYS[0]]

    zoom.expire_token_next()
    zoom.fail_token_next(502)
    with pytest.raises(MeetingUnavailable, match="Zoom's login had a problem"):
        provider.create_meeting(talk())
    assert not zoom.meetings


def test_an_unknown_host_user_is_named(zoom: FakeZoom, sleeps: list[float]) -> None:
    provider = make_provider(zoom, sleeps, host_user="nobody@example.edu")
    with pytest.raises(MeetingRefused) as refused:
        provider.create_meeting(talk())
    assert refused.value.message_for_organizer == (
        "Zoom has no user 'nobody@example.edu': check LECTERN_ZOOM_HOST_USER."
    )
    assert refused.value.code == 1001


# --- Meetings -------------------------------------------------------------------------------


def test_a_meeting_is_scheduled_in_utc_with_automatically_approved_registration(
    zoom: FakeZoom, provider: ZoomProvider
) -> None:
    meeting = provider.create_meeting(talk(waiting_room=True))

    held = zoom.meetings[int(meeting.id)]
    assert held["type"] == 2
    assert held["start_time"] == "2031-03-20T20:00:00Z"
    assert held["duration"] == 60
    assert held["timezone"] == "America/Montreal"
    assert held["topic"] == "What Quiet Benchmarks Hide"
    assert held["agenda"] == "A talk about benchmarks."
    assert held["settings"]["approval_type"] == 0
    assert held["settings"]["registration_type"] == 1
    assert held["settings"]["waiting_room"] is True
    assert held["settings"]["registrants_confirmation_email"] is False

    assert meeting == Meeting(
        id=str(held["id"]),
        join_url=held["join_url"],
        start_url=held["start_url"],
        password=held["password"],
        provider="zoom",
    )
    assert int(meeting.id) > 2**32, "Zoom's ids are int64: Lectern keeps them whole, as strings"
    assert "start_url" not in repr(meeting) and held["password"] not in repr(meeting)


def test_the_body_zoom_received_is_what_lectern_meant(zoom: FakeZoom, provider: ZoomProvider) -> None:
    provider.create_meeting(talk("T" * 250, agenda="A" * 2500))
    [held] = zoom.meetings.values()
    assert held["topic"] == "T" * 200, "Zoom takes 200 characters of topic"
    assert held["agenda"] == "A" * 2000, "and 2000 of agenda"


def test_an_update_moves_the_meeting(zoom: FakeZoom, provider: ZoomProvider) -> None:
    meeting = provider.create_meeting(talk())
    provider.update_meeting(meeting.id, talk("Quiet Benchmarks, Again", hour=17, minutes=90))

    held = zoom.meetings[int(meeting.id)]
    assert (held["topic"], held["start_time"], held["duration"]) == (
        "Quiet Benchmarks, Again",
        "2031-03-20T21:00:00Z",
        90,
    )
    assert held["settings"]["approval_type"] == 0


def test_updating_a_meeting_deleted_in_zoom_is_refused(zoom: FakeZoom, provider: ZoomProvider) -> None:
    meeting = provider.create_meeting(talk())
    del zoom.meetings[int(meeting.id)]
    with pytest.raises(MeetingRefused) as refused:
        provider.update_meeting(meeting.id, talk())
    assert refused.value.message_for_organizer == (
        f"The Zoom meeting {meeting.id} no longer exists: it may have been deleted in Zoom."
    )
    assert zoom.count(PATCH) == 1, "a refusal is not tried again"


def test_deleting_twice_is_fine(zoom: FakeZoom, provider: ZoomProvider) -> None:
    meeting = provider.create_meeting(talk())
    provider.delete_meeting(meeting.id)
    provider.delete_meeting(meeting.id)
    assert not zoom.meetings
    assert [call.status for call in zoom.calls if call.operation == DELETE] == [204, 404]


def test_a_meeting_id_that_is_not_a_number_never_reaches_zoom(zoom: FakeZoom, provider: ZoomProvider) -> None:
    for bad in ("../users/me", "85746065001/registrants", "", "8574 6065"):
        with pytest.raises(MeetingRefused, match="not a Zoom meeting id"):
            provider.delete_meeting(bad)
    assert zoom.calls == []


# --- Registrants ----------------------------------------------------------------------------


def test_a_registrant_gets_a_personal_link_and_the_same_one_again(zoom: FakeZoom, provider: ZoomProvider) -> None:
    meeting = provider.create_meeting(talk())

    ada = provider.register(meeting.id, "ada@example.org", "Ada", "Lovelace")
    again = provider.register(meeting.id, "ada@example.org", "Ada", "Lovelace")
    grace = provider.register(meeting.id, "grace@example.org", "Grace", "")

    held = zoom.registrant(meeting.id, "ada@example.org")
    assert (ada.registrant_id, ada.join_url) == (held["id"], held["join_url"])
    assert again == ada
    assert grace.join_url not in (ada.join_url, meeting.join_url), "each link is personal"
    assert (held["first_name"], held["last_name"], held["status"]) == ("Ada", "Lovelace", "approved")
    assert ada.join_url not in repr(ada), "a personal link is a secret: not in logs by accident"


def test_a_registrant_without_a_first_name_is_named_by_the_address(zoom: FakeZoom, provider: ZoomProvider) -> None:
    meeting = provider.create_meeting(talk())
    provider.register(meeting.id, "ada@example.org", "  ", "")
    assert zoom.registrant(meeting.id, "ada@example.org")["first_name"] == "ada"


def test_registering_without_personal_links_is_refused(zoom: FakeZoom, provider: ZoomProvider) -> None:
    meeting = provider.create_meeting(talk())
    zoom.meetings[int(meeting.id)]["settings"]["approval_type"] = 1  # changed by hand in Zoom
    with pytest.raises(MeetingRefused, match="does not give personal join links"):
        provider.register(meeting.id, "ada@example.org", "Ada", "Lovelace")


def test_registering_for_a_meeting_that_is_gone_is_refused(zoom: FakeZoom, provider: ZoomProvider) -> None:
    meeting = provider.create_meeting(talk())
    provider.delete_meeting(meeting.id)
    with pytest.raises(MeetingRefused, match="no longer exists"):
        provider.register(meeting.id, "ada@example.org", "Ada", "Lovelace")


def test_a_cancelled_registration_stays_cancelled_and_cancelling_again_is_fine(
    zoom: FakeZoom, provider: ZoomProvider
) -> None:
    meeting = provider.create_meeting(talk())
    ada = provider.register(meeting.id, "ada@example.org", "Ada", "Lovelace")

    provider.cancel_registration(meeting.id, ada.registrant_id, "ada@example.org")
    provider.cancel_registration(meeting.id, ada.registrant_id, "ada@example.org")
    provider.cancel_registration(meeting.id, "never-registered", "eve@example.org")

    assert zoom.registrant(meeting.id, "ada@example.org")["status"] == "cancelled"
    provider.delete_meeting(meeting.id)
    provider.cancel_registration(meeting.id, ada.registrant_id, "ada@example.org")  # the meeting is gone: done
    assert [call.status for call in zoom.calls if call.operation == STATUS] == [204, 204, 204, 404]


# --- A create whose answer is lost ----------------------------------------------------------


def test_a_create_that_times_out_is_not_repeated_and_is_found_afterwards(
    zoom: FakeZoom, provider: ZoomProvider
) -> None:
    provider.create_meeting(talk("Another Talk"))
    zoom.time_out_next(CREATE)

    with pytest.raises(MeetingUnavailable) as unavailable:
        provider.create_meeting(talk())
    assert unavailable.value.message_for_organizer == f"Zoom did not answer within {READ_TIMEOUT:g} seconds."
    assert zoom.count(CREATE) == 2, "exactly one create for this talk"

    found = provider.find_meeting(talk())
    assert found is not None
    held = zoom.meetings[int(found.id)]
    assert (held["topic"], found.start_url, found.password) == (talk().topic, held["start_url"], held["password"])
    assert zoom.count(CREATE) == 2

    assert provider.find_meeting(talk(hour=17)) is None, "the same topic at another time is another meeting"
    assert provider.find_meeting(talk("A Different Topic")) is None


def test_a_create_answered_with_broken_json_is_not_repeated(zoom: FakeZoom, provider: ZoomProvider) -> None:
    zoom.malformed_next(CREATE)
    with pytest.raises(MeetingUnavailable, match="could not read"):
        provider.create_meeting(talk())
    assert zoom.count(CREATE) == 1
    assert provider.find_meeting(talk()) is not None


def test_a_create_that_meets_a_server_error_is_not_repeated(zoom: FakeZoom, provider: ZoomProvider) -> None:
    zoom.fail_next(500, CREATE)
    with pytest.raises(MeetingUnavailable) as unavailable:
        provider.create_meeting(talk())
    assert unavailable.value.status == 500
    assert unavailable.value.retry_after is None
    assert zoom.count(CREATE) == 1


def test_find_meeting_reads_every_page(sleeps: list[float]) -> None:
    with running_fake_zoom(max_page_size=2) as zoom:
        provider = make_provider(zoom, sleeps)
        for hour in range(8, 13):
            provider.create_meeting(talk(f"Talk at {hour}", hour=hour))
        wanted = provider.create_meeting(talk())

        assert provider.find_meeting(talk()) == wanted
        assert zoom.count(LIST) == 3
        assert [call.path.endswith("/users/me/meetings") for call in zoom.calls if call.operation == LIST] == [True] * 3


def test_when_two_lost_creates_both_went_through_the_first_is_found(zoom: FakeZoom, provider: ZoomProvider) -> None:
    zoom.time_out_next(CREATE)
    with pytest.raises(MeetingUnavailable):
        provider.create_meeting(talk())
    zoom.time_out_next(CREATE)
    with pytest.raises(MeetingUnavailable):
        provider.create_meeting(talk())
    first, _ = sorted(zoom.meetings)
    found = provider.find_meeting(talk())
    assert found is not None and found.id == str(first)


# --- Trying again inside a call ---------------------------------------------------------------


def test_a_server_error_on_an_update_is_tried_again(
    zoom: FakeZoom, provider: ZoomProvider, sleeps: list[float]
) -> None:
    meeting = provider.create_meeting(talk())
    zoom.fail_next(502, PATCH)

    provider.update_meeting(meeting.id, talk(minutes=45))

    assert [call.status for call in zoom.calls if call.operation == PATCH] == [502, 204]
    assert sleeps == [DELAYS[0]]
    assert zoom.meetings[int(meeting.id)]["duration"] == 45


def test_a_server_error_that_lasts_is_unavailable_after_the_last_try(
    zoom: FakeZoom, provider: ZoomProvider, sleeps: list[float]
) -> None:
    meeting = provider.create_meeting(talk())
    for _ in range(3):
        zoom.fail_next(503, DELETE)
    with pytest.raises(MeetingUnavailable) as unavailable:
        provider.delete_meeting(meeting.id)
    assert unavailable.value.status == 503
    assert zoom.count(DELETE) == 3
    assert sleeps == list(DELAYS)


def test_a_time_out_on_a_registration_is_tried_again_without_a_second_registrant(
    zoom: FakeZoom, provider: ZoomProvider
) -> None:
    meeting = provider.create_meeting(talk())
    zoom.time_out_next(REGISTER)

    ada = provider.register(meeting.id, "ada@example.org", "Ada", "Lovelace")

    assert zoom.count(REGISTER) == 2
    assert list(zoom.registrants[int(meeting.id)]) == ["ada@example.org"]
    assert ada.registrant_id == zoom.registrant(meeting.id, "ada@example.org")["id"]


def test_broken_json_on_a_read_is_tried_again(zoom: FakeZoom, provider: ZoomProvider) -> None:
    provider.create_meeting(talk())
    zoom.malformed_next(LIST)
    assert provider.find_meeting(talk()) is not None
    assert zoom.count(LIST) == 2


def test_a_short_retry_after_is_waited_for_inside_the_call(
    zoom: FakeZoom, provider: ZoomProvider, sleeps: list[float]
) -> None:
    meeting = provider.create_meeting(talk())
    zoom.fail_next(429, DELETE, retry_after="2")
    provider.delete_meeting(meeting.id)
    assert zoom.count(DELETE) == 2
    [paused] = sleeps
    assert 1.5 < paused <= 2


def test_a_long_retry_after_in_seconds_is_handed_to_the_caller(zoom: FakeZoom, provider: ZoomProvider) -> None:
    zoom.fail_next(429, LIST, retry_after="120")
    before = datetime.now(UTC)
    with pytest.raises(MeetingUnavailable) as unavailable:
        provider.find_meeting(talk())
    retry_after = unavailable.value.retry_after
    assert retry_after is not None
    assert before + timedelta(seconds=119) <= retry_after <= datetime.now(UTC) + timedelta(seconds=121)
    assert zoom.count(LIST) == 1, "Zoom said when: not before then"
    assert "Zoom asked Lectern to slow down; try again after" in unavailable.value.message_for_organizer


@pytest.mark.parametrize("form", ["iso", "http-date"])
def test_zooms_daily_limit_on_creates_gives_the_time_to_try_again(
    zoom: FakeZoom, provider: ZoomProvider, form: str
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    header = (
        tomorrow.strftime("%Y-%m-%dT%H:%M:%SZ") if form == "iso" else tomorrow.strftime("%a, %d %b %Y %H:%M:%S GMT")
    )
    zoom.fail_next(429, CREATE, retry_after=header, headers={"X-RateLimit-Type": "Daily-limit"}, code=429)

    with pytest.raises(MeetingUnavailable) as unavailable:
        provider.create_meeting(talk())

    assert unavailable.value.retry_after == tomorrow
    assert unavailable.value.message_for_organizer == (
        "Zoom's daily limit on creating meetings has been reached; "
        f"try again after {tomorrow.strftime('%Y-%m-%d')} 00:00 UTC."
    )
    assert zoom.count(CREATE) == 1


def test_a_server_error_that_says_when_is_waited_for_when_it_is_soon(
    zoom: FakeZoom, provider: ZoomProvider, sleeps: list[float]
) -> None:
    zoom.fail_next(503, LIST, retry_after="1")
    provider.find_meeting(talk())
    assert zoom.count(LIST) == 2
    [paused] = sleeps
    assert 0.5 < paused <= 1


def test_a_busy_login_that_says_when_is_handed_to_the_caller(
    zoom: FakeZoom, provider: ZoomProvider, sleeps: list[float]
) -> None:
    zoom.fail_token_next(429, retry_after="600")
    with pytest.raises(MeetingUnavailable) as unavailable:
        provider.delete_meeting("85746065001")
    assert unavailable.value.retry_after is not None
    assert unavailable.value.retry_after > datetime.now(UTC) + timedelta(seconds=590)
    assert (zoom.token_requests, sleeps, zoom.calls) == (1, [], [])


def test_zoom_that_cannot_be_reached_is_unavailable(sleeps: list[float]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = ZoomProvider(
        account_id="a",
        client_id="c",
        client_secret=CLIENT_SECRET,
        oauth_url=f"http://127.0.0.1:{port}/oauth/token",
        api_base=f"http://127.0.0.1:{port}/v2",
        retry_delays=DELAYS,
        sleep=sleeps.append,
    )
    with pytest.raises(MeetingUnavailable, match="could not reach Zoom's login"):
        provider.delete_meeting("85746065001")
    assert sleeps == list(DELAYS)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", datetime(2031, 1, 1, 12, 0, 30, tzinfo=UTC)),
        (" 1.5 ", datetime(2031, 1, 1, 12, 0, 1, 500000, tzinfo=UTC)),
        ("2031-01-02T00:00:00Z", datetime(2031, 1, 2, tzinfo=UTC)),
        ("2031-01-02T00:00:00", datetime(2031, 1, 2, tzinfo=UTC)),
        ("2031-01-01T19:00:00-05:00", datetime(2031, 1, 2, tzinfo=UTC)),
        ("Thu, 02 Jan 2031 00:00:00 GMT", datetime(2031, 1, 2, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after_is_read_in_both_of_zooms_forms(value: str | None, expected: datetime | None) -> None:
    assert parse_retry_after(value, datetime(2031, 1, 1, 12, 0, tzinfo=UTC)) == expected


# --- Secrets ----------------------------------------------------------------------------------


def test_secrets_stay_out_of_errors_logs_and_reprs(
    zoom: FakeZoom, provider: ZoomProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = [repr(provider)]
    meeting = provider.create_meeting(talk())
    [token] = zoom.issued_tokens
    failures: list[Exception] = []

    # Zoom echoing the secrets back would be odd, but the message must not pass them on.
    zoom.fail_next(400, PATCH, code=300, message=f"Bad value {token} / {CLIENT_SECRET} for ada@example.org")
    zoom.fail_next(500, DELETE)
    zoom.fail_next(500, DELETE)
    zoom.fail_next(500, DELETE)
    zoom.time_out_next(CREATE)
    for call in (
        lambda: provider.update_meeting(meeting.id, talk()),
        lambda: provider.delete_meeting(meeting.id),
        lambda: provider.create_meeting(talk()),
        lambda: make_provider(zoom, [], client_id="wrong").create_meeting(talk()),
    ):
        with pytest.raises((MeetingRefused, MeetingUnavailable)) as failure:
            call()
        failures.append(failure.value)

    assert failures[0].args == ("Zoom refused a value Lectern sent: Bad value <hidden> / <hidden> for <address>.",)
    for failure in failures:
        seen += [str(failure), repr(failure), repr(failure.__cause__), repr(failure.__context__)]
    seen += [record.getMessage() for record in caplog.records]
    seen += [record.exc_text or "" for record in caplog.records]
    text = "\n".join(seen)
    assert "Zoom POST /users/me/meetings: 201" in text, "the log does say what was called"
    assert CLIENT_SECRET not in text
    assert token not in text
    assert all(issued not in text for issued in zoom.issued_tokens)


# --- The fake's checks can fail -------------------------------------------------------------


def test_a_request_that_breaks_zooms_description_is_caught(zoom: FakeZoom, provider: ZoomProvider) -> None:
    provider.find_meeting(talk())  # for a token
    [token] = zoom.issued_tokens
    url = f"{zoom.api_url}/v2/users/me/meetings"
    bad_type = requests.post(
        url, json={"topic": "T", "type": 5}, headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    no_auth = requests.post(url, json={"topic": "T", "type": 2}, timeout=5)
    long_topic = requests.post(url, json={"topic": "T" * 201}, headers={"Authorization": f"Bearer {token}"}, timeout=5)

    violations = zoom.take_violations()
    assert (bad_type.status_code, no_auth.status_code, long_topic.status_code) == (400, 400, 400)
    assert len(violations) == 3
    assert "5 is not one of [1, 2, 3, 8, 10]" in violations[0]
    assert "Security" in violations[1]
    assert "is too long" in violations[2]
    assert not zoom.meetings


def test_an_answer_that_breaks_zooms_description_is_caught(zoom: FakeZoom, provider: ZoomProvider) -> None:
    zoom.tamper_next_answer(lambda body: {**body, "id": "not-a-number"})
    with pytest.raises(MeetingUnavailable):
        provider.create_meeting(talk())
    [violation] = zoom.take_violations()
    assert "answer does not match" in violation and "'not-a-number' is not of type 'integer'" in violation


def test_a_token_request_that_breaks_the_documented_form_is_caught(zoom: FakeZoom) -> None:
    answer = requests.post(
        zoom.oauth_url, params={"grant_type": "account_credentials", "account_id": "x"}, auth=("a", "b"), timeout=5
    )
    assert answer.status_code == 400
    violations = zoom.take_violations()
    assert any("not the URL" in violation for violation in violations)
    assert any("grant_type must be account_credentials" in violation for violation in violations)
