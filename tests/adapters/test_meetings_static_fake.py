"""The pasted-link provider, the fake provider, the meeting's description, and choosing a provider by configuration."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from adapters.meetings import (
    FakeMeetingProvider,
    MeetingError,
    MeetingProvider,
    MeetingRefused,
    MeetingSpec,
    MeetingUnavailable,
    StaticLinkProvider,
    ZoomProvider,
    build_meeting_provider,
)
from app import create_app
from tests.zoom_fake import CLIENT_SECRET, FakeZoom, running_fake_zoom

START = datetime(2031, 3, 20, 20, 0, tzinfo=UTC)


def spec(topic: str = "What Quiet Benchmarks Hide", **changes: Any) -> MeetingSpec:
    return MeetingSpec(**{"topic": topic, "starts_at": START, "minutes": 60, "timezone": "America/Montreal", **changes})


# --- The meeting's description ----------------------------------------------------------------


def test_a_start_is_kept_in_utc() -> None:
    eastern = timezone(timedelta(hours=-4))
    assert spec(starts_at=datetime(2031, 3, 20, 16, 0, tzinfo=eastern)).starts_at == START
    assert spec(starts_at=datetime(2031, 3, 20, 16, 0, tzinfo=eastern)).starts_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"starts_at": datetime(2031, 3, 20, 20, 0)}, "timezone-aware"),
        ({"minutes": 0}, "1 to 1440 minutes"),
        ({"minutes": 1441}, "1 to 1440 minutes"),
        ({"timezone": "Eastern"}, "not an IANA time zone"),
        ({"timezone": "../etc/passwd"}, "not an IANA time zone"),
        ({"topic": "  "}, "needs a topic"),
    ],
)
def test_a_description_that_makes_no_sense_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spec(**changes)


# --- A link pasted by an organizer ----------------------------------------------------------


def test_a_pasted_link_is_everyones_link() -> None:
    link = "https://meet.google.com/abc-defg-hij"
    provider: MeetingProvider = StaticLinkProvider(f"  {link} ")

    meeting = provider.create_meeting(spec())
    assert (meeting.join_url, meeting.start_url, meeting.password, meeting.provider) == (link, link, "", "static")
    assert provider.find_meeting(spec()) == meeting
    assert StaticLinkProvider(link).create_meeting(spec("Another")).id == meeting.id, "the id follows the link"
    registration = provider.register(meeting.id, "ada@example.org", "Ada", "Lovelace")
    assert (registration.registrant_id, registration.join_url) == ("", link)

    assert provider.update_meeting(meeting.id, spec(minutes=90)) is None
    assert provider.cancel_registration(meeting.id, "", "ada@example.org") is None
    assert provider.delete_meeting(meeting.id) is None
    assert "abc-defg-hij" not in repr(provider)


@pytest.mark.parametrize(
    "link",
    [
        "",
        "meet.google.com/abc-defg-hij",
        "javascript:alert(1)",
        "ftp://files.example.org/talk",
        "https://",
        "https://teams.example.org/l/meet up",
        "https://teams.example.org/l/\nmeetup",
        "data:text/html,<script>alert(1)</script>",
        "https://zoom.example.org/j/1?" + "x" * 2000,
    ],
)
def test_only_a_web_address_is_taken_as_a_link(link: str) -> None:
    with pytest.raises(MeetingRefused) as refused:
        StaticLinkProvider(link)
    assert refused.value.message_for_organizer == (
        "The meeting link must be a web address that starts with https:// (or http://)."
    )


def test_http_links_are_taken_too() -> None:
    assert StaticLinkProvider("HTTP://meet.example.org/room").link == "HTTP://meet.example.org/room"


# --- The fake ---------------------------------------------------------------------------------


def test_the_fake_counts_ids_up_and_gives_personal_links() -> None:
    fake = FakeMeetingProvider()
    first, second = fake.create_meeting(spec()), fake.create_meeting(spec("Second"))
    assert (first.id, second.id) == ("81000000001", "81000000002")
    assert first.join_url == "https://meetings.invalid/j/81000000001"

    ada = fake.register(first.id, "ada@example.org", "Ada", "Lovelace")
    grace = fake.register(first.id, "grace@example.org", "Grace")
    assert ada.join_url.startswith("https://meetings.invalid/j/81000000001?tk=")
    assert ada.join_url != grace.join_url
    assert fake.register(first.id, "ADA@example.org", "Ada", "Lovelace") == ada, "one registration per address"

    fake.cancel_registration(first.id, ada.registrant_id, "ada@example.org")
    assert list(fake.active_registrants(first.id)) == ["grace@example.org"]

    assert fake.calls_of("create_meeting") == [(spec(),), (spec("Second"),)]
    assert [name for name, _ in fake.calls] == ["create_meeting"] * 2 + ["register"] * 3 + ["cancel_registration"]


def test_the_fake_is_the_same_every_time() -> None:
    def run() -> list[str]:
        fake = FakeMeetingProvider()
        meeting = fake.create_meeting(spec())
        return [meeting.start_url, meeting.password, fake.register(meeting.id, "ada@example.org", "Ada").join_url]

    assert run() == run()


def test_the_fake_keeps_meetings_in_step() -> None:
    fake = FakeMeetingProvider()
    meeting = fake.create_meeting(spec())
    assert fake.find_meeting(spec()) == meeting
    assert fake.find_meeting(spec(starts_at=START + timedelta(hours=1))) is None

    fake.update_meeting(meeting.id, spec(minutes=90))
    assert fake.meetings[meeting.id].spec.minutes == 90
    fake.delete_meeting(meeting.id)
    fake.delete_meeting(meeting.id)
    assert fake.deleted == {meeting.id}
    with pytest.raises(MeetingRefused):
        fake.update_meeting(meeting.id, spec())
    with pytest.raises(MeetingRefused):
        fake.register(meeting.id, "ada@example.org", "Ada")
    fake.cancel_registration(meeting.id, "r1", "ada@example.org")  # the meeting is gone: nothing to do


def test_the_fake_fails_when_told() -> None:
    fake = FakeMeetingProvider()
    later = datetime(2031, 1, 2, tzinfo=UTC)
    fake.unavailable_next(retry_after=later, method="register")
    fake.refuse_next("Your Zoom plan does not allow this.")

    with pytest.raises(MeetingRefused, match="plan does not allow"):
        fake.create_meeting(spec())
    meeting = fake.create_meeting(spec())
    with pytest.raises(MeetingUnavailable) as unavailable:
        fake.register(meeting.id, "ada@example.org", "Ada")
    assert unavailable.value.retry_after == later
    assert fake.active_registrants(meeting.id) == {}
    fake.register(meeting.id, "ada@example.org", "Ada")
    assert [name for name, _ in fake.calls] == ["create_meeting", "create_meeting", "register", "register"]


def test_the_fake_can_lose_the_answer_of_a_create_that_went_through() -> None:
    fake = FakeMeetingProvider()
    fake.unavailable_next(method="create_meeting", happens_anyway=True)
    with pytest.raises(MeetingUnavailable):
        fake.create_meeting(spec())
    found = fake.find_meeting(spec())
    assert found is not None and found.id == "81000000001"


def test_every_failure_is_a_meeting_error() -> None:
    assert issubclass(MeetingRefused, MeetingError) and issubclass(MeetingUnavailable, MeetingError)
    assert MeetingRefused("Fix this.").message_for_organizer == "Fix this."


# --- Which provider the configuration picks -----------------------------------------------------


@pytest.fixture
def zoom() -> Iterator[FakeZoom]:
    with running_fake_zoom() as fake:
        yield fake


def app_with(tmp_path: Path, **config: Any) -> Any:
    return create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "x", "TESTING": True, **config})


def test_a_laptop_gets_the_fake_and_production_none(tmp_path: Path) -> None:
    assert isinstance(app_with(tmp_path, ENV="development").extensions["lectern.meetings"], FakeMeetingProvider)
    production = app_with(tmp_path)
    assert production.config["MEETING_PROVIDER"] == "none"
    assert production.extensions["lectern.meetings"] is None


def test_zoom_credentials_choose_zoom_and_it_works(tmp_path: Path, zoom: FakeZoom) -> None:
    config = {key: value for key, value in zoom.app_config().items() if key != "MEETING_PROVIDER"}
    app = app_with(tmp_path, ENV="development", ZOOM_HOST_USER="talks-host@example.edu", **config)
    provider = app.extensions["lectern.meetings"]
    assert app.config["MEETING_PROVIDER"] == "zoom"
    assert isinstance(provider, ZoomProvider)
    assert provider.host_user == "talks-host@example.edu"

    meeting = provider.create_meeting(spec())
    assert [call.path for call in zoom.calls] == ["/regional/v2/users/talks-host@example.edu/meetings"]
    assert meeting.id in {str(key) for key in zoom.meetings}


def test_zoom_settings_come_from_the_environment_as_typed(
    tmp_path: Path, zoom: FakeZoom, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in zoom.app_config().items():
        monkeypatch.setenv(f"LECTERN_{key}", value)
    monkeypatch.setenv("LECTERN_ZOOM_ACCOUNT_ID", "12e45678")  # JSON would read this as a number
    monkeypatch.setenv("LECTERN_ZOOM_CLIENT_ID", "0012345")
    monkeypatch.setenv("LECTERN_ZOOM_READ_TIMEOUT", "7.5")
    app = app_with(tmp_path)
    provider = app.extensions["lectern.meetings"]
    assert isinstance(provider, ZoomProvider)
    assert (provider.account_id, provider.client_id) == ("12e45678", "0012345")
    assert provider.timeout == (5.0, 7.5)
    assert CLIENT_SECRET not in repr(provider)


def test_zoom_without_its_credentials_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="LECTERN_ZOOM_CLIENT_ID, LECTERN_ZOOM_CLIENT_SECRET not set"):
        app_with(tmp_path, MEETING_PROVIDER="zoom", ZOOM_ACCOUNT_ID="account")
    with pytest.raises(RuntimeError, match="must be one of zoom, fake, none"):
        build_meeting_provider({"MEETING_PROVIDER": "teams"})


def test_a_provider_can_be_named_whatever_the_credentials(tmp_path: Path, zoom: FakeZoom) -> None:
    app = app_with(tmp_path, **{**zoom.app_config(), "MEETING_PROVIDER": "fake"})
    assert isinstance(app.extensions["lectern.meetings"], FakeMeetingProvider)
