"""The organizer area at /organize: talks, rooms, imports, settings, co-organizers, the audit log.

Every route here sits behind `require_organizer`, registered for the whole blueprint so that
no new route can forget it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from werkzeug.utils import secure_filename
from wtforms.fields.choices import SelectChoice

import jobs
from blueprints.auth import require_organizer
from blueprints.organize_forms import ConfirmForm, ImportForm, InviteForm, RoomForm, SeriesForm, TalkForm, WalkInForm
from blueprints.public import google_calendar_link, series
from extensions import db
from models import Organizer, Room, Rsvp, RsvpStatus, Semester, Talk, TalkStatus
from services import audit, export, organizers, signups
from services.importer import Importer, ImportSettings
from services.talk_editing import (
    EditError,
    PartData,
    TalkData,
    apply_talk,
    attendee_change,
    attendee_facts,
    delete_room,
    parse_speaker_lines,
    save_room,
    save_series,
    set_status,
    speaker_lines,
    talks_for_organizers,
)

bp = Blueprint("organize", __name__, url_prefix="/organize")


@bp.before_request
def guard() -> Any:
    """Logged-in organizers only. Their changes may move attendees between lists, so a POST
    takes the write lock before any read; an anonymous POST is turned away before that."""
    if request.method == "POST" and "who" in session:
        signups.begin_write(db.session)
    return require_organizer()


def now() -> datetime:
    return datetime.now(UTC)


def actor() -> str:
    organizer: Organizer = g.organizer
    return organizer.email


def log(action: str, target: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    audit.record(db.session, actor=actor(), action=action, target=target, before=before, after=after, now=now())


def get_talk(talk_id: int) -> Talk:
    talk = db.session.get(Talk, talk_id)
    if talk is None:
        abort(404)
    return talk


# Talks ----------------------------------------------------------------------------------


@bp.get("/")
def talks() -> str:
    the_series = series()
    upcoming, past = talks_for_organizers(db.session, now())
    return render_template(
        "organize/talks.html",
        series=the_series,
        tz=ZoneInfo(the_series.timezone),
        upcoming=upcoming,
        past=past,
        button=ConfirmForm(),
    )


def _choices(form: TalkForm) -> None:
    the_series = series()
    form.room.choices = [SelectChoice(0, "No room (online only)")] + [
        SelectChoice(room.id, room.name) for room in the_series.rooms
    ]
    semesters = db.session.scalars(db.select(Semester).order_by(Semester.slug.desc())).all()
    form.semester.choices = [SelectChoice(0, "From the date")] + [SelectChoice(s.id, s.name) for s in semesters]


def _form_for(talk: Talk | None) -> TalkForm:
    the_series = series()
    if talk is None:
        form = TalkForm(
            minutes=the_series.default_minutes,
            room=the_series.default_room.id if the_series.default_room else 0,
            status=TalkStatus.SCHEDULED.value,
            published=True,
            rsvp_open=True,
        )
    elif request.method == "GET":
        tz = ZoneInfo(the_series.timezone)
        start = talk.starts_at.astimezone(tz)
        form = TalkForm(
            data={
                "title": talk.title,
                "slug": talk.slug,
                "day": start.date(),
                "start": start.time().replace(tzinfo=None),
                "minutes": int((talk.ends_at - talk.starts_at).total_seconds() // 60),
                "room": talk.room_id or 0,
                "online_platform": talk.online_platform or "",
                "semester": talk.semester_id or 0,
                "status": talk.status.value,
                "published": talk.published,
                "intro_md": talk.intro_md,
                "paper_url": talk.paper_url,
                "slides_url": talk.slides_url,
                "recording_url": talk.recording_url,
                "room_capacity": talk.room_capacity,
                "online_limit": talk.online_limit,
                "rsvp_open": talk.rsvp_open,
                "rsvp_closes_at": talk.rsvp_closes_at.astimezone(tz).replace(tzinfo=None)
                if talk.rsvp_closes_at
                else None,
                "ask_affiliation": talk.ask_affiliation,
                "ask_question": talk.ask_question,
                "parts": [
                    {
                        "title": p.title or "",
                        "speakers": speaker_lines(p),
                        "abstract_md": p.abstract_md,
                        "bio_md": p.bio_md,
                    }
                    for p in talk.parts
                ]
                or [{}],
            }
        )
    else:
        form = TalkForm()
    _choices(form)
    return form


def _talk_data(form: TalkForm) -> TalkData:
    tz = ZoneInfo(series().timezone)
    closes = form.rsvp_closes_at.data
    parts = [
        PartData(
            title=(entry.form.title.data or "").strip() or None,
            speakers=parse_speaker_lines(entry.form.speakers.data or ""),
            abstract_md=entry.form.abstract_md.data or "",
            bio_md=entry.form.bio_md.data or "",
        )
        for entry in form.parts
    ]
    # An empty extra part (added by mistake) is dropped rather than saved.
    parts = [p for p in parts if p.title or p.speakers or p.abstract_md or p.bio_md] or parts[:1]
    return TalkData(
        title=form.title.data or "",
        slug=form.slug.data or None,
        day=form.day.data,
        start=form.start.data,
        minutes=form.minutes.data,
        status=TalkStatus(form.status.data),
        published=form.published.data,
        room_id=form.room.data or None,
        online_platform=form.online_platform.data or None,
        semester_id=form.semester.data or None,
        intro_md=form.intro_md.data or "",
        paper_url=form.paper_url.data,
        slides_url=form.slides_url.data,
        recording_url=form.recording_url.data,
        parts=parts,
        room_capacity=form.room_capacity.data,
        online_limit=form.online_limit.data,
        rsvp_open=form.rsvp_open.data,
        rsvp_closes_at=closes.replace(tzinfo=tz) if closes else None,
        ask_affiliation=form.ask_affiliation.data,
        ask_question=form.ask_question.data,
    )


def _edit(talk: Talk | None) -> Any:
    form = _form_for(talk)
    title = "New talk" if talk is None else f"Edit “{talk.title}”"
    if request.method == "GET":
        return render_template("organize/talk_form.html", form=form, talk=talk, heading=title)
    if form.add_part.data:
        form.parts.append_entry()
        return render_template("organize/talk_form.html", form=form, talk=talk, heading=title)
    if not form.validate():
        return render_template("organize/talk_form.html", form=form, talk=talk, heading=title), 400
    before = audit.talk_snapshot(talk) if talk is not None else None
    facts = attendee_facts(talk) if talk is not None else None
    try:
        data = _talk_data(form)
        with db.session.no_autoflush:
            saved = apply_talk(db.session, series(), data, talk)
    except EditError as error:
        db.session.rollback()
        _field_error(form, error)
        return render_template("organize/talk_form.html", form=form, talk=talk, heading=title), 400
    if form.preview.data:
        with db.session.no_autoflush:
            page = _preview(saved)
        db.session.rollback()  # a preview saves nothing
        return render_template("organize/talk_form.html", form=form, talk=talk, heading=title, preview=page)
    db.session.add(saved)
    db.session.flush()
    # More seats go to the people in line (not for a cancelled talk: nobody is coming).
    promoted = signups.fill_seats(db.session, saved, now()) if not saved.is_cancelled else []
    what = attendee_change(facts, saved) if facts is not None else None
    told = signups.notify_talk_changed(db.session, saved, what) if what else 0
    log("talk.create" if talk is None else "talk.update", f"talk {saved.slug}", before, audit.talk_snapshot(saved))
    jobs.commit_and_dispatch()
    flash(f"Saved “{saved.title}”." + _consequences(promoted, told))
    return redirect(url_for("organize.edit_talk", talk_id=saved.id))


def _consequences(promoted: list[Any], told: int) -> str:
    said = []
    if promoted:
        said.append(f"{len(promoted)} from the waiting list got a seat")
    if told:
        said.append(f"{told} people signed up are told of the change")
    return (" " + "; ".join(said) + ".") if said else ""


def _field_error(form: TalkForm, error: EditError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, str(error)]
    else:
        form.form_errors.append(str(error))


def _preview(talk: Talk) -> str:
    the_series = series()
    tz = ZoneInfo(the_series.timezone)
    return render_template(
        "_talk_body.html",
        talk=talk,
        series=the_series,
        tz=tz,
        past=talk.ends_at <= now(),
        signup_open=False,
        google_calendar=google_calendar_link(talk, tz),
        preview=True,
    )


@bp.route("/talks/new", methods=["GET", "POST"])
def new_talk() -> Any:
    return _edit(None)


@bp.route("/talks/<int:talk_id>/edit", methods=["GET", "POST"])
def edit_talk(talk_id: int) -> Any:
    if request.method == "POST":
        _lock(talk_id)  # capacity or time may change: no sign-up may slip in between
    return _edit(get_talk(talk_id))


def _lock(talk_id: int) -> Talk:
    try:
        return signups.lock_talk(db.session, talk_id)
    except signups.SignupError:
        abort(404)


@bp.route("/talks/<int:talk_id>/delete", methods=["GET", "POST"])
def delete_talk(talk_id: int) -> Any:
    talk = get_talk(talk_id)
    form = ConfirmForm()
    signed_up = signups.counts(db.session, talk)
    active = signed_up.seated + signed_up.waiting + signed_up.online
    if active and not talk.is_cancelled:
        # Deleting would erase their sign-ups without a word: cancelling tells them first.
        return render_template("organize/confirm_delete.html", talk=talk, form=form, active=active), 409
    if request.method == "POST" and form.validate_on_submit():
        before = audit.talk_snapshot(talk)
        db.session.delete(talk)
        log("talk.delete", f"talk {talk.slug}", before, None)
        db.session.commit()
        flash(f"Deleted “{talk.title}”.")
        return redirect(url_for("organize.talks"))
    return render_template("organize/confirm_delete.html", talk=talk, form=form)


def _change(talk_id: int, action: str, change: Any, message: str) -> Any:
    talk = _lock(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    before = audit.talk_snapshot(talk)
    facts = attendee_facts(talk)
    change(talk)
    what = attendee_change(facts, talk)
    told = signups.notify_talk_changed(db.session, talk, what) if what else 0
    log(action, f"talk {talk.slug}", before, audit.talk_snapshot(talk))
    jobs.commit_and_dispatch()
    flash(message.format(title=talk.title) + _consequences([], told))
    return redirect(request.referrer if _local(request.referrer) else url_for("organize.talks"))


def _local(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)  # type: ignore[union-attr]


@bp.post("/talks/<int:talk_id>/publish")
def publish_talk(talk_id: int) -> Any:
    return _change(talk_id, "talk.publish", lambda t: setattr(t, "published", True), "“{title}” is public.")


@bp.post("/talks/<int:talk_id>/unpublish")
def unpublish_talk(talk_id: int) -> Any:
    return _change(talk_id, "talk.unpublish", lambda t: setattr(t, "published", False), "“{title}” is hidden.")


@bp.post("/talks/<int:talk_id>/cancel")
def cancel_talk(talk_id: int) -> Any:
    return _change(
        talk_id, "talk.cancel", lambda t: set_status(t, TalkStatus.CANCELLED), "“{title}” is marked cancelled."
    )


@bp.post("/talks/<int:talk_id>/reinstate")
def reinstate_talk(talk_id: int) -> Any:
    return _change(
        talk_id, "talk.reinstate", lambda t: set_status(t, TalkStatus.SCHEDULED), "“{title}” is scheduled again."
    )


# Rooms ----------------------------------------------------------------------------------


@bp.route("/rooms", methods=["GET", "POST"])
def rooms() -> Any:
    the_series = series()
    form = RoomForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                room = save_room(
                    db.session,
                    the_series,
                    name=form.name.data,
                    capacity=form.capacity.data,
                    directions=form.directions.data or "",
                )
                log("room.create", f"room {room.name}", None, audit.room_snapshot(room))
                db.session.commit()
                flash(f"Added {room.name}.")
                return redirect(url_for("organize.rooms"))
            except EditError as error:
                db.session.rollback()
                form.form_errors.append(str(error))
        status = 400
    return render_template("organize/rooms.html", rooms=the_series.rooms, form=form, button=ConfirmForm()), status


@bp.route("/rooms/<int:room_id>/edit", methods=["GET", "POST"])
def edit_room(room_id: int) -> Any:
    room = db.session.get(Room, room_id) or abort(404)
    form = RoomForm(obj=room)
    if request.method == "POST":
        if form.validate_on_submit():
            before = audit.room_snapshot(room)
            try:
                save_room(
                    db.session,
                    room.series,
                    name=form.name.data,
                    capacity=form.capacity.data,
                    directions=form.directions.data or "",
                    room=room,
                )
                promoted = _seat_waiting_lists(room)
                log("room.update", f"room {room.name}", before, audit.room_snapshot(room))
                jobs.commit_and_dispatch()
                flash(f"Saved {room.name}." + _consequences(promoted, 0))
                return redirect(url_for("organize.rooms"))
            except EditError as error:
                db.session.rollback()
                form.form_errors.append(str(error))
        return render_template("organize/room_form.html", form=form, room=room), 400
    return render_template("organize/room_form.html", form=form, room=room)


def _seat_waiting_lists(room: Room) -> list[Rsvp]:
    """A room with more seats: its upcoming talks that use the room's capacity seat their waiting lists."""
    promoted: list[Rsvp] = []
    upcoming = db.session.scalars(
        db.select(Talk.id).where(Talk.room_id == room.id, Talk.room_capacity.is_(None), Talk.ends_at > now())
    ).all()
    for talk_id in upcoming:
        talk = signups.lock_talk(db.session, talk_id)
        if not talk.is_cancelled:
            promoted += signups.fill_seats(db.session, talk, now())
    return promoted


