"""A fake Zoom on 127.0.0.1 for tests: the OAuth token endpoint and the meeting endpoints Lectern uses.

It is a real HTTP server (werkzeug, in a thread), so the real `ZoomProvider` talks to it through
`requests` as it would to Zoom. It keeps meetings and registrants in memory and checks every
request it receives and every answer it gives against Zoom's own OpenAPI description
(`../shared/zoom/meetings-endpoints.openapi.json`, with openapi-core). The token endpoint is not in
that file: it is checked by hand, as DESIGN.md describes it. What does not match is kept in
`violations`; `running_fake_zoom()` fails the test at the end if there are any.

Faults for the next call (or the next call of one operation, such as "POST /users/{userId}/meetings"):
`time_out_next` (does the work, then answers too late), `fail_next` (a status, with Retry-After when
given), `malformed_next` (does the work, then answers broken JSON), `expire_token_next` (401, code 124,
and the token stops working). `calls` and `count()` say what was called, so a test can assert
"exactly one create".
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.conftest import skip_or_fail

SPEC_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "zoom"
ENDPOINTS = SPEC_DIR / "meetings-endpoints.openapi.json"
WEBHOOKS = SPEC_DIR / "meetings-webhooks.openapi.json"
# The server Zoom's description names: requests are checked as if sent there.
SPEC_HOST, SPEC_PREFIX = "https://api.zoom.us", "/v2"

ACCOUNT_ID = "lectern-account-7Qx"
CLIENT_ID = "lectern-client-4Fz"
CLIENT_SECRET = "s3cr3t-client-value-9a8b7c6d5e4f"
HOST_ID = "KDcuGIm1QgePTO8WbOqwIQ"
HOST_EMAIL = "talks-host@example.edu"


def require_spec(path: Path) -> Path:
    if not path.is_file():
        skip_or_fail(f"Zoom's OpenAPI description is not at {path} (the repository's ../shared/zoom/)")
    return path


@cache
def endpoints_openapi() -> OpenAPI:
    """Zoom's meeting endpoints. The description itself is Zoom's and is not validated here (it takes seconds)."""
    spec = json.loads(require_spec(ENDPOINTS).read_text())
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


@cache
def webhooks_openapi() -> OpenAPI:
    spec = json.loads(require_spec(WEBHOOKS).read_text())
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


# --- What openapi-core is shown -----------------------------------------------------------------


class SpecRequest:
    """A request as openapi-core reads it, moved onto the server in Zoom's description."""

    def __init__(self, method: str, api_path: str, query: ImmutableMultiDict, headers: Headers, body: bytes) -> None:
        self.method = method.lower()
        self.host_url = SPEC_HOST
        self.path = SPEC_PREFIX + api_path
        self.body = body or None
        self.content_type = headers.get("Content-Type") or "application/octet-stream"
        self.parameters = RequestParameters(query=query, header=headers, cookie=ImmutableMultiDict())


@dataclass
class SpecResponse:
    status_code: int
    data: bytes
    content_type: str
    headers: Headers


# --- Faults -------------------------------------------------------------------------------------


@dataclass
class Fault:
    kind: str  # "time_out", "status", "malformed", "expired_token"
    operation: str | None  # "POST /users/{userId}/meetings", or None for any API call
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    does_the_work: bool = True


@dataclass(frozen=True)
class Call:
    method: str
    operation: str  # method and Zoom's path template
    path: str  # the path as received
    base: str  # the prefix before /v2 that the client used
    status: int


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # Zoom's path template, as in its description
    handler: str

    @property
    def operation(self) -> str:
        return f"{self.method} {self.template}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        found = re.fullmatch(pattern, path) if method == self.method else None
        return found.groupdict() if found else None


ROUTES = [
    Route("POST", "/users/{userId}/meetings", "create"),
    Route("GET", "/users/{userId}/meetings", "list"),
    Route("GET", "/meetings/{meetingId}", "get"),
    Route("PATCH", "/meetings/{meetingId}", "update"),
    Route("DELETE", "/meetings/{meetingId}", "delete"),
    Route("POST", "/meetings/{meetingId}/registrants", "register"),
    Route("PUT", "/meetings/{meetingId}/registrants/status", "registrant_status"),
]


