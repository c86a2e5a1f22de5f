"""The real login flow against a real OpenID Connect provider: `oidc-provider` (npm) on 127.0.0.1.

Lectern runs in Flask's test client; the person at the provider is `requests` going through the
provider's own login, consent and cancel pages. Lectern talks to the provider for real. Only the
tests of what Lectern must refuse swap one piece of a real answer (the ID token, or the userinfo
answer) for a bad one, since a certified provider does not produce them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select
from werkzeug.test import TestResponse

from adapters.identity import OIDCProvider
from app import create_app
from extensions import db
from models import Organizer
from services import organizers
from tests.oidc.harness import (
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET,
    ProviderUser,
    RunningProvider,
    free_port,
    jwt_claims,
    jwt_header,
    running_provider,
    use_provider,
)

# Flask's test client builds url_for(..., _external=True) on http://localhost.
# The test client serves http://localhost; links, and so the callback, come from SITE_URL.
SITE = "http://localhost"
CALLBACK = f"{SITE}/auth/callback"
SCOPE = "openid email profile"


@pytest.fixture(scope="session")
def peer() -> Iterator[RunningProvider]:
    with running_provider([CALLBACK]) as provider:
        yield provider


@pytest.fixture
def oidc_app(app: Flask, peer: RunningProvider) -> Flask:
    """tests/conftest.py's app, logging organizers in at the real provider."""
    return use_provider(app, **peer.app_config(), SITE_URL=SITE)


@pytest.fixture
def client(oidc_app: Flask) -> FlaskClient:
    return oidc_app.test_client()


@pytest.fixture
def token_answers(oidc_app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every answer of the provider's token endpoint to Lectern, as authlib returned it."""
    oauth_client = oidc_app.extensions["lectern.identity"].client
    real = oauth_client.fetch_access_token
    answers: list[dict[str, Any]] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        answer = real(*args, **kwargs)
        answers.append(dict(answer))
        return answer

    monkeypatch.setattr(oauth_client, "fetch_access_token", recording)
    return answers


def allow(app: Flask, email: str) -> None:
    with app.app_context():
        organizers.add(db.session, email)
        db.session.commit()


def organizer(app: Flask, email: str) -> Organizer:
    with app.app_context():
        return db.session.scalars(select(Organizer).where(Organizer.email == email)).one()


def start(client: FlaskClient) -> tuple[str, dict[str, str]]:
    """GET /login: the address at the provider Lectern sends the browser to, and its query."""
    response = client.get("/login")
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    query = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
    return location, query


def back_to_lectern(location: str) -> str:
    """The provider's redirect to Lectern's callback, as a path for the test client."""
    assert location.startswith(CALLBACK + "?"), location
    return location.removeprefix("http://localhost")


def log_in(client: FlaskClient, peer: RunningProvider, login: str, *, cancel: bool = False) -> TestResponse:
    authorization_url, _ = start(client)
    returned = ProviderUser(peer).authorize(authorization_url, login, cancel=cancel)
    return client.get(back_to_lectern(returned))


def is_logged_out(client: FlaskClient) -> bool:
    response = client.get("/organize/")
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def failure_text(response: TestResponse) -> str:
    text = response.get_data(as_text=True)
    assert "You are not logged in" in text, text
    return text


# Who gets in --------------------------------------------------------------------------------


def test_create_app_reads_the_provider_from_lectern_oidc_variables(
    tmp_path: Path, peer: RunningProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LECTERN_OIDC_METADATA_URL", peer.metadata_url)
    monkeypatch.setenv("LECTERN_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("LECTERN_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'lectern.db'}",
            "CONTENT_VERSION_FILE": str(tmp_path / "content-version"),
            "SECRET_KEY": "test-secret",
        }
    )
    assert isinstance(app.extensions["lectern.identity"], OIDCProvider)
    location, query = start(app.test_client())
    assert location.startswith(f"{peer.issuer}/auth?")
    assert query["client_id"] == CLIENT_ID