@bp.post("/rooms/<int:room_id>/delete")
def remove_room(room_id: int) -> Any:
    room = db.session.get(Room, room_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    before = audit.room_snapshot(room)
    try:
        delete_room(db.session, room)
    except EditError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("organize.rooms"))
    log("room.delete", f"room {before['name']}", before, None)
    db.session.commit()
    flash(f"Removed {before['name']}.")
    return redirect(url_for("organize.rooms"))


# Import ---------------------------------------------------------------------------------


@bp.route("/import", methods=["GET", "POST"])
def import_post() -> Any:
    form = ImportForm()
    if request.method == "GET":
        return render_template("organize/import.html", form=form)
    if not form.validate_on_submit():
        return render_template("organize/import.html", form=form), 400
    upload = form.post.data
    name = secure_filename(upload.filename or "post.md") or "post.md"
    importer = Importer(db.session, series(), ImportSettings(site_url=form.site_url.data or None), now=now())
    report = importer.import_post_text(upload.read(), name)
    if report.talk is not None and report.outcome in {"imported", "updated"}:
        talk = db.session.scalars(db.select(Talk).where(Talk.slug == report.talk["slug"])).one()
        log(f"talk.{report.outcome}", f"talk {talk.slug}", report.before, audit.talk_snapshot(talk))
    jobs.commit_and_dispatch()
    status = 400 if report.outcome == "failed" else 200
    return render_template("organize/import.html", form=ImportForm(formdata=None), report=report), status


