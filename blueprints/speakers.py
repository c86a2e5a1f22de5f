"""The speaker's chat schedule, behind the signed link the organizers give them. No account.

The link is as good as a password for the names and topics of the people booked, so the page
shows those and nothing else (no addresses, no other talk, no way into the site), is never
stored by a cache or a search engine, and sends no Referer that would carry the link along.
A link altered, revoked or replaced by a newer one gets a plain "no longer works" page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, render_template

from blueprints.public import series
from extensions import db, talisman
from models import Talk
from services import chat_mail
from services.tokens import BadToken, read_speaker_token

bp = Blueprint("speakers", __name__)


def now() -> datetime:
    return datetime.now(UTC)


@bp.after_request
def keep_private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.get("/chats/speaker/<token>")
@talisman(referrer_policy="no-referrer")
def schedule(token: str) -> Any:
    try:
        claim = read_speaker_token(current_app.config["SECRET_KEY"], token)
    except BadToken:
        return _gone()
    talk = db.session.get(Talk, claim.talk_id)
    if talk is None or not claim.matches(talk):
        return _gone()
    return render_template(
        "chats/speaker.html",
        series=talk.series,
        schedule=chat_mail.speaker_schedule(db.session, talk, claim.speaker_name, now()),
    )


def _gone() -> Any:
    db.session.rollback()
    return render_template("chats/speaker_gone.html", series=series()), 404
