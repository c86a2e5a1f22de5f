"""Attendees of a talk: the lists, moves between them, the CSV export, check-in at the door, walk-ins."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, flash, redirect, render_template, request, stream_with_context, url_for

import jobs
from blueprints.organize import bp, get_talk, log, now
from blueprints.organize_forms import ConfirmForm, WalkInForm
from extensions import db
from models import Rsvp, RsvpStatus, Talk
from services import export, signups

STATUS_WORDS = {
    RsvpStatus.SEATED: "in the room",
    RsvpStatus.WAITING: "on the waiting list",
    RsvpStatus.ONLINE: "online",
    RsvpStatus.CANCELLED: "cancelled",
}


@bp.get("/talks/<int:talk_id>/attendees")
def attendees(talk_id: int) -> str:
    talk = get_talk(talk_id)
    people = export.attendees(db.session, talk)
    by_status = {status: [r for r in people if r.status == status] for status in RsvpStatus}
    return render_template(
        "organize/attendees.html",
        talk=talk,
        tz=ZoneInfo(talk.series.timezone),
        counts=signups.counts(db.session, talk),
        by_status=by_status,
        button=ConfirmForm(),
        statuses=RsvpStatus,
    )


def _rsvp_of(talk: Talk, rsvp_id: int) -> Rsvp:
    rsvp = signups.rsvp_of(db.session, talk, rsvp_id)
    if rsvp is None:
        abort(404)
    return rsvp


@bp.post("/talks/<int:talk_id>/attendees/<int:rsvp_id>/move")
def move_attendee(talk_id: int, rsvp_id: int) -> Any:
    talk = get_talk(talk_id)
    rsvp = _rsvp_of(talk, rsvp_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        status = RsvpStatus(request.form.get("status", ""))
    except ValueError:
        abort(400, description="Choose where to move this person.")
    # The log names the sign-up by number only: attendee data must go when retention says so.
    before = {"rsvp": rsvp.id, "status": rsvp.status.value}
    try:
        signups.move(db.session, rsvp.id, status, now())
    except signups.SignupError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("organize.attendees", talk_id=talk.id))
    log("rsvp.move", f"talk {talk.slug}", before, {"rsvp": rsvp.id, "status": rsvp.status.value})
    jobs.commit_and_dispatch()
    flash(f"{rsvp.name}: {STATUS_WORDS[rsvp.status]}.")
    return redirect(url_for("organize.attendees", talk_id=talk.id))


@bp.get("/talks/<int:talk_id>/attendees.csv")
def attendees_csv(talk_id: int) -> Response:
    talk = get_talk(talk_id)
    tz = ZoneInfo(talk.series.timezone)
    response = Response(stream_with_context(export.csv_lines(db.session, talk, tz)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{talk.slug}-attendees.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/talks/<int:talk_id>/check-in")
def check_in_list(talk_id: int) -> str:
    talk = get_talk(talk_id)
    query = (request.args.get("q") or "").strip().lower()
    people = export.check_in_list(db.session, talk, query)
    return render_template(
        "organize/check_in.html",
        talk=talk,
        tz=ZoneInfo(talk.series.timezone),
        people=people,
        query=query,
        counts=signups.counts(db.session, talk),
        checked_in=sum(1 for r in people if r.checked_in_at),
        button=ConfirmForm(),
        walk_in=WalkInForm(),
    )


@bp.post("/talks/<int:talk_id>/check-in/<int:rsvp_id>")
def check_in(talk_id: int, rsvp_id: int) -> Any:
    talk = get_talk(talk_id)
    rsvp = _rsvp_of(talk, rsvp_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        signups.check_in(db.session, rsvp.id, now(), undo=request.form.get("undo") == "1")
    except signups.SignupError as error:  # cancelled since the list was loaded
        db.session.rollback()
        flash(f"{rsvp.name}: {error}", "error")
        return redirect(url_for("organize.check_in_list", talk_id=talk.id, q=request.args.get("q", "")))
    db.session.commit()
    return redirect(url_for("organize.check_in_list", talk_id=talk.id, q=request.args.get("q", "")) + f"#r{rsvp.id}")


@bp.post("/talks/<int:talk_id>/walk-in")
def walk_in(talk_id: int) -> Any:
    talk = get_talk(talk_id)
    form = WalkInForm()
    if not form.validate_on_submit():
        flash("A walk-in needs a name (the email is optional).", "error")
        return redirect(url_for("organize.check_in_list", talk_id=talk.id))
    try:
        rsvp = signups.add_walk_in(db.session, talk.id, name=form.name.data, email=form.email.data or "", now=now())
    except signups.SignupError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("organize.check_in_list", talk_id=talk.id))
    log("rsvp.walk_in", f"talk {talk.slug}", None, {"rsvp": rsvp.id})
    db.session.commit()
    flash(f"{rsvp.name} is in.")
    return redirect(url_for("organize.check_in_list", talk_id=talk.id))
