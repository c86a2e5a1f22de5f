"""The real OpenID Connect peer for tests: `oidc-provider` (npm) run by node on 127.0.0.1.

`running_provider()` starts tests/oidc/provider.mjs on a free loopback port and stops it;
`ProviderUser` is a person at the provider's own pages (its login form, its consent form,
its cancel link), driven with `requests`; `use_provider()` points a test app at a provider.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from flask import Flask

from app import register_identity
from tests.concurrency.live import free_port, stop_process_group
from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().parent / "provider.mjs"
PACKAGE = ROOT / "node_modules" / "oidc-provider"
MINIMUM_NODE = (20, 12)  # oidc-provider 9 computes PKCE challenges with crypto.hash()

CLIENT_ID = "lectern"
CLIENT_SECRET = "lectern-test-secret-0123456789abcdef"
OTHER_CLIENT_ID = "someone-else"
OTHER_CLIENT_SECRET = "someone-else-secret-0123456789abcdef"

ACCOUNTS: dict[str, dict[str, Any]] = {
    "ada": {"email": "ada@example.edu", "email_verified": True, "name": "Ada Lovelace"},
    "eve": {"email": "eve@example.edu", "email_verified": True, "name": "Eve"},
    "unverified": {"email": "una@example.edu", "email_verified": False, "name": "Una"},
}


@dataclass(frozen=True)
class RunningProvider:
    issuer: str
    process: subprocess.Popen[str]

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def app_config(self) -> dict[str, Any]:
        return {
            "OIDC_METADATA_URL": self.metadata_url,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_TIMEOUT": 5,
        }


def require_node() -> str:
    """The node binary, or a skip (a failure under CI=true) saying what is missing."""
    node = shutil.which("node")
    if node is None:
        skip_or_fail("node is not installed: the OIDC integration tests run the npm package oidc-provider")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    if tuple(int(part) for part in version.lstrip("v").split(".")[:2]) < MINIMUM_NODE:
        skip_or_fail(f"node {version} is too old for oidc-provider 9: it needs Node.js 20.12 or later (22 LTS best)")
    if not (PACKAGE / "package.json").exists():
        skip_or_fail("node_modules/oidc-provider is missing: run `make test` (or `npm ci`) in the project root")
    return node


@contextlib.contextmanager
def running_provider(redirect_uris: list[str], accounts: dict[str, Any] | None = None) -> Iterator[RunningProvider]:
    node = require_node()
    port = free_port()
    env = {
        **os.environ,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_OTHER_CLIENT_ID": OTHER_CLIENT_ID,
        "OIDC_OTHER_CLIENT_SECRET": OTHER_CLIENT_SECRET,
        "OIDC_REDIRECT_URIS": " ".join(redirect_uris),
        "OIDC_ACCOUNTS": json.dumps(ACCOUNTS if accounts is None else accounts),
        "NODE_ENV": "development",
    }
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            [node, str(SCRIPT), str(port)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,  # stopped as a group, like the live servers
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def read_stdout() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read_stdout, daemon=True).start()
        try:
            issuer = _wait_until_ready(lines, timeout=30)
            if issuer is None:
                stop_process_group(process, "oidc-provider", term_timeout=5)
                stderr.seek(0)
                raise RuntimeError(f"oidc-provider did not start (exit {process.returncode}):\n{stderr.read()}")
            yield RunningProvider(issuer, process)
        finally:
            stop_process_group(process, "oidc-provider", term_timeout=10)


def _wait_until_ready(lines: queue.Queue[str | None], timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            return None
        if line is None:
            return None
        if line.startswith("READY "):
            return line.split(None, 1)[1].strip()
    return None


# A person at the provider's own pages ---------------------------------------------------


class _Page(HTMLParser):
    """The forms (action and inputs) and links of one of the provider's pages."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.links: dict[str, str] = {}
        self._href: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({"action": attributes.get("action", ""), "inputs": {}})
        elif tag == "input" and self.forms and attributes.get("name"):
            self.forms[-1]["inputs"][attributes["name"]] = attributes.get("value", "")
        elif tag == "a":
            self._href, self._text = attributes.get("href"), ""

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links[self._text.strip()] = self._href
            self._href = None

    def form_for(self, prompt: str) -> dict[str, Any] | None:
        return next((form for form in self.forms if form["inputs"].get("prompt") == prompt), None)


class ProviderUser:
    """Someone at the provider with a browser of their own (its cookies), driven by `requests`."""

    def __init__(self, provider: RunningProvider) -> None:
        self.issuer = provider.issuer
        self.http = requests.Session()
        self.http.trust_env = False  # no proxy from the environment: only 127.0.0.1 is contacted
        self.pages: list[str] = []

    def authorize(self, url: str, login: str, *, cancel: bool = False, max_steps: int = 12) -> str:
        """Go through the provider's pages from `url`; return where it sends the browser back."""
        response = self.http.get(url, allow_redirects=False, timeout=10)
        for _ in range(max_steps):
            if response.is_redirect:
                location = urljoin(response.url, response.headers["Location"])
                if not location.startswith(self.issuer + "/"):
                    return location  # back to the client
                response = self.http.get(location, allow_redirects=False, timeout=10)
                continue
            assert response.status_code == 200, f"provider answered {response.status_code}: {response.text[:2000]}"
            self.pages.append(response.text)
            page = _Page()
            page.feed(response.text)
            if cancel:
                abort = page.links.get("[ Cancel ]")
                assert abort, "the provider's page has no cancel link"
                response = self.http.get(urljoin(response.url, unescape(abort)), allow_redirects=False, timeout=10)
            elif form := page.form_for("login"):
                data = {**form["inputs"], "login": login, "password": "any password"}
                response = self._submit(response.url, form, data)
            elif form := page.form_for("consent"):
                response = self._submit(response.url, form, dict(form["inputs"]))
            else:
                raise AssertionError(f"unexpected page at the provider: {response.text[:2000]}")
        raise AssertionError(f"the provider did not send the browser back within {max_steps} steps")

    def _submit(self, base: str, form: dict[str, Any], data: dict[str, str]) -> requests.Response:
        return self.http.post(urljoin(base, form["action"]), data=data, allow_redirects=False, timeout=10)


def _b64_json(segment: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified (to look at what the provider put in it)."""
    return _b64_json(token.split(".")[1])


def jwt_header(token: str) -> dict[str, Any]:
    return _b64_json(token.split(".")[0])


# Lectern configured with the provider --------------------------------------------------


def use_provider(app: Flask, **config: Any) -> Flask:
    """Give tests/conftest.py's `app` these OIDC_* settings, wired as create_app() wires them."""
    app.config.update(config)
    register_identity(app)
    return app
