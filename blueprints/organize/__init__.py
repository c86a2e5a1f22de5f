"""The organizer area at /organize: talks, attendees, chats, rooms, imports, settings, organizers, audit, outbox.

One blueprint for the whole area, with one module per part of it. Every route sits behind
`require_organizer`, registered here for the whole blueprint so that no new route can forget it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, g, request, session

from blueprints.auth import require_organizer
from blueprints.public import series
from extensions import db
from models import Organizer, Talk
from services import audit as audit_trail
from services import locks, talk_editing

bp = Blueprint("organize", __name__, url_prefix="/organize")


@bp.before_request
def guard() -> Any:
    """Logged-in organizers only. Their changes may move attendees between lists, so a POST
    takes the write lock before any read; an anonymous POST is turned away before that."""
    if request.method == "POST" and "who" in session:
        locks.begin_write(db.session)
    return require_organizer()


@bp.context_processor
def organizer_context() -> dict[str, Any]:
    return {
        "series": series(),
        "organizer": g.get("organizer"),
        "upload_limit": current_app.config["MAX_CONTENT_LENGTH"],
    }


def now() -> datetime:
    return datetime.now(UTC)


def actor() -> str:
    organizer: Organizer = g.organizer
    return organizer.email


def log(action: str, target: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    audit_trail.record(db.session, actor=actor(), action=action, target=target, before=before, after=after, now=now())


def get_talk(talk_id: int) -> Talk:
    talk = db.session.get(Talk, talk_id)
    if talk is None:
        abort(404)
    return talk


def talk_to_change(talk_id: int) -> Talk:
    """The talk, locked for this request's changes (see `talk_editing.talk_to_change`)."""
    talk = talk_editing.talk_to_change(db.session, talk_id)
    if talk is None:
        abort(404)
    return talk


def consequences(promoted: list[Any], told: int) -> str:
    said = []
    if promoted:
        said.append(f"{len(promoted)} from the waiting list got a seat")
    if told:
        said.append(f"{told} people signed up are told of the change")
    return (" " + "; ".join(said) + ".") if said else ""


# The routes of each part register on `bp` as their module is imported.
from blueprints.organize import (  # noqa: E402, F401
    announce,
    attendees,
    audit,
    chats,
    importing,
    meetings,
    outbox,
    rooms,
    settings,
    talks,
)
