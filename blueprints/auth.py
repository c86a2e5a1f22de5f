"""Organizers' login and logout, and the guard in front of /organize."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from wtforms import EmailField, SubmitField
from wtforms.validators import DataRequired, Email

import links
from adapters.identity import Identity, IdentityProvider, LoginFailed
from blueprints.forms import LecternForm
from blueprints.public import series
from extensions import db
from models import Organizer
from services import organizers

bp = Blueprint("auth", __name__)

DEVELOPMENT_ISSUER = "lectern-development-login"


class DevelopmentLoginForm(LecternForm):
    email = EmailField("Email", validators=[DataRequired(), Email(check_deliverability=False)])
    submit = SubmitField("Log in (development only)")


class LogoutForm(LecternForm):
    submit = SubmitField("Log out")


@bp.context_processor
def auth_context() -> dict[str, Any]:
    return {"series": series()}


def identity_provider() -> IdentityProvider | None:
    return current_app.extensions.get("lectern.identity")


def development_login_enabled() -> bool:
    """Only a development configuration without a real provider offers it; nothing else can turn it on."""
    return current_app.config["ENV"] == "development" and identity_provider() is None


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (another host, a scheme) goes home."""
    if not target:
        return url_for("organize.talks")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("organize.talks")
    return target


def now() -> datetime:
    return datetime.now(UTC)


@bp.get("/login")
def login() -> Any:
    next_url = safe_next(request.args.get("next"))
    provider = identity_provider()
    if provider is None:
        if development_login_enabled():
            return render_template("auth/dev_login.html", form=DevelopmentLoginForm(), next_url=next_url)
        return render_template("auth/failed.html", reason="Organizer login is not set up on this site yet."), 503
    session["login_next"] = next_url
    try:
        return provider.start_login(links.link_for("auth.callback"))
    except LoginFailed as failure:
        session.clear()
        return render_template("auth/failed.html", reason=failure.reason), 503


@bp.get("/auth/callback")
def callback() -> Any:
    provider = identity_provider()
    if provider is None:
        abort(404)
    next_url = safe_next(session.get("login_next"))
    try:
        identity = provider.finish_login()
    except LoginFailed as failure:
        session.clear()
        return render_template("auth/failed.html", reason=failure.reason), 400
    return _enter(identity, next_url)


@bp.post("/login/development")
def development_login() -> Any:
    if not development_login_enabled():
        abort(404)
    form = DevelopmentLoginForm()
    next_url = safe_next(request.args.get("next"))
    if not form.validate_on_submit():
        return render_template("auth/dev_login.html", form=form, next_url=next_url), 400
    email = form.email.data.strip().lower()
    return _enter(Identity(DEVELOPMENT_ISSUER, email, email, email_verified=True), next_url)


def _enter(identity: Identity, next_url: str) -> Any:
    result = organizers.admit(
        db.session, identity, trust_emails=bool(current_app.config["OIDC_TRUSTED_EMAILS"]), now=now()
    )
    db.session.commit()
    # A fresh session at every login: nothing from before it (a planted cookie) carries over.
    session.clear()
    session.permanent = True
    session["who"] = {"iss": identity.issuer, "sub": identity.subject, "email": identity.email or ""}
    session["login_at"] = int(now().timestamp())
    if isinstance(result, organizers.Refusal):
        return render_template("auth/forbidden.html", reason=result.reason, logout=LogoutForm()), 403
    session["organizer_id"] = result.id
    session["session_key"] = result.session_key
    flash(f"Welcome, {result.name or result.email}.")
    return redirect(next_url)


@bp.post("/logout")
def logout() -> Any:
    LogoutForm().validate_on_submit()  # CSRF is checked before this view runs
    organizer = current_organizer()
    if organizer is not None:
        # Cookies are kept by the browser: a copy of this one must stop working too, not only ours.
        organizers.end_sessions(organizer)
        db.session.commit()
    session.clear()
    return render_template("auth/logged_out.html")


def _bound_organizer() -> Organizer | None:
    """The organizer this session's login is bound to, if it still is one (removal takes effect
    at once), whether or not the session has been ended since."""
    who = session.get("who")
    organizer = organizers.by_id(db.session, session.get("organizer_id"))
    if who is None or organizer is None:
        return None
    if (organizer.issuer, organizer.subject) != (who.get("iss"), who.get("sub")):
        return None
    return organizer


def _session_is_current(organizer: Organizer) -> bool:
    """The session carries the organizer's key: no logout since, on any device, for any copy of the cookie."""
    key = session.get("session_key")
    return bool(organizer.session_key) and isinstance(key, str) and hmac.compare_digest(organizer.session_key, key)


def current_organizer() -> Organizer | None:
    """The organizer of this session, if it still is one and the session was not ended since."""
    organizer = _bound_organizer()
    return organizer if organizer is not None and _session_is_current(organizer) else None


def require_organizer() -> Any:
    """Run before every organizer page: anonymous visitors log in, others get a 403 that says why."""
    logged_in_for = now().timestamp() - session.get("login_at", 0)
    if "who" not in session or logged_in_for > current_app.config["PERMANENT_SESSION_LIFETIME"]:
        # Not logged in, or logged in too long ago (activity does not extend a login).
        session.clear()
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    organizer = _bound_organizer()
    if organizer is not None and not _session_is_current(organizer):
        session.clear()  # logged out since (maybe on another device): log in again
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if organizer is None:
        reason = f"You are logged in as {session['who'].get('email') or 'someone'}, who is not an organizer here."
        return render_template("auth/forbidden.html", reason=reason, logout=LogoutForm()), 403
    g.organizer = organizer
    return None