# Settings, organizers, audit ----------------------------------------------------------------


@bp.route("/settings", methods=["GET", "POST"])
def settings() -> Any:
    the_series = series()
    form = SeriesForm(obj=the_series, default_room=the_series.default_room_id or 0)
    form.default_room.choices = [SelectChoice(0, "None")] + [SelectChoice(r.id, r.name) for r in the_series.rooms]
    if request.method == "POST":
        if form.validate_on_submit():
            before = audit.series_snapshot(the_series)
            try:
                save_series(
                    db.session,
                    the_series,
                    name=form.name.data,
                    timezone=form.timezone.data.strip(),
                    default_minutes=form.default_minutes.data,
                    default_room_id=form.default_room.data or None,
                    contact_email=form.contact_email.data or "",
                    description=form.description.data or "",
                    rsvp_domains=form.rsvp_domains.data or "",
                )
                log("series.update", "series", before, audit.series_snapshot(the_series))
                db.session.commit()
                flash("Settings saved.")
                return redirect(url_for("organize.settings"))
            except EditError as error:
                db.session.rollback()
                form.form_errors.append(str(error))
        return render_template("organize/settings.html", form=form), 400
    return render_template("organize/settings.html", form=form)


@bp.route("/organizers", methods=["GET", "POST"])
def team() -> Any:
    form = InviteForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                added = organizers.add(db.session, form.email.data, invited_by=actor())
                log("organizer.add", f"organizer {added.email}", None, {"email": added.email})
                db.session.commit()
                flash(f"{added.email} can now log in and organize.")
                return redirect(url_for("organize.team"))
            except organizers.OrganizerError as error:
                db.session.rollback()
                form.email.errors = [*form.email.errors, str(error)]
        status = 400
    return render_template(
        "organize/organizers.html", organizers=organizers.all_organizers(db.session), form=form, button=ConfirmForm()
    ), status


