"""Organizer login with a fake identity provider: who gets in, who gets a 403, what a failure leaves."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from adapters.identity import FakeIdentityProvider, Identity
from extensions import db
from models import Organizer
from services import organizers
from tests.blueprints.conftest import local_part

ISSUER = "https://login.example.edu"
ADA = Identity(ISSUER, "sub-ada", "ada@example.edu", email_verified=True, name="Ada")


def use_provider(app: Flask, provider: FakeIdentityProvider | None) -> None:
    app.extensions["lectern.identity"] = provider


def allow(app: Flask, email: str) -> None:
    with app.app_context():
        organizers.add(db.session, email)
        db.session.commit()


def log_in(client: FlaskClient, next_url: str | None = None):  # type: ignore[no-untyped-def]
    start = client.get("/login" + (f"?next={next_url}" if next_url else ""))
    assert start.status_code == 302
    return client.get(local_part(start.headers["Location"]))


def has_session_cookie(client: FlaskClient) -> bool:
    return client.get_cookie("session") is not None


def test_allow_listed_organizer_gets_in_and_is_bound(app: Flask, client: FlaskClient) -> None:
    allow(app, "ada@example.edu")
    use_provider(app, FakeIdentityProvider(ADA))
    response = log_in(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/organize/"
    assert client.get("/organize/").status_code == 200
    with app.app_context():
        ada = db.session.scalars(select(Organizer)).one()
        assert (ada.issuer, ada.subject) == (ISSUER, "sub-ada")


def test_a_stranger_gets_a_403_that_says_why(app: Flask, client: FlaskClient) -> None:
    use_provider(app, FakeIdentityProvider(Identity(ISSUER, "sub-x", "x@example.edu", True)))
    response = log_in(client)
    assert response.status_code == 403
    assert "x@example.edu is not on this series" in response.get_data(as_text=True)
    assert client.get("/organize/").status_code == 403


def test_unverified_email_is_not_bound(app: Flask, client: FlaskClient) -> None:
    allow(app, "ada@example.edu")
    use_provider(app, FakeIdentityProvider(Identity(ISSUER, "sub-ada", "ada@example.edu", email_verified=False)))
    response = log_in(client)
    assert response.status_code == 403
    assert "does not confirm" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Organizer)).one().subject is None


def test_a_provider_marked_as_vouching_for_emails_binds_without_the_claim(app: Flask, client: FlaskClient) -> None:
    app.config["OIDC_TRUSTED_EMAILS"] = True
    allow(app, "ada@example.edu")
    use_provider(app, FakeIdentityProvider(Identity(ISSUER, "sub-ada", "ada@example.edu", email_verified=False)))
    assert log_in(client).status_code == 302


def test_once_bound_another_account_with_the_same_email_is_refused(app: Flask, client: FlaskClient) -> None:
    allow(app, "ada@example.edu")
    use_provider(app, FakeIdentityProvider(ADA))
    log_in(client)
    other = app.test_client()
    use_provider(app, FakeIdentityProvider(Identity("https://evil.example", "sub-ada", "ada@example.edu", True)))
    assert log_in(other).status_code == 403


@pytest.mark.parametrize(
    "query",
    ["?error=access_denied&state=expected-state", "?state=tampered&code=fake", "?code=fake"],
    ids=["cancelled", "tampered-state", "missing-state"],
)
def test_failed_login_ends_on_a_friendly_page_without_a_session(app: Flask, client: FlaskClient, query: str) -> None:
    allow(app, "ada@example.edu")
    use_provider(app, FakeIdentityProvider(ADA))
    client.get("/login")
    response = client.get("/auth/callback" + query)
    assert response.status_code == 400
    assert "You are not logged in" in response.get_data(as_text=True)
    assert client.get("/organize/").status_code == 302, "no session was created"


def test_unreachable_provider_is_a_friendly_page(app: Flask, client: FlaskClient) -> None:
    use_provider(app, FakeIdentityProvider(failure="The login service cannot be reached right now."))
    client.get("/login")
    response = client.get("/auth/callback?state=expected-state&code=x")
    assert response.status_code == 400
    assert "cannot be reached" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("target", "lands_on"),
    [
        ("/organize/rooms", "/organize/rooms"),
        ("https://evil.example/steal", "/organize/"),
        ("//evil.example/steal", "/organize/"),
        ("/\\evil.example", "/organize/"),
        ("javascript:alert(1)", "/organize/"),
    ],
)
def test_next_only_goes_to_local_paths(app: Flask, client: FlaskClient, target: str, lands_on: str) -> None:
    allow(app, "ada@example.edu")
    use_provider(app, FakeIdentityProvider(ADA))
    from urllib.parse import quote

    response = log_in(client, quote(target, safe=""))
    assert response.headers["Location"] == lands_on


def test_login_starts_a_fresh_session(app: Flask, client: FlaskClient) -> None:
    allow(app, "ada@example.edu")
    use_provider(app, FakeIdentityProvider(ADA))
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    log_in(client)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["organizer_id"]


def test_removed_organizer_loses_access_at_once(app: Flask, client: FlaskClient) -> None:
    allow(app, "ada@example.edu")
    use_provider(app, FakeIdentityProvider(ADA))
    log_in(client)
    with app.app_context():
        organizers.remove(db.session, "ada@example.edu")
        db.session.commit()
    assert client.get("/organize/").status_code == 403


def test_logout_is_a_post_with_csrf(app: Flask, client: FlaskClient) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    allow(app, "ada@example.edu")
    use_provider(app, FakeIdentityProvider(ADA))
    log_in(client)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400, "no CSRF token, no logout"
    page = client.get("/organize/").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    out = client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 200 and "You are logged out" in out.get_data(as_text=True)
    assert client.get("/organize/").status_code == 302


def test_logout_ends_a_copied_session_too(app: Flask, client: FlaskClient) -> None:
    allow(app, "ada@example.edu")
    use_provider(app, FakeIdentityProvider(ADA))
    log_in(client)
    copied = app.test_client()
    copied.set_cookie("session", client.get_cookie("session").value)  # type: ignore[union-attr]
    assert copied.get("/organize/").status_code == 200

    assert client.post("/logout").status_code == 200
    after = copied.get("/organize/")
    assert after.status_code == 302 and after.headers["Location"].startswith("/login"), "the copy is over too"
    log_in(client)
    assert client.get("/organize/").status_code == 200, "logging in again works"


def test_a_session_without_the_organizers_key_is_not_a_login(app: Flask, client: FlaskClient) -> None:
    allow(app, "ada@example.edu")
    use_provider(app, FakeIdentityProvider(ADA))
    log_in(client)
    with client.session_transaction() as session:
        del session["session_key"]  # a cookie made before sessions had keys
    assert client.get("/organize/").status_code == 302
    with app.app_context():
        db.session.execute(Organizer.__table__.update().values(session_key=""))  # a row from before, too
        db.session.commit()
    log_in(client)
    assert client.get("/organize/").status_code == 200, "the next login gets the organizer a key"
    with app.app_context():
        assert db.session.scalars(select(Organizer.session_key)).one()


def test_a_login_ends_after_its_lifetime_however_active(app: Flask, client: FlaskClient) -> None:
    allow(app, "ada@example.edu")
    use_provider(app, FakeIdentityProvider(ADA))
    log_in(client)
    assert client.get("/organize/").status_code == 200
    with client.session_transaction() as session:
        session["login_at"] -= app.config["PERMANENT_SESSION_LIFETIME"] + 1
    response = client.get("/organize/rooms")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_an_expired_form_gets_a_page_that_says_what_to_do(app: Flask, client: FlaskClient) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/logout", data={"csrf_token": "stale"})
    assert response.status_code == 400
    assert "Please send the form again" in response.get_data(as_text=True)


def test_session_cookie_flags(app: Flask, client: FlaskClient) -> None:
    allow(app, "ada@example.edu")
    use_provider(app, FakeIdentityProvider(ADA))
    response = log_in(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


class TestDevelopmentLogin:
    def test_offered_only_in_development_without_a_provider(self, app: Flask, client: FlaskClient) -> None:
        use_provider(app, None)
        app.config["ENV"] = "production"
        assert client.get("/login").status_code == 503
        assert client.post("/login/development", data={"email": "ada@example.edu"}).status_code == 404
        app.config["ENV"] = "development"
        page = client.get("/login")
        assert page.status_code == 200
        assert "Development login" in page.get_data(as_text=True)

    def test_not_offered_when_a_real_provider_is_configured(self, app: Flask, client: FlaskClient) -> None:
        app.config["ENV"] = "development"
        use_provider(app, FakeIdentityProvider(ADA))
        assert client.post("/login/development", data={"email": "ada@example.edu"}).status_code == 404

    def test_lets_an_allow_listed_email_in(self, app: Flask, client: FlaskClient) -> None:
        app.config["ENV"] = "development"
        use_provider(app, None)
        allow(app, "ada@example.edu")
        response = client.post("/login/development", data={"email": "ada@example.edu"})
        assert response.status_code == 302
        assert client.get("/organize/").status_code == 200
        stranger = app.test_client()
        assert stranger.post("/login/development", data={"email": "eve@example.edu"}).status_code == 403


def test_a_response_that_sets_a_cookie_is_never_for_shared_caches(app: Flask, client: FlaskClient) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    allow(app, "ada@example.edu")
    use_provider(app, FakeIdentityProvider(ADA))
    response = log_in(client)
    assert "Set-Cookie" in response.headers
    assert "private" in response.headers["Cache-Control"] and "public" not in response.headers["Cache-Control"]
