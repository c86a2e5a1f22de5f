"""Online meetings for talks: Zoom, a link pasted by an organizer, and a fake, behind one small interface.

A provider creates the meeting of a talk, keeps it in step with the talk, and registers each
remote attendee, who gets a personal join link where the provider gives one. Every call may
fail in one of two ways, and the caller (a job reading the outbox) treats them differently:

- `MeetingRefused`: retrying will not help (wrong credentials, the plan does not allow it, the
  meeting is gone, bad input). The message tells an organizer what to fix.
- `MeetingUnavailable`: the provider did not answer, or answered that it is busy or broken. The
  same call may work later, from `retry_after` when the provider said when.

A create that timed out may still have created the meeting: never repeat it blindly, look for it
first with `find_meeting`.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

log = logging.getLogger(__name__)

DEFAULT_OAUTH_URL = "https://zoom.us/oauth/token"
DEFAULT_API_BASE = "https://api.zoom.us/v2"

# Zoom's limits on the fields Lectern sends (meetings-endpoints.openapi.json).
TOPIC_MAX = 200
AGENDA_MAX = 2000
NAME_MAX = 64
MAX_MINUTES = 1440


# --- What a provider is given and what it answers ---------------------------------------------


@dataclass(frozen=True)
class MeetingSpec:
    """What a talk asks of its meeting. `starts_at` is kept in UTC; `timezone` is the series' zone."""

    topic: str
    starts_at: datetime
    minutes: int
    timezone: str
    agenda: str = ""
    waiting_room: bool = False

    def __post_init__(self) -> None:
        if not self.topic.strip():
            raise ValueError("a meeting needs a topic")
        if self.starts_at.tzinfo is None or self.starts_at.utcoffset() is None:
            raise ValueError("starts_at must be timezone-aware")
        object.__setattr__(self, "starts_at", self.starts_at.astimezone(UTC))
        if not 1 <= self.minutes <= MAX_MINUTES:
            raise ValueError(f"a meeting lasts 1 to {MAX_MINUTES} minutes, not {self.minutes}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{self.timezone!r} is not an IANA time zone") from None


@dataclass(frozen=True)
class Meeting:
    """A meeting at the provider. `start_url` is the host's link: organizers only, never attendees."""

    id: str
    join_url: str
    start_url: str = field(repr=False)
    password: str = field(repr=False)
    provider: str


@dataclass(frozen=True)
class Registration:
    """One attendee's registration. A personal `join_url` is a secret: only that attendee sees it."""

    registrant_id: str
    join_url: str = field(repr=False)


class MeetingError(Exception):
    """A provider call did not go through. `message_for_organizer` says why, in plain words."""

    def __init__(self, message_for_organizer: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message_for_organizer)
        self.message_for_organizer = message_for_organizer
        self.status = status  # the provider's HTTP status, when there was one
        self.code = code  # the provider's own error code, when it gave one


class MeetingRefused(MeetingError):
    """The provider said no, and asking again will not change that: an organizer must act."""


class MeetingUnavailable(MeetingError):
    """The provider could not be reached or was busy or broken: the same call may work later."""

    def __init__(
        self,
        message_for_organizer: str,
        *,
        retry_after: datetime | None = None,
        status: int | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message_for_organizer, status=status, code=code)
        self.retry_after = retry_after


class MeetingProvider(Protocol):
    name: str

    def create_meeting(self, spec: MeetingSpec) -> Meeting:
        """Create the meeting. Never call it again after a MeetingUnavailable: use find_meeting first."""
        ...

    def find_meeting(self, spec: MeetingSpec) -> Meeting | None:
        """The host's scheduled meeting with this topic and start, if a create went through unseen."""
        ...

    def update_meeting(self, meeting_id: str, spec: MeetingSpec) -> None: ...

    def delete_meeting(self, meeting_id: str) -> None:
        """Delete the meeting; one that is already gone counts as deleted."""
        ...

    def register(self, meeting_id: str, email: str, first_name: str, last_name: str = "") -> Registration:
        """Register an attendee; registering the same email again answers the same registration."""
        ...

    def cancel_registration(self, meeting_id: str, registrant_id: str, email: str) -> None:
        """Cancel a registration; one already cancelled or unknown counts as cancelled."""
        ...