@bp.post("/organizers/<int:organizer_id>/remove")
def remove_organizer(organizer_id: int) -> Any:
    organizer = db.session.get(Organizer, organizer_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if organizer.id == g.organizer.id:
        flash("You cannot remove yourself; ask another organizer.", "error")
        return redirect(url_for("organize.team"))
    organizers.remove(db.session, organizer)
    log("organizer.remove", f"organizer {organizer.email}", {"email": organizer.email}, None)
    db.session.commit()
    flash(f"{organizer.email} can no longer organize.")
    return redirect(url_for("organize.team"))


@bp.get("/audit")
def audit_log() -> str:
    the_series = series()
    return render_template(
        "organize/audit.html",
        entries=audit.recent(db.session),
        changed_fields=audit.changed_fields,
        tz=ZoneInfo(the_series.timezone),
    )


@bp.context_processor
def organizer_context() -> dict[str, Any]:
    return {
        "series": series(),
        "organizer": g.get("organizer"),
        "upload_limit": current_app.config["MAX_CONTENT_LENGTH"],
    }


# Attendees ----------------------------------------------------------------------------------


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
    rsvp = db.session.get(Rsvp, rsvp_id)
    if rsvp is None or rsvp.talk_id != talk.id:
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
    people = export.attendees(db.session, talk, (RsvpStatus.SEATED, RsvpStatus.WAITING, RsvpStatus.ONLINE))
    if query:
        people = [r for r in people if query in r.name.lower() or query in r.email]
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
