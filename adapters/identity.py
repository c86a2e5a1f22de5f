"""Who is logging in: OpenID Connect through authlib, and a fake for tests.

The adapter proves identity only. Whether that identity may organize is Lectern's decision
(services/organizers.py), never the provider's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, Response, redirect, request, session
from joserfc.errors import JoseError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str = ""


class LoginFailed(Exception):
    """The login did not go through. `reason` is for the person; the cause goes to the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IdentityProvider(Protocol):
    label: str

    def start_login(self, redirect_uri: str) -> Response:
        """Send the browser to the provider."""
        ...

    def finish_login(self) -> Identity:
        """Check the provider's answer on the callback request; raise LoginFailed if it is not good."""
        ...


def _claim_true(value: Any) -> bool:
    # Some providers send "true" as a string.
    return value is True or (isinstance(value, str) and value.lower() == "true")


class OIDCProvider:
    """Any OpenID Connect provider, from its discovery document.

    Authorization code flow with PKCE (S256); authlib keeps state, nonce and the code
    verifier in the session and checks them on the way back.
    """

    label = "your institution's login"

    def __init__(self, app: Flask, *, metadata_url: str, client_id: str, client_secret: str, timeout: float) -> None:
        self.oauth = OAuth(app)
        self.client = self.oauth.register(
            "lectern_oidc",
            client_id=client_id,
            client_secret=client_secret,
            server_metadata_url=metadata_url,
            client_kwargs={
                "scope": "openid email profile",
                "code_challenge_method": "S256",
                # authlib's requests session takes `default_timeout`; a plain `timeout` here is
                # silently ignored, and a provider that never answers would hang the login.
                "default_timeout": timeout,
            },
        )

    def start_login(self, redirect_uri: str) -> Response:
        try:
            return self.client.authorize_redirect(redirect_uri)
        except (requests.RequestException, ValueError, KeyError) as error:
            log.warning("identity provider unreachable at login: %s", error)
            raise LoginFailed(
                "The login service cannot be reached right now. Please try again in a few minutes."
            ) from None

    def finish_login(self) -> Identity:
        if error := request.args.get("error"):
            _forget_pending_login()
            if error == "access_denied":
                raise LoginFailed("The login was cancelled, so you are not logged in.")
            raise LoginFailed("The login service refused the login, so you are not logged in.")
        try:
            issuer = self.client.load_server_metadata()["issuer"]
            token = self.client.authorize_access_token(
                claims_options={
                    "iss": {"essential": True, "values": [issuer]},
                    # authlib checks `aud` only when told to: the ID token must name this client
                    # (its `azp` check alone lets through a token for other audiences with azp=us).
                    "aud": {"essential": True, "values": [self.client.client_id]},
                }
            )
            claims = token.get("userinfo") or {}
            if not claims:
                raise LoginFailed("The login service did not prove who you are, so you are not logged in.")
            # Some providers put only `sub` in the ID token: read the profile from userinfo too.
            profile = self.client.userinfo(token=token)
        except MismatchingStateError:
            raise LoginFailed("This login link was already used or has expired. Please log in again.") from None
        except (OAuthError, JoseError, AuthlibBaseError, ValueError, KeyError) as error:
            log.warning("login refused: %r", error)
            raise LoginFailed(
                "The answer from the login service could not be verified, so you are not logged in."
            ) from None
        except requests.RequestException as error:
            log.warning("identity provider unreachable at callback: %s", error)
            raise LoginFailed(
                "The login service cannot be reached right now. Please try again in a few minutes."
            ) from None
        finally:
            _forget_pending_login()
        # The userinfo answer is used only when it is about the ID token's subject (OIDC Core 5.3.2).
        if profile.get("sub") != claims["sub"]:
            raise LoginFailed("The login service gave two different identities, so you are not logged in.")
        email = profile.get("email") or claims.get("email")
        verified = profile.get("email_verified", claims.get("email_verified"))
        return Identity(
            issuer=str(claims["iss"]),
            subject=str(claims["sub"]),
            email=str(email).strip().lower() if email else None,
            email_verified=_claim_true(verified),
            name=str(profile.get("name") or claims.get("name") or ""),
        )


def _forget_pending_login() -> None:
    for key in [k for k in session if k.startswith("_state_lectern_oidc_")]:
        session.pop(key, None)


class FakeIdentityProvider:
    """Logs in whoever the test says, through the same two steps as the real flow."""

    label = "the test login"

    def __init__(self, identity: Identity | None = None, failure: str | None = None) -> None:
        self.identity = identity
        self.failure = failure

    def start_login(self, redirect_uri: str) -> Response:
        session["_fake_login_state"] = "expected-state"
        return redirect(f"{redirect_uri}?{urlencode({'state': 'expected-state', 'code': 'fake'})}")

    def finish_login(self) -> Identity:
        expected = session.pop("_fake_login_state", None)
        if request.args.get("error") == "access_denied":
            raise LoginFailed("The login was cancelled, so you are not logged in.")
        if expected is None or request.args.get("state") != expected:
            raise LoginFailed("This login link was already used or has expired. Please log in again.")
        if self.failure:
            raise LoginFailed(self.failure)
        if self.identity is None:
            raise LoginFailed("The login service did not prove who you are, so you are not logged in.")
        return self.identity
