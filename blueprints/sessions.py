"""The session cookie, kept off anything a shared cache may store.

Flask writes the session cookie after every after_request hook has run, so no hook can see it;
this is the last word on the response. A response that carries a cookie is made private:
whatever the view said, a proxy must never store one person's session and hand it to others.
"""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from werkzeug.wrappers import Response


class SessionInterface(SecureCookieSessionInterface):
    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:  # type: ignore[override]
        super().save_session(app, session, response)
        if "Set-Cookie" not in response.headers:
            return
        # Private whatever the view said; a response that said nothing is private too, so that no
        # cache stores it by heuristics (any cookie, not only the session's).
        if response.cache_control.public or "Cache-Control" not in response.headers:
            response.cache_control.public = False
            response.cache_control.private = True