class _Quiet(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class ZoomError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# --- The fake -----------------------------------------------------------------------------------


class FakeZoom:
    """Zoom's token endpoint at /oauth/token and its API at /<api_prefix>/v2 (the `api_url` of each
    token) and at /v2 (a base configured by hand, used only when a token comes without api_url)."""

    def __init__(
        self,
        openapi: OpenAPI,
        *,
        api_prefix: str = "/regional",
        expires_in: int = 3600,
        send_api_url: bool = True,
        hang_seconds: float = 3.0,
        max_page_size: int = 300,
    ) -> None:
        self.openapi = openapi
        self.api_prefix = api_prefix
        self.expires_in = expires_in
        self.send_api_url = send_api_url
        self.hang_seconds = hang_seconds
        self.max_page_size = max_page_size
        self.violations: list[str] = []
        self.calls: list[Call] = []
        self.token_requests = 0
        self.issued_tokens: list[str] = []
        self.meetings: dict[int, dict[str, Any]] = {}
        self.registrants: dict[int, dict[str, dict[str, Any]]] = {}  # meeting id -> email -> registrant
        self.faults: list[Fault] = []
        self.token_faults: list[Fault] = []
        self._valid_tokens: set[str] = set()
        self._next_id = 85746065001  # past 2**32: ids are int64 in JSON, strings in Lectern
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._tamper: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # Running ------------------------------------------------------------------------------------

    def start(self) -> FakeZoom:
        self._server = make_server("127.0.0.1", 0, self.wsgi, threaded=True, request_handler=_Quiet)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-zoom", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # wake any answer held back by time_out_next
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def oauth_url(self) -> str:
        return f"{self.url}/oauth/token"

    @property
    def api_url(self) -> str:
        """What a token's api_url says (the client adds /v2)."""
        return f"{self.url}{self.api_prefix}"

    @property
    def configured_base(self) -> str:
        """A LECTERN_ZOOM_API_BASE pointing here, other than the api_url."""
        return f"{self.url}/v2"

    def provider_settings(self) -> dict[str, Any]:
        """The keyword arguments of a ZoomProvider talking to this fake."""
        return {
            "account_id": ACCOUNT_ID,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "oauth_url": self.oauth_url,
            "api_base": self.configured_base,
        }

    def app_config(self) -> dict[str, Any]:
        """The same, as Lectern's configuration."""
        return {
            "MEETING_PROVIDER": "zoom",
            "ZOOM_ACCOUNT_ID": ACCOUNT_ID,
            "ZOOM_CLIENT_ID": CLIENT_ID,
            "ZOOM_CLIENT_SECRET": CLIENT_SECRET,
            "ZOOM_OAUTH_URL": self.oauth_url,
            "ZOOM_API_BASE": self.configured_base,
        }

    # Faults and looking back -------------------------------------------------------------------

    def time_out_next(self, operation: str | None = None, *, does_the_work: bool = True) -> None:
        self.faults.append(Fault("time_out", operation, does_the_work=does_the_work))

    def fail_next(
        self,
        status: int,
        operation: str | None = None,
        *,
        retry_after: str | None = None,
        headers: dict[str, str] | None = None,
        code: int | None = None,
        message: str = "",
    ) -> None:
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = retry_after
        body = {"code": code if code is not None else status, "message": message or f"Fault {status}"}
        self.faults.append(Fault("status", operation, status=status, headers=extra, body=body, does_the_work=False))

    def malformed_next(self, operation: str | None = None) -> None:
        self.faults.append(Fault("malformed", operation))

    def expire_token_next(self) -> None:
        """The next API call finds its token expired (401, code 124), and that token stays refused."""
        self.faults.append(Fault("expired_token", None, does_the_work=False))

    def fail_token_next(self, status: int, *, retry_after: str | None = None) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.token_faults.append(Fault("status", None, status=status, headers=headers))

    def tamper_next_answer(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Change the next JSON answer (to check that answers are checked against the description)."""
        self._tamper = change

    def count(self, operation: str) -> int:
        return sum(1 for call in self.calls if call.operation == operation)

    def take_violations(self) -> list[str]:
        with self._lock:
            found, self.violations = self.violations, []
        return found

    def registrant(self, meeting_id: int | str, email: str) -> dict[str, Any]:
        return self.registrants[int(meeting_id)][email.lower()]

    # The WSGI application ----------------------------------------------------------------------

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._token_endpoint(request) if request.path == "/oauth/token" else self._api(request)
        return response(environ, start_response)

    def _violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)

    # The token endpoint, checked by hand (DESIGN.md) -------------------------------------------

    def _token_endpoint(self, request: Request) -> Response:
        with self._lock:
            self.token_requests += 1
            fault = self.token_faults.pop(0) if self.token_faults else None
        problems = []
        if request.method != "POST":
            problems.append(f"the token request must be a POST, not {request.method}")
        if request.mimetype != "application/x-www-form-urlencoded":
            problems.append(f"the token request's body must be a form, not {request.mimetype or 'nothing'}")
        if request.args:
            problems.append(f"the token request must carry its fields in the body, not the URL: {sorted(request.args)}")
        form = parse_qs(request.get_data(as_text=True), keep_blank_values=True)
        if form.get("grant_type") != ["account_credentials"]:
            problems.append(f"grant_type must be account_credentials, not {form.get('grant_type')}")
        if len(form.get("account_id", [])) != 1:
            problems.append("the token request must name one account_id")
        if extra := set(form) - {"grant_type", "account_id"}:
            problems.append(f"unexpected fields in the token request: {sorted(extra)}")
        client = _basic_credentials(request.headers.get("Authorization", ""))
        if client is None:
            problems.append("the token request must authenticate with HTTP Basic (client id and secret)")
        for problem in problems:
            self._violation(f"POST /oauth/token: {problem}")
        if problems:
            return _json(400, {"reason": "; ".join(problems), "error": "invalid_request"})
        if fault is not None:
            return _json(fault.status, {"reason": "Fault", "error": "server_error"}, fault.headers)
        if client != (CLIENT_ID, CLIENT_SECRET):
            return _json(401, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"})
        if form["account_id"] != [ACCOUNT_ID]:
            return _json(400, {"reason": "Invalid request : Invalid account_id.", "error": "invalid_request"})
        token = "zt-" + secrets.token_urlsafe(24)
        with self._lock:
            self._valid_tokens.add(token)
            self.issued_tokens.append(token)
        answer: dict[str, Any] = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "scope": "meeting:read:admin meeting:write:admin",
        }
        if self.send_api_url:
            answer["api_url"] = self.api_url
        return _json(200, answer)

    # The API, checked against Zoom's description -----------------------------------------------

    def _api(self, request: Request) -> Response:
        base, api_path = self._split_base(request.path)
        route, params = _route(request.method, api_path or "")
        if api_path is None or route is None:
            self._violation(f"{request.method} {request.path}: not a Zoom API call this fake knows")
            return _json(404, {"code": 404, "message": "Not found."})
        spec_request = SpecRequest(
            request.method,
            api_path,
            ImmutableMultiDict(list(request.args.items(multi=True))),
            Headers(request.headers),
            request.get_data(),
        )
        operation = route.operation
        try:
            self.openapi.validate_request(spec_request)
        except Exception as error:  # openapi-core raises one of several kinds; each is a violation
            self._violation(f"{operation}: the request does not match Zoom's description: {_explain(error)}")
            return self._record(request, operation, base, _json(400, {"code": 300, "message": "Invalid request."}))
        with self._lock:
            fault = next((f for f in self.faults if f.operation in (None, operation)), None)
            if fault is not None:
                self.faults.remove(fault)
        if fault is not None and fault.kind == "expired_token":
            with self._lock:
                self._valid_tokens.discard(_bearer(request))
        if _bearer(request) not in self._valid_tokens:
            # Zoom's description documents no 401 answers: this one is not checked against it.
            answer = _json(401, {"code": 124, "message": "Invalid access token."})
            return self._record(request, operation, base, answer)
        if fault is not None and fault.kind == "status":
            return self._record(request, operation, base, _json(fault.status, fault.body, fault.headers))
        if fault is not None and fault.kind == "time_out" and not fault.does_the_work:
            return self._too_late(request, operation, base, _json(504, {"code": 504, "message": "Too late."}))
        try:
            status, body = getattr(self, "_" + route.handler)(request, params)
        except ZoomError as error:
            status, body = error.status, {"code": error.code, "message": error.message}
        if fault is not None and fault.kind == "malformed":
            return self._record(request, operation, base, Response(b'{"id": 8574', status, mimetype="application/json"))
        if self._tamper is not None and isinstance(body, dict):
            body, self._tamper = self._tamper(body), None
        answer = _json(status, body) if body is not None else Response(status=status)
        self._check_answer(operation, spec_request, answer)
        if fault is not None and fault.kind == "time_out":
            return self._too_late(request, operation, base, answer)
        return self._record(request, operation, base, answer)

    def _too_late(self, request: Request, operation: str, base: str, answer: Response) -> Response:
        """Count the call, then hold the answer back until the client has given up."""
        self._record(request, operation, base, answer)
        self._release.wait(self.hang_seconds)
        return answer

    def _split_base(self, path: str) -> tuple[str, str | None]:
        for base in (self.api_prefix, ""):
            if path.startswith(base + "/v2/"):
                return base, path[len(base) + 3 :]
        return "", None

    def _check_answer(self, operation: str, spec_request: SpecRequest, answer: Response) -> None:
        spec_response = SpecResponse(
            answer.status_code, answer.get_data(), answer.mimetype or "", Headers(answer.headers)
        )
        try:
            self.openapi.validate_response(spec_request, spec_response)
        except Exception as error:
            self._violation(f"{operation}: the fake's answer does not match Zoom's description: {_explain(error)}")

    def _record(self, request: Request, operation: str, base: str, answer: Response) -> Response:
        with self._lock:
            self.calls.append(Call(request.method, operation, request.path, base, answer.status_code))
        return answer

    # The operations ----------------------------------------------------------------------------

    def _create(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        self._host(params["userId"])
        body = request.get_json()
        with self._lock:
            meeting_id = self._next_id
            self._next_id += 1
            settings = {"approval_type": 2, "registration_type": 1, "waiting_room": False}
            settings.update(body.get("settings") or {})
            meeting = {
                "id": meeting_id,
                "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
                "host_id": HOST_ID,
                "host_email": HOST_EMAIL,
                "topic": body.get("topic", "Zoom Meeting"),
                "type": body.get("type", 2),
                "status": "waiting",
                "start_time": _utc_text(body.get("start_time")),
                "duration": body.get("duration", 60),
                "timezone": body.get("timezone", "UTC"),
                "agenda": body.get("agenda", ""),
                "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "start_url": f"https://fake-zoom.invalid/s/{meeting_id}?zak={secrets.token_urlsafe(16)}",
                "join_url": f"https://fake-zoom.invalid/j/{meeting_id}?pwd={secrets.token_urlsafe(8)}",
                "password": secrets.token_hex(3),
                "pre_schedule": False,
                "settings": settings,
            }
            if settings.get("approval_type") in (0, 1):
                meeting["registration_url"] = f"https://fake-zoom.invalid/meeting/register/{meeting['uuid']}"
            self.meetings[meeting_id] = meeting
            self.registrants[meeting_id] = {}
        return 201, dict(meeting)

    def _list(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        self._host(params["userId"])
        page_size = min(int(request.args.get("page_size", 30)), self.max_page_size)
        start = int(request.args.get("next_page_token") or 0)
        with self._lock:
            listed = [m for m in self.meetings.values() if m["type"] == 2]
        page = listed[start : start + page_size]
        following = start + page_size
        keys = ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone", "agenda", "created_at")
        return 200, {
            "page_size": page_size,
            "total_records": len(listed),
            "next_page_token": str(following) if following < len(listed) else "",
            "meetings": [{key: m[key] for key in keys} | {"join_url": m["join_url"]} for m in page],
        }

    def _get(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        return 200, dict(self._meeting(params["meetingId"]))

    def _update(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        meeting = self._meeting(params["meetingId"])
        body = request.get_json()
        with self._lock:
            for key in ("topic", "duration", "timezone", "agenda", "type"):
                if key in body:
                    meeting[key] = body[key]
            if "start_time" in body:
                meeting["start_time"] = _utc_text(body["start_time"])
            meeting["settings"].update(body.get("settings") or {})
        return 204, None

    def _delete(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        meeting = self._meeting(params["meetingId"])
        with self._lock:
            del self.meetings[meeting["id"]]
        return 204, None

    def _register(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        meeting_id = int(params["meetingId"])
        if meeting_id not in self.meetings:  # the description gives code 1001 here, not 3001
            raise ZoomError(404, 1001, f"Meeting does not exist: {meeting_id}.")
        meeting = self.meetings[meeting_id]
        approval = meeting["settings"].get("approval_type")
        if approval not in (0, 1):
            raise ZoomError(400, 3000, f"Registration has not been enabled for this meeting: {meeting_id}.")
        body = request.get_json()
        email = body["email"].lower()
        with self._lock:
            # Zoom keeps one registrant per email in a meeting: registering again answers the same one.
            # (A cancelled registrant who registers again is approved again here; what Zoom does then
            # is not in its description.)
            registrant = self.registrants[meeting_id].get(email)
            if registrant is None:
                registrant = {
                    "id": secrets.token_urlsafe(16),
                    "email": email,
                    "first_name": body["first_name"],
                    "last_name": body.get("last_name", ""),
                    "join_url": f"https://fake-zoom.invalid/w/{meeting_id}?tk={secrets.token_urlsafe(24)}",
                }
                self.registrants[meeting_id][email] = registrant
            registrant["status"] = "approved" if approval == 0 else "pending"
        answer = {
            "id": meeting_id,
            "registrant_id": registrant["id"],
            "topic": meeting["topic"],
            "start_time": meeting["start_time"],
        }
        if approval == 0:  # Zoom gives the personal link only when registration is approved automatically
            answer["join_url"] = registrant["join_url"]
        return 201, answer

    def _registrant_status(self, request: Request, params: dict[str, str]) -> tuple[int, Any]:
        meeting = self._meeting(params["meetingId"])
        body = request.get_json()
        status = {"approve": "approved", "cancel": "cancelled", "deny": "denied"}[body["action"]]
        with self._lock:
            for named in body.get("registrants") or []:
                for registrant in self.registrants[meeting["id"]].values():
                    # Registrants Zoom does not know are passed over, as are those already in that state.
                    if registrant["id"] == named.get("id") or registrant["email"] == str(named.get("email")).lower():
                        registrant["status"] = status
        return 204, None

    def _host(self, user_id: str) -> None:
        if user_id not in ("me", HOST_ID, HOST_EMAIL):
            raise ZoomError(404, 1001, f"User does not exist: {user_id}.")

    def _meeting(self, meeting_id: str) -> dict[str, Any]:
        meeting = self.meetings.get(int(meeting_id))
        if meeting is None:
            raise ZoomError(404, 3001, f"Meeting does not exist: {meeting_id}.")
        return meeting


@contextlib.contextmanager
def running_fake_zoom(**options: Any) -> Iterator[FakeZoom]:
    """A started fake Zoom; at the end, the test fails if any request or answer broke Zoom's description."""
    zoom = FakeZoom(endpoints_openapi(), **options).start()
    try:
        yield zoom
    finally:
        zoom.stop()
    violations = zoom.take_violations()
    assert not violations, "calls that do not match Zoom's OpenAPI description:\n" + "\n".join(violations)


# --- Small helpers ------------------------------------------------------------------------------


def _route(method: str, api_path: str) -> tuple[Route | None, dict[str, str]]:
    for route in ROUTES:
        params = route.match(method, api_path)
        if params is not None:
            return route, params
    return None, {}


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers=headers or {}, mimetype="application/json")


def _bearer(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    return header[len("Bearer ") :] if header.startswith("Bearer ") else ""


def _basic_credentials(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(header[len("Basic ") :], validate=True).decode().partition(":")
    except ValueError:
        return None
    return client_id, secret


def _utc_text(value: Any) -> str:
    """Zoom answers start times in UTC, whatever zone the request used."""
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _explain(error: Exception) -> str:
    """openapi-core's error with its causes (the schema errors say which field is wrong)."""
    parts = [f"{type(error).__name__}: {error}"]
    cause = error.__cause__
    while cause is not None:
        parts.append(f"{type(cause).__name__}: {cause}")
        for schema_error in getattr(cause, "schema_errors", ()) or ():
            parts.append(f"  {'/'.join(str(p) for p in schema_error.path) or '(body)'}: {schema_error.message}")
        cause = cause.__cause__
    return "\n    ".join(parts)