def test_the_provider_itself_insists_on_pkce(peer: RunningProvider) -> None:
    """The peer is configured as the brief says: an authorization request without PKCE is refused."""
    query = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "scope": SCOPE,
        "redirect_uri": CALLBACK,
        "state": "s",
        "nonce": "n",
    }
    http = requests.Session()
    http.trust_env = False
    response = http.get(f"{peer.issuer}/auth?{urlencode(query)}", allow_redirects=False, timeout=10)
    assert response.is_redirect
    assert parse_qs(urlsplit(response.headers["Location"]).query)["error"] == ["invalid_request"]


def test_login_sends_the_browser_to_the_provider_with_pkce_state_and_nonce(
    client: FlaskClient, peer: RunningProvider
) -> None:
    location, query = start(client)
    assert location.startswith(f"{peer.issuer}/auth?")
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == CALLBACK
    assert set(query["scope"].split()) == set(SCOPE.split())
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43  # base64url of a SHA-256 digest
    assert len(query["state"]) >= 20
    assert len(query["nonce"]) >= 20
    with client.session_transaction() as session:
        pending = [value["data"] for key, value in session.items() if key.startswith("_state_lectern_oidc_")]
    assert len(pending) == 1
    assert pending[0]["nonce"] == query["nonce"]
    verifier = pending[0]["code_verifier"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert digest == query["code_challenge"], "the challenge is S256 of the verifier kept in the session"


def test_an_allow_listed_organizer_gets_in_and_is_bound(
    oidc_app: Flask, client: FlaskClient, peer: RunningProvider
) -> None:
    allow(oidc_app, "ada@example.edu")
    response = log_in(client, peer, "ada")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/organize/"
    assert client.get("/organize/").status_code == 200
    ada = organizer(oidc_app, "ada@example.edu")
    assert (ada.issuer, ada.subject) == (peer.issuer, "ada")
    assert ada.name == "Ada Lovelace"
    with client.session_transaction() as session:
        assert not [key for key in session if key.startswith("_state_")], "the pending login is forgotten"


def test_the_email_comes_from_userinfo_because_the_id_token_has_only_sub(
    oidc_app: Flask, client: FlaskClient, peer: RunningProvider, token_answers: list[dict[str, Any]]
) -> None:
    allow(oidc_app, "ada@example.edu")
    assert log_in(client, peer, "ada").status_code == 302
    (answer,) = token_answers
    id_token = jwt_claims(answer["id_token"])
    assert id_token["iss"] == peer.issuer
    assert id_token["aud"] == CLIENT_ID
    assert id_token["sub"] == "ada"
    assert not {"email", "email_verified", "name"} & id_token.keys(), id_token
    # Lectern knew the email all the same: only the userinfo endpoint could have told it.
    with client.session_transaction() as session:
        assert session["who"] == {"iss": peer.issuer, "sub": "ada", "email": "ada@example.edu"}


def test_a_returning_organizer_is_recognised_by_subject(
    oidc_app: Flask, client: FlaskClient, peer: RunningProvider
) -> None:
    allow(oidc_app, "ada@example.edu")
    assert log_in(client, peer, "ada").status_code == 302
    again = oidc_app.test_client()
    assert log_in(again, peer, "ada").status_code == 302
    assert again.get("/organize/").status_code == 200


def test_a_stranger_gets_a_403_that_says_why(client: FlaskClient, peer: RunningProvider) -> None:
    response = log_in(client, peer, "eve")
    assert response.status_code == 403
    assert "eve@example.edu is not on this series" in response.get_data(as_text=True)
    assert client.get("/organize/").status_code == 403


def test_an_unverified_email_is_refused(oidc_app: Flask, client: FlaskClient, peer: RunningProvider) -> None:
    allow(oidc_app, "una@example.edu")
    response = log_in(client, peer, "unverified")
    assert response.status_code == 403
    assert "does not confirm that una@example.edu is yours" in response.get_data(as_text=True)
    assert organizer(oidc_app, "una@example.edu").subject is None
    assert client.get("/organize/").status_code == 403


def test_an_unverified_email_gets_in_when_the_provider_is_trusted_for_emails(
    oidc_app: Flask, client: FlaskClient, peer: RunningProvider
) -> None:
    oidc_app.config["OIDC_TRUSTED_EMAILS"] = True
    allow(oidc_app, "una@example.edu")
    response = log_in(client, peer, "unverified")
    assert response.status_code == 302
    assert client.get("/organize/").status_code == 200
    assert organizer(oidc_app, "una@example.edu").subject == "unverified"


# Failures end on a friendly page, without a session ----------------------------------------


def test_a_tampered_state_fails_cleanly(oidc_app: Flask, client: FlaskClient, peer: RunningProvider) -> None:
    allow(oidc_app, "ada@example.edu")
    authorization_url, query = start(client)
    returned = ProviderUser(peer).authorize(authorization_url, "ada")
    assert parse_qs(urlsplit(returned).query)["state"] == [query["state"]]
    tampered = returned.replace(f"state={query['state']}", "state=" + secrets.token_urlsafe(20))
    assert tampered != returned
    response = client.get(back_to_lectern(tampered))
    assert response.status_code == 400
    assert "already used or has expired" in failure_text(response)
    assert is_logged_out(client)
    assert organizer(oidc_app, "ada@example.edu").subject is None


def test_a_callback_used_twice_is_refused_the_second_time(
    oidc_app: Flask, client: FlaskClient, peer: RunningProvider
) -> None:
    allow(oidc_app, "ada@example.edu")
    authorization_url, _ = start(client)
    returned = back_to_lectern(ProviderUser(peer).authorize(authorization_url, "ada"))
    assert client.get(returned).status_code == 302
    stranger = oidc_app.test_client()  # e.g. someone who found the address in a log
    response = stranger.get(returned)
    assert response.status_code == 400
    assert "already used or has expired" in failure_text(response)
    assert is_logged_out(stranger)


def test_a_cancelled_login_fails_cleanly(oidc_app: Flask, client: FlaskClient, peer: RunningProvider) -> None:
    allow(oidc_app, "ada@example.edu")
    authorization_url, query = start(client)
    returned = ProviderUser(peer).authorize(authorization_url, "ada", cancel=True)
    answer = parse_qs(urlsplit(returned).query)
    assert answer["error"] == ["access_denied"]
    assert answer["state"] == [query["state"]]
    response = client.get(back_to_lectern(returned))
    assert response.status_code == 400
    assert "The login was cancelled" in failure_text(response)
    assert is_logged_out(client)


def test_an_unreachable_provider_is_a_friendly_503(app: Flask) -> None:
    closed = free_port()  # nothing listens there
    use_provider(
        app,
        OIDC_METADATA_URL=f"http://127.0.0.1:{closed}/.well-known/openid-configuration",
        OIDC_CLIENT_ID=CLIENT_ID,
        OIDC_CLIENT_SECRET="unused",
    )
    client = app.test_client()
    response = client.get("/login")
    assert response.status_code == 503
    assert "cannot be reached" in failure_text(response)
    assert is_logged_out(client)


def test_a_provider_that_never_answers_is_a_friendly_503_after_the_timeout(app: Flask) -> None:
    """A provider that accepts the connection and then says nothing must not hang the login."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    # Close it eventually, so that a missing timeout fails this test instead of hanging the suite.
    closer = threading.Timer(20, silent.close)
    closer.start()
    use_provider(
        app,
        OIDC_METADATA_URL=f"http://127.0.0.1:{port}/.well-known/openid-configuration",
        OIDC_CLIENT_ID=CLIENT_ID,
        OIDC_CLIENT_SECRET="unused",
        OIDC_TIMEOUT=1,
    )
    try:
        began = time.monotonic()
        response = app.test_client().get("/login")
        waited = time.monotonic() - began
    finally:
        closer.cancel()
        silent.close()
    assert response.status_code == 503
    assert "cannot be reached" in failure_text(response)
    assert waited < 10, f"the login waited {waited:.1f}s for a silent provider (OIDC_TIMEOUT is 1s)"


def test_a_provider_gone_at_the_callback_fails_cleanly(app: Flask) -> None:
    with running_provider([CALLBACK]) as short_lived:
        use_provider(app, **short_lived.app_config(), SITE_URL=SITE)
        allow(app, "ada@example.edu")
        client = app.test_client()
        authorization_url, _ = start(client)
        returned = ProviderUser(short_lived).authorize(authorization_url, "ada")
        short_lived.process.terminate()
        short_lived.process.wait(10)
        response = client.get(back_to_lectern(returned))
        assert response.status_code == 400
        assert "cannot be reached" in failure_text(response)
        assert is_logged_out(client)


# ID tokens Lectern must not accept ----------------------------------------------------------


def id_token_for_another_client(peer: RunningProvider, nonce: str) -> dict[str, Any]:
    """A genuine token answer from the provider, issued to another client (same nonce, same person)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "client_id": OTHER_CLIENT_ID,
        "response_type": "code",
        "scope": SCOPE,
        "redirect_uri": CALLBACK,
        "state": secrets.token_urlsafe(16),
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    user = ProviderUser(peer)
    returned = user.authorize(f"{peer.issuer}/auth?{urlencode(query)}", "ada")
    code = parse_qs(urlsplit(returned).query)["code"][0]
    answer = user.http.post(
        f"{peer.issuer}/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier},
        auth=(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET),
        timeout=10,
    )
    answer.raise_for_status()
    token = answer.json()
    assert jwt_claims(token["id_token"])["aud"] == OTHER_CLIENT_ID
    return token


def forged_with_another_key(id_token: str) -> str:
    """The same claims and key id, signed by a key that is not the provider's."""
    header = jwt_header(id_token)
    key = RSAKey.generate_key(2048, parameters={"kid": header["kid"]})
    return jwt.encode({"alg": "RS256", "kid": header["kid"]}, jwt_claims(id_token), key)


def with_altered_claims(id_token: str) -> str:
    """The provider's signature kept, `sub` changed to someone else."""
    header, _, signature = id_token.split(".")
    claims = {**jwt_claims(id_token), "sub": "eve"}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


@pytest.mark.parametrize(
    ("attack", "logged_reason"),
    [("another-client", "'aud'"), ("forged-signature", "bad_signature"), ("altered-claims", "bad_signature")],
)
def test_an_id_token_that_is_not_for_lectern_or_not_from_the_provider_is_refused(
    oidc_app: Flask,
    client: FlaskClient,
    peer: RunningProvider,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    attack: str,
    logged_reason: str,
) -> None:
    allow(oidc_app, "ada@example.edu")
    authorization_url, query = start(client)
    other = id_token_for_another_client(peer, query["nonce"]) if attack == "another-client" else None
    oauth_client = oidc_app.extensions["lectern.identity"].client
    real = oauth_client.fetch_access_token

    def substituted(*args: Any, **kwargs: Any) -> Any:
        answer = real(*args, **kwargs)  # Lectern's real exchange of its code
        if other is not None:
            return {**answer, "access_token": other["access_token"], "id_token": other["id_token"]}
        if attack == "forged-signature":
            return {**answer, "id_token": forged_with_another_key(answer["id_token"])}
        return {**answer, "id_token": with_altered_claims(answer["id_token"])}

    monkeypatch.setattr(oauth_client, "fetch_access_token", substituted)
    returned = ProviderUser(peer).authorize(authorization_url, "ada")
    with caplog.at_level(logging.WARNING, logger="adapters.identity"):
        response = client.get(back_to_lectern(returned))
    assert response.status_code == 400
    assert "could not be verified" in failure_text(response)
    assert "login refused" in caplog.text and logged_reason in caplog.text, caplog.text
    assert is_logged_out(client)
    assert organizer(oidc_app, "ada@example.edu").subject is None


def trust_an_extra_signing_key(oidc_app: Flask) -> RSAKey:
    """A key Lectern takes for one of the provider's own (as if the provider had signed with it).

    The provider's real keys never leave it; this lets a test hand Lectern an ID token that
    passes the signature check and differs from a genuine one only in the claims under test.
    """
    oauth_client = oidc_app.extensions["lectern.identity"].client
    genuine = oauth_client.fetch_jwk_set()
    key = RSAKey.generate_key(2048, parameters={"kid": "lectern-tests-extra", "use": "sig", "alg": "RS256"})
    oauth_client.server_metadata["jwks"] = {"keys": [*genuine["keys"], key.as_dict(private=False)]}
    return key


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, 302),  # the control: re-signed but unchanged, it is accepted
        ({"aud": OTHER_CLIENT_ID, "azp": CLIENT_ID}, 400),
        ({"aud": [OTHER_CLIENT_ID], "azp": CLIENT_ID}, 400),
        ({"aud": [OTHER_CLIENT_ID, "third"], "azp": CLIENT_ID}, 400),
        ({"iss": "http://127.0.0.1:9/elsewhere"}, 400),
        ({"nonce": "not-the-one-lectern-sent"}, 400),
        ({"exp": int(time.time()) - 3600}, 400),
    ],
    ids=["unchanged", "aud-other", "aud-list-other", "aud-others-with-azp", "iss", "nonce", "expired"],
)
def test_the_id_token_claims_are_checked(
    oidc_app: Flask,
    client: FlaskClient,
    peer: RunningProvider,
    monkeypatch: pytest.MonkeyPatch,
    changes: dict[str, Any],
    status: int,
) -> None:
    allow(oidc_app, "ada@example.edu")
    authorization_url, _ = start(client)
    key = trust_an_extra_signing_key(oidc_app)
    oauth_client = oidc_app.extensions["lectern.identity"].client
    real = oauth_client.fetch_access_token

    def resigned(*args: Any, **kwargs: Any) -> Any:
        answer = real(*args, **kwargs)
        claims = {**jwt_claims(answer["id_token"]), **changes}
        return {**answer, "id_token": jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)}

    monkeypatch.setattr(oauth_client, "fetch_access_token", resigned)
    response = client.get(back_to_lectern(ProviderUser(peer).authorize(authorization_url, "ada")))
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 400:
        assert "could not be verified" in failure_text(response)
        assert is_logged_out(client)


@pytest.mark.parametrize(
    "userinfo",
    [
        {"email": "ada@example.edu", "email_verified": True, "name": "Ada"},
        {"sub": "eve", "email": "ada@example.edu", "email_verified": True, "name": "Ada"},
    ],
    ids=["no-sub", "other-sub"],
)
def test_a_userinfo_answer_that_is_not_about_the_id_tokens_subject_is_not_used(
    oidc_app: Flask,
    client: FlaskClient,
    peer: RunningProvider,
    monkeypatch: pytest.MonkeyPatch,
    userinfo: dict[str, Any],
) -> None:
    allow(oidc_app, "ada@example.edu")
    oauth_client = oidc_app.extensions["lectern.identity"].client
    real = oauth_client.userinfo

    def answered(**kwargs: Any) -> Any:
        real(**kwargs)  # the real call still happens
        return dict(userinfo)

    monkeypatch.setattr(oauth_client, "userinfo", answered)
    response = log_in(client, peer, "ada")
    assert response.status_code == 400
    assert "two different identities" in failure_text(response)
    assert is_logged_out(client)
    assert organizer(oidc_app, "ada@example.edu").subject is None