# --- Retry-After --------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """When a `Retry-After` header says to come back: seconds, an ISO-8601 time or an HTTP date.

    Zoom sends seconds for short limits and a timestamp for its daily limits. Anything else is
    None: the caller then uses its own backoff.
    """
    text = (value or "").strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return now + timedelta(seconds=float(text))
    moment: datetime | None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if moment is None:
        return None
    if moment.tzinfo is None:  # both forms are UTC unless they say otherwise
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- Zoom ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    """An answer from Zoom that is not to be retried: a success or a refusal (4xx)."""

    status: int
    body: Any  # parsed JSON, or None for an empty body

    @property
    def code(self) -> int | None:
        code = self.body.get("code") if isinstance(self.body, dict) else None
        return code if isinstance(code, int) and not isinstance(code, bool) else None

    @property
    def message(self) -> str:
        message = self.body.get("message") if isinstance(self.body, dict) else None
        return message if isinstance(message, str) else ""


class _NotJSON(Exception):
    pass


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ZoomProvider:
    """Zoom through a Server-to-Server OAuth app, with the account's host user as every meeting's host.

    Meetings are scheduled (type 2) with registration required and approved automatically
    (approval_type 0), so that each registrant gets a personal join link. Lectern sends its own
    emails, so Zoom's emails to registrants are turned off.

    Retries inside one call: reads, updates, deletes, registrations and cancellations are tried up
    to `len(retry_delays)` more times after a time-out, a connection error, a 5xx, an answer that
    is not JSON, or a 429 whose Retry-After is at most `max_retry_after` seconds. A create is tried
    once (see find_meeting). An expired token (401, code 124) is replaced once, and the call sent
    once more, for every call including a create: Zoom refused it before doing anything.
    """

    name = "zoom"

    def __init__(
        self,
        *,
        account_id: str,
        client_id: str,
        client_secret: str,
        host_user: str = "me",
        oauth_url: str = DEFAULT_OAUTH_URL,
        api_base: str = DEFAULT_API_BASE,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        retry_delays: tuple[float, ...] = (0.5, 2.0),
        max_retry_after: float = 5.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account_id = account_id
        self.client_id = client_id
        self._client_secret = client_secret
        self.host_user = host_user or "me"
        self.oauth_url = oauth_url
        self.api_base = api_base.rstrip("/")
        self.timeout = (float(connect_timeout), float(read_timeout))
        self.retry_delays = tuple(retry_delays)
        self.max_retry_after = max_retry_after
        self.session = session or requests.Session()
        self._sleep, self._clock, self._monotonic = sleep, clock, monotonic
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._token_good_until = 0.0
        self._token_api_base: str | None = None
        self._spent_tokens: list[str] = []  # kept only to scrub them from messages

    def __repr__(self) -> str:
        return f"<ZoomProvider account={self.account_id!r} client={self.client_id!r} host={self.host_user!r}>"

    # The operations -----------------------------------------------------------------------------

    def create_meeting(self, spec: MeetingSpec) -> Meeting:
        path = f"/users/{self._user_segment()}/meetings"
        answer = self._call("POST", path, json={"type": 2, **_meeting_fields(spec)}, retry=False, what="create")
        if answer.status != 201:
            raise self._refusal(answer, what="create")
        return self._meeting(answer.body)

    def find_meeting(self, spec: MeetingSpec) -> Meeting | None:
        topic, start = _zoom_topic(spec.topic), _zoom_time(spec.starts_at)
        candidates: list[tuple[str, str]] = []  # (created_at, id)
        page_token, seen_tokens = "", set()
        for _ in range(100):  # a bound, should Zoom ever hand back the same page token
            params: dict[str, Any] = {"type": "scheduled", "page_size": 300}
            if page_token:
                params["next_page_token"] = page_token
            answer = self._call("GET", f"/users/{self._user_segment()}/meetings", params=params, what="list")
            if answer.status != 200 or not isinstance(answer.body, dict):
                raise self._refusal(answer, what="list")
            for item in answer.body.get("meetings") or []:
                if not isinstance(item, dict) or str(item.get("topic", "")).strip() != topic:
                    continue
                if _same_moment(item.get("start_time"), start) and _id_text(item.get("id")):
                    candidates.append((str(item.get("created_at") or ""), _id_text(item.get("id")) or ""))
            page_token = str(answer.body.get("next_page_token") or "")
            if not page_token or page_token in seen_tokens:
                break
            seen_tokens.add(page_token)
        # Should two timed-out creates both have gone through, the first is the one to keep.
        for _, meeting_id in sorted(candidates):
            answer = self._call("GET", f"/meetings/{meeting_id}", what="get")
            if answer.status == 200:
                return self._meeting(answer.body)
            if answer.status != 404:
                raise self._refusal(answer, what="get", meeting_id=meeting_id)
        return None

    def update_meeting(self, meeting_id: str, spec: MeetingSpec) -> None:
        path = f"/meetings/{_checked_meeting_id(meeting_id)}"
        answer = self._call("PATCH", path, json=_meeting_fields(spec), what="update")
        if answer.status not in (200, 204):
            raise self._refusal(answer, what="update", meeting_id=meeting_id)

    def delete_meeting(self, meeting_id: str) -> None:
        answer = self._call("DELETE", f"/meetings/{_checked_meeting_id(meeting_id)}", what="delete")
        if answer.status in (200, 204):
            return
        if answer.status == 404 or answer.code == 3001:
            log.info("Zoom meeting %s was already gone", meeting_id)
            return
        raise self._refusal(answer, what="delete", meeting_id=meeting_id)

    def register(self, meeting_id: str, email: str, first_name: str, last_name: str = "") -> Registration:
        # Retried like the idempotent calls: Zoom keeps one registrant per email address in a meeting
        # and answers a repeated registration with that same registrant and link, so a retry after a
        # lost answer does not register the person twice. (That is how Zoom behaves; its OpenAPI
        # description does not promise it. Were it ever to add a second registrant, the person
        # would hold two working links, and Lectern keeps the last.)
        body = {
            "email": email,
            "first_name": (first_name.strip() or email.split("@")[0])[:NAME_MAX],
            "last_name": last_name.strip()[:NAME_MAX],
        }
        path = f"/meetings/{_checked_meeting_id(meeting_id)}/registrants"
        answer = self._call("POST", path, json=body, what="register")
        if answer.status != 201:
            raise self._refusal(answer, what="register", meeting_id=meeting_id)
        registrant_id = answer.body.get("registrant_id") if isinstance(answer.body, dict) else None
        join_url = answer.body.get("join_url") if isinstance(answer.body, dict) else None
        if not isinstance(registrant_id, str) or not registrant_id:
            raise MeetingUnavailable("Zoom's answer to a registration could not be read.", status=answer.status)
        if not isinstance(join_url, str) or not join_url:
            raise MeetingRefused(
                f"The Zoom meeting {meeting_id} does not give personal join links: in Zoom, its registration "
                "must be approved automatically."
            )
        return Registration(registrant_id=registrant_id, join_url=join_url)

    def cancel_registration(self, meeting_id: str, registrant_id: str, email: str) -> None:
        body = {"action": "cancel", "registrants": [{"id": registrant_id, "email": email}]}
        path = f"/meetings/{_checked_meeting_id(meeting_id)}/registrants/status"
        answer = self._call("PUT", path, json=body, what="cancel")
        if answer.status in (200, 204):
            return
        if answer.status == 404:  # the meeting is gone, and its registrations with it
            log.info("Zoom meeting %s was gone: nothing to cancel", meeting_id)
            return
        raise self._refusal(answer, what="cancel", meeting_id=meeting_id)

    # Calling Zoom ----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        retry: bool = True,
        what: str,
    ) -> _Answer:
        """One API call: a success or a refusal comes back; what may pass raises MeetingUnavailable."""
        delays = list(self.retry_delays) if retry else []
        renewed = False
        while True:
            failure: MeetingUnavailable
            try:
                token, base = self._access()
                response = self.session.request(
                    method,
                    base + path,
                    json=json,
                    params=params,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    timeout=self.timeout,
                )
            except MeetingRefused:
                raise
            except MeetingUnavailable as error:
                failure = error
            except requests.Timeout:
                failure = MeetingUnavailable(f"Zoom did not answer within {self.timeout[1]:g} seconds.")
            except requests.RequestException as error:
                failure = MeetingUnavailable(f"Lectern could not reach Zoom ({type(error).__name__}).")
            else:
                log.info("Zoom %s %s: %s", method, path, response.status_code)
                if response.status_code == 401 and _error_code(response) == 124 and not renewed:
                    renewed = True  # Zoom did nothing with an expired token: renew it and send once more
                    self._forget_token(token)
                    continue
                outcome = self._judge(response, what)
                if isinstance(outcome, _Answer):
                    return outcome
                failure = outcome
            wait = self._wait_for(failure)
            if wait is not None:  # Zoom said when: soon enough to wait here, or for the caller to wait
                if wait <= self.max_retry_after and delays:
                    delays.pop(0)
                    self._sleep(max(wait, 0.0))
                    continue
                delays = []
            if not delays:
                log.warning("Zoom %s %s failed: %s", method, path, failure.message_for_organizer)
                raise failure
            self._sleep(delays.pop(0))

    def _judge(self, response: requests.Response, what: str) -> _Answer | MeetingUnavailable:
        status = response.status_code
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            return MeetingUnavailable(
                self._rate_limit_message(response, retry_after, what), retry_after=retry_after, status=429
            )
        if status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            message = f"Zoom had a problem (HTTP {status}); it may work again in a few minutes."
            return MeetingUnavailable(message, retry_after=retry_after, status=status)
        try:
            body = _json_body(response)
        except _NotJSON:
            if status < 300:
                return MeetingUnavailable("Zoom sent an answer Lectern could not read.", status=status)
            body = None  # a refusal without a readable body is still a refusal
        return _Answer(status, body)

    def _rate_limit_message(self, response: requests.Response, retry_after: datetime | None, what: str) -> str:
        daily = "daily" in response.headers.get("X-RateLimit-Type", "").lower() or (
            retry_after is not None and retry_after - self._clock() > timedelta(hours=1)
        )
        if daily:
            kind = "creating meetings" if what == "create" else "this kind of request"
            message = f"Zoom's daily limit on {kind} has been reached"
        else:
            message = "Zoom asked Lectern to slow down"
        return f"{message}; try again after {_when(retry_after)}." if retry_after else f"{message}; try again later."

    def _wait_for(self, failure: MeetingUnavailable) -> float | None:
        """Seconds until a retry is allowed: the provider's word, or None for the usual backoff."""
        if failure.retry_after is None:
            return None
        return (failure.retry_after - self._clock()).total_seconds()

    # The token -------------------------------------------------------------------------------

    def _access(self) -> tuple[str, str]:
        """A valid access token and the API base that came with it (fetched when needed)."""
        with self._token_lock:
            if self._token is None or self._monotonic() >= self._token_good_until:
                self._fetch_token()
            assert self._token is not None
            return self._token, self._token_api_base or self.api_base

    def _forget_token(self, token: str) -> None:
        with self._token_lock:
            if self._token == token:  # another thread may already have fetched a new one
                self._token = None

    def _fetch_token(self) -> None:
        response = self._post_for_token()
        log.info("Zoom token request: %s", response.status_code)
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            raise MeetingUnavailable(
                f"Zoom's login had a problem (HTTP {response.status_code}).",
                retry_after=retry_after,
                status=response.status_code,
            )
        try:
            body = _json_body(response)
        except _NotJSON:
            body = None
        if response.status_code != 200:
            raise self._token_refusal(response.status_code, body)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise MeetingUnavailable("Zoom's login sent an answer Lectern could not read.", status=200)
        expires_in = body.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) else 0
        # Renewed a little before Zoom's end of it (5 minutes for Zoom's hour), so no call carries
        # a token that expires on the way.
        margin = min(300.0, lifetime / 10)
        if self._token:
            self._spent_tokens = [*self._spent_tokens[-4:], self._token]
        self._token = token
        self._token_good_until = self._monotonic() + max(0.0, lifetime - margin)
        self._token_api_base = _api_base_from(body.get("api_url"))

    def _post_for_token(self) -> requests.Response:
        """POST the credentials. A failure is raised outside the `except`: the requests error, which
        holds the request and so its Authorization header, is not chained to what Lectern raises."""
        failure: MeetingUnavailable
        try:
            return self.session.post(
                self.oauth_url,
                auth=(self.client_id, self._client_secret),
                data={"grant_type": "account_credentials", "account_id": self.account_id},
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.Timeout:
            failure = MeetingUnavailable(f"Zoom's login did not answer within {self.timeout[1]:g} seconds.")
        except requests.RequestException as error:
            failure = MeetingUnavailable(f"Lectern could not reach Zoom's login ({type(error).__name__}).")
        raise failure

    def _token_refusal(self, status: int, body: Any) -> MeetingRefused:
        error = str(body.get("error", "")) if isinstance(body, dict) else ""
        reason = str(body.get("reason", "")) if isinstance(body, dict) else ""
        if status == 401 or error == "invalid_client":
            return MeetingRefused(
                "Zoom refused the credentials: check LECTERN_ZOOM_CLIENT_ID and LECTERN_ZOOM_CLIENT_SECRET.",
                status=status,
            )
        if "account" in reason.lower():
            return MeetingRefused("Zoom refused the account: check LECTERN_ZOOM_ACCOUNT_ID.", status=status)
        return MeetingRefused(
            f"Zoom refused Lectern's login (HTTP {status}{': ' + self._scrub(reason) if reason else ''}): check "
            "LECTERN_ZOOM_ACCOUNT_ID, LECTERN_ZOOM_CLIENT_ID and LECTERN_ZOOM_CLIENT_SECRET, and that the Zoom "
            "app is a Server-to-Server OAuth app that is activated.",
            status=status,
        )

    # Refusals in plain words -------------------------------------------------------------------

    def _refusal(self, answer: _Answer, *, what: str, meeting_id: str | None = None) -> MeetingRefused:
        status, code = answer.status, answer.code
        said = self._scrub(answer.message)
        if 200 <= status < 300:  # a success of the wrong shape
            return MeetingRefused(f"Zoom answered HTTP {status}, which Lectern did not expect.", status=status)
        if status == 401:
            message = (
                "Zoom did not accept Lectern's access token, even a fresh one: check that the Zoom app is "
                "activated and that LECTERN_ZOOM_ACCOUNT_ID names its account."
            )
        elif code in (4700, 4711) or "scope" in said.lower():
            message = (
                "The Zoom app lacks a permission Lectern needs: give it the scopes to read and write "
                "meetings and registrants (meeting:read:admin and meeting:write:admin, or their granular forms)."
            )
        elif code == 200 or "paid user" in said.lower():
            message = "Your Zoom plan does not allow this: meetings with registration need a licensed (paid) host."
        elif code == 3161:
            message = f"The Zoom user {self.host_user!r} is not allowed to host or schedule meetings."
        elif what in ("create", "list") and (status == 404 or code == 1001):
            message = f"Zoom has no user {self.host_user!r}: check LECTERN_ZOOM_HOST_USER."
        elif status == 404 or code == 3001:
            message = f"The Zoom meeting {meeting_id} no longer exists: it may have been deleted in Zoom."
        elif code == 3043:
            message = f"The Zoom meeting {meeting_id} is full: it has as many registrants as Zoom allows."
        elif code == 3027:
            message = "The Zoom host cannot register for their own meeting."
        elif status == 403:
            message = f"Zoom does not allow Lectern to do this{': ' + said if said else ''}."
        elif code == 300:
            message = f"Zoom refused a value Lectern sent{': ' + said if said else ''}."
        else:
            detail = f", code {code}" if code is not None else ""
            message = f"Zoom refused the request (HTTP {status}{detail}){': ' + said if said else ''}."
        return MeetingRefused(message, status=status, code=code)

    def _scrub(self, text: str) -> str:
        """Zoom's own words, fit for an organizer's page and the log: no secret, no address, not too long."""
        for secret in (self._client_secret, self._token, *self._spent_tokens):
            if secret:
                text = text.replace(secret, "<hidden>")
        text = re.sub(r"[^\s@<>]+@[^\s@<>]+", "<address>", text)
        return text[:300]

    # Reading Zoom's answers ------------------------------------------------------------------

    def _meeting(self, body: Any) -> Meeting:
        meeting_id = _id_text(body.get("id")) if isinstance(body, dict) else None
        join_url = body.get("join_url") if isinstance(body, dict) else None
        if meeting_id is None or not isinstance(join_url, str) or not join_url:
            raise MeetingUnavailable("Zoom's answer about the meeting could not be read.")
        return Meeting(
            id=meeting_id,
            join_url=join_url,
            start_url=str(body.get("start_url") or ""),
            password=str(body.get("password") or ""),
            provider=self.name,
        )

    def _user_segment(self) -> str:
        return quote(self.host_user, safe="@")


def _meeting_fields(spec: MeetingSpec) -> dict[str, Any]:
    """The body of a create or an update: the time in UTC, and registration with personal links."""
    fields: dict[str, Any] = {
        "topic": _zoom_topic(spec.topic),
        "start_time": _zoom_time(spec.starts_at),
        "duration": spec.minutes,
        "timezone": spec.timezone,
        "agenda": spec.agenda[:AGENDA_MAX],
        "settings": {
            "approval_type": 0,  # registration approved at once: each registrant gets a personal link
            "registration_type": 1,
            "waiting_room": spec.waiting_room,
            # Lectern emails attendees their links itself; Zoom's own emails would repeat them.
            "registrants_confirmation_email": False,
            "registrants_email_notification": False,
        },
    }
    return fields


def _zoom_topic(topic: str) -> str:
    return topic.strip()[:TOPIC_MAX]


def _zoom_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _same_moment(text: Any, zoom_time: str) -> bool:
    if not isinstance(text, str):
        return False
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _zoom_time(moment) == zoom_time


def _id_text(value: Any) -> str | None:
    """A Zoom meeting id (an int64 in JSON) as Lectern keeps it: a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    return None


def _checked_meeting_id(meeting_id: str) -> str:
    if not (isinstance(meeting_id, str) and meeting_id.isascii() and meeting_id.isdigit()):
        raise MeetingRefused(f"{meeting_id!r} is not a Zoom meeting id (Zoom's ids are numbers).")
    return meeting_id


def _json_body(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise _NotJSON from None


def _error_code(response: requests.Response) -> int | None:
    try:
        body = _json_body(response)
    except _NotJSON:
        return None
    return _Answer(response.status_code, body).code


def _api_base_from(api_url: Any) -> str | None:
    """The API base that comes with a token (`api_url` plus /v2), or None to keep the configured one."""
    if not isinstance(api_url, str):
        return None
    parts = urlsplit(api_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        log.warning("ignoring an api_url from Zoom that is not a web address")
        return None
    return api_url.strip().rstrip("/") + "/v2"


# --- A link pasted by an organizer ---------------------------------------------------------------

LINK_MAX = 2000


def checked_link(text: str) -> str:
    """A meeting link an organizer pasted, if it is a web address (http or https); else MeetingRefused."""
    link = text.strip()
    parts = urlsplit(link)
    if (
        not link
        or len(link) > LINK_MAX
        or re.search(r"[\s\x00-\x1f\x7f]", link)
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
    ):
        raise MeetingRefused("The meeting link must be a web address that starts with https:// (or http://).")
    return link


class StaticLinkProvider:
    """One link for everyone (Google Meet, Teams, a Zoom meeting made by hand): nothing to create or register.

    Registration hands back the same link, not a personal one; updates, deletions and
    cancellations have nothing to do at the provider.
    """

    name = "static"

    def __init__(self, link: str) -> None:
        self.link = checked_link(link)

    def __repr__(self) -> str:
        return f"<StaticLinkProvider {urlsplit(self.link).hostname}>"

    def _meeting(self) -> Meeting:
        meeting_id = "link-" + hashlib.sha256(self.link.encode()).hexdigest()[:16]
        return Meeting(id=meeting_id, join_url=self.link, start_url=self.link, password="", provider=self.name)

    def create_meeting(self, spec: MeetingSpec) -> Meeting:
        return self._meeting()

    def find_meeting(self, spec: MeetingSpec) -> Meeting | None:
        return self._meeting()

    def update_meeting(self, meeting_id: str, spec: MeetingSpec) -> None:
        return None

    def delete_meeting(self, meeting_id: str) -> None:
        return None

    def register(self, meeting_id: str, email: str, first_name: str, last_name: str = "") -> Registration:
        return Registration(registrant_id="", join_url=self.link)

    def cancel_registration(self, meeting_id: str, registrant_id: str, email: str) -> None:
        return None


# --- The fake -----------------------------------------------------------------------------------


@dataclass
class FakeMeeting:
    meeting: Meeting
    spec: MeetingSpec
    registrants: dict[str, Registration] = field(default_factory=dict)  # by email
    cancelled: set[str] = field(default_factory=set)  # registrant ids


@dataclass
class _Failure:
    error: MeetingError
    method: str | None
    happens_anyway: bool


class FakeMeetingProvider:
    """Meetings in memory, for tests and a laptop: deterministic, offline, and it remembers every call.

    `calls` lists each call as (method name, arguments). `refuse_next` and `unavailable_next` make
    the next call (or the next call of one method) fail; with `happens_anyway=True` the call takes
    effect and then fails, as a create whose answer was lost does.
    """

    name = "fake"

    def __init__(self, *, first_id: int = 81000000001, seed: int = 0) -> None:
        self._next_id = first_id
        self._random = random.Random(seed)
        self.meetings: dict[str, FakeMeeting] = {}
        self.deleted: set[str] = set()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()

    # Switches for tests ----------------------------------------------------------------------

    def refuse_next(self, message: str = "The fake provider refused.", *, method: str | None = None) -> None:
        self._failures.append(_Failure(MeetingRefused(message), method, happens_anyway=False))

    def unavailable_next(
        self,
        message: str = "The fake provider is unavailable.",
        *,
        retry_after: datetime | None = None,
        method: str | None = None,
        happens_anyway: bool = False,
    ) -> None:
        error = MeetingUnavailable(message, retry_after=retry_after)
        self._failures.append(_Failure(error, method, happens_anyway))

    def calls_of(self, method: str) -> list[tuple[Any, ...]]:
        return [arguments for name, arguments in self.calls if name == method]

    # The interface ---------------------------------------------------------------------------

    def create_meeting(self, spec: MeetingSpec) -> Meeting:
        with self._lock:
            failure = self._begin("create_meeting", spec)
            if failure and not failure.happens_anyway:
                raise failure.error
            meeting_id = str(self._next_id)
            self._next_id += 1
            meeting = Meeting(
                id=meeting_id,
                join_url=f"https://meetings.invalid/j/{meeting_id}",
                start_url=f"https://meetings.invalid/s/{meeting_id}?zak={self._token()}",
                password=f"{self._random.randrange(10**6):06d}",
                provider=self.name,
            )
            self.meetings[meeting_id] = FakeMeeting(meeting, spec)
            if failure:
                raise failure.error
            return meeting

    def find_meeting(self, spec: MeetingSpec) -> Meeting | None:
        with self._lock:
            self._fail_now("find_meeting", spec)
            for held in self.meetings.values():
                if _zoom_topic(held.spec.topic) == _zoom_topic(spec.topic) and held.spec.starts_at == spec.starts_at:
                    return held.meeting
            return None

    def update_meeting(self, meeting_id: str, spec: MeetingSpec) -> None:
        with self._lock:
            self._fail_now("update_meeting", meeting_id, spec)
            self._held(meeting_id).spec = spec

    def delete_meeting(self, meeting_id: str) -> None:
        with self._lock:
            self._fail_now("delete_meeting", meeting_id)
            if self.meetings.pop(meeting_id, None) is not None:
                self.deleted.add(meeting_id)

    def register(self, meeting_id: str, email: str, first_name: str, last_name: str = "") -> Registration:
        with self._lock:
            failure = self._begin("register", meeting_id, email, first_name, last_name)
            if failure and not failure.happens_anyway:
                raise failure.error
            held = self._held(meeting_id)
            key = email.strip().lower()
            registration = held.registrants.get(key)
            if registration is None:
                registrant_id = f"r{len(held.registrants) + 1}-{meeting_id}"
                registration = Registration(
                    registrant_id, f"https://meetings.invalid/j/{meeting_id}?tk={self._token()}"
                )
                held.registrants[key] = registration
            held.cancelled.discard(registration.registrant_id)
            if failure:
                raise failure.error
            return registration

    def cancel_registration(self, meeting_id: str, registrant_id: str, email: str) -> None:
        with self._lock:
            self._fail_now("cancel_registration", meeting_id, registrant_id, email)
            held = self.meetings.get(meeting_id)
            if held is not None:
                held.cancelled.add(registrant_id)

    # For tests to look at --------------------------------------------------------------------

    def active_registrants(self, meeting_id: str) -> dict[str, Registration]:
        held = self.meetings[meeting_id]
        return {email: r for email, r in held.registrants.items() if r.registrant_id not in held.cancelled}

    # Inside ------------------------------------------------------------------------------------

    def _begin(self, method: str, *arguments: Any) -> _Failure | None:
        self.calls.append((method, arguments))
        for index, failure in enumerate(self._failures):
            if failure.method in (None, method):
                return self._failures.pop(index)
        return None

    def _fail_now(self, method: str, *arguments: Any) -> None:
        failure = self._begin(method, *arguments)
        if failure:
            raise failure.error

    def _held(self, meeting_id: str) -> FakeMeeting:
        """A meeting this fake made, or one another process's fake made (`make run`: the web
        server creates meetings, the job consumer registers people): taken as it is. Only one
        deleted here is gone."""
        held = self.meetings.get(meeting_id)
        if held is None and meeting_id in self.deleted:
            raise MeetingRefused(f"The meeting {meeting_id} no longer exists.", status=404)
        if held is None:
            meeting = Meeting(
                id=meeting_id,
                join_url=f"https://meetings.invalid/j/{meeting_id}",
                start_url=f"https://meetings.invalid/s/{meeting_id}?zak={self._token()}",
                password="000000",
                provider=self.name,
            )
            unknown = MeetingSpec(topic="", starts_at=datetime(2000, 1, 1, tzinfo=UTC), minutes=60, timezone="UTC")
            held = self.meetings[meeting_id] = FakeMeeting(meeting, unknown)
        return held

    def _token(self) -> str:
        return "".join(self._random.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=22))


# --- Building the configured provider -----------------------------------------------------------

PROVIDERS = ("zoom", "fake", "none")
ZOOM_CREDENTIALS = ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET")


def default_provider_name(config: Mapping[str, Any]) -> str:
    """Zoom when its credentials are given; else the fake on a laptop, and none in production."""
    if all(config.get(key) for key in ZOOM_CREDENTIALS):
        return "zoom"
    return "fake" if config.get("ENV") == "development" else "none"


def build_meeting_provider(config: Mapping[str, Any]) -> MeetingProvider | None:
    """The provider that MEETING_PROVIDER names (None for "none": only pasted links then)."""
    name = config.get("MEETING_PROVIDER") or default_provider_name(config)
    if name == "none":
        return None
    if name == "fake":
        return FakeMeetingProvider()
    if name == "zoom":
        missing = [f"LECTERN_{key}" for key in ZOOM_CREDENTIALS if not config.get(key)]
        if missing:
            raise RuntimeError(f"MEETING_PROVIDER is zoom, but {', '.join(missing)} not set")
        return ZoomProvider(
            account_id=str(config["ZOOM_ACCOUNT_ID"]),
            client_id=str(config["ZOOM_CLIENT_ID"]),
            client_secret=str(config["ZOOM_CLIENT_SECRET"]),
            host_user=str(config.get("ZOOM_HOST_USER") or "me"),
            oauth_url=str(config.get("ZOOM_OAUTH_URL") or DEFAULT_OAUTH_URL),
            api_base=str(config.get("ZOOM_API_BASE") or DEFAULT_API_BASE),
            connect_timeout=float(config.get("ZOOM_CONNECT_TIMEOUT") or 5),
            read_timeout=float(config.get("ZOOM_READ_TIMEOUT") or 20),
        )
    raise RuntimeError(f"MEETING_PROVIDER must be one of {', '.join(PROVIDERS)}, not {name!r}")
