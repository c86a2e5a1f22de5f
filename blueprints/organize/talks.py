"""Talks: the list, a new talk, editing and its preview, publishing, cancelling, deleting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from wtforms.fields.choices import SelectChoice

import jobs
from blueprints.organize import bp, consequences, get_talk, log, now, series, talk_to_change
from blueprints.organize_forms import ConfirmForm, TalkForm
from blueprints.public import google_calendar_link
from extensions import db
from models import Talk, TalkStatus
from services import audit, talk_editing
from services.talk_editing import EditError, PartData, TalkData, parse_speaker_lines, speaker_lines


@bp.get("/")
def talks() -> str:
    the_series = series()
    upcoming, past = talk_editing.talks_for_organizers(db.session, now())
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
    form.semester.choices = [SelectChoice(0, "From the date")] + [
        SelectChoice(s.id, s.name) for s in talk_editing.semesters(db.session)
    ]


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
    try:
        data = _talk_data(form)
        if form.preview.data:
            draft = talk_editing.draft_talk(db.session, series(), data, talk)
        else:
            result = talk_editing.save_talk(db.session, series(), data, talk, now())
    except EditError as error:
        db.session.rollback()
        _field_error(form, error)
        return render_template("organize/talk_form.html", form=form, talk=talk, heading=title), 400
    if form.preview.data:
        with db.session.no_autoflush:
            page = _preview(draft)
        db.session.rollback()  # a preview saves nothing
        return render_template("organize/talk_form.html", form=form, talk=talk, heading=title, preview=page)
    saved = result.talk
    log("talk.create" if talk is None else "talk.update", f"talk {saved.slug}", before, audit.talk_snapshot(saved))
    jobs.commit_and_dispatch()
    flash(f"Saved “{saved.title}”." + consequences(result.promoted, result.told))
    return redirect(url_for("organize.edit_talk", talk_id=saved.id))


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
    return _edit(talk_to_change(talk_id) if request.method == "POST" else get_talk(talk_id))


@bp.route("/talks/<int:talk_id>/delete", methods=["GET", "POST"])
def delete_talk(talk_id: int) -> Any:
    talk = talk_to_change(talk_id) if request.method == "POST" else get_talk(talk_id)
    form = ConfirmForm()
    active = talk_editing.signups_in_the_way(db.session, talk)
    if active:
        return render_template("organize/confirm_delete.html", talk=talk, form=form, active=active), 409
    if request.method == "POST" and form.validate_on_submit():
        before = audit.talk_snapshot(talk)
        talk_editing.delete_talk(db.session, talk, now())
        log("talk.delete", f"talk {talk.slug}", before, None)
        db.session.commit()
        flash(f"Deleted “{talk.title}”.")
        return redirect(url_for("organize.talks"))
    return render_template("organize/confirm_delete.html", talk=talk, form=form)


def _change(talk_id: int, action: str, change: Callable[[Talk], int], message: str) -> Any:
    """A button on a talk: `change` applies it to the locked talk and says how many people were told."""
    talk = talk_to_change(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    before = audit.talk_snapshot(talk)
    told = change(talk)
    log(action, f"talk {talk.slug}", before, audit.talk_snapshot(talk))
    jobs.commit_and_dispatch()
    flash(message.format(title=talk.title) + consequences([], told))
    return redirect(request.referrer if _local(request.referrer) else url_for("organize.talks"))


def _local(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)  # type: ignore[union-attr]


@bp.post("/talks/<int:talk_id>/publish")
def publish_talk(talk_id: int) -> Any:
    return _change(
        talk_id,
        "talk.publish",
        lambda t: talk_editing.set_published(db.session, t, True, now()),
        "“{title}” is public.",
    )


@bp.post("/talks/<int:talk_id>/unpublish")
def unpublish_talk(talk_id: int) -> Any:
    return _change(
        talk_id,
        "talk.unpublish",
        lambda t: talk_editing.set_published(db.session, t, False, now()),
        "“{title}” is hidden.",
    )


@bp.post("/talks/<int:talk_id>/cancel")
def cancel_talk(talk_id: int) -> Any:
    return _change(
        talk_id,
        "talk.cancel",
        lambda t: talk_editing.change_status(db.session, t, TalkStatus.CANCELLED, now()),
        "“{title}” is marked cancelled.",
    )


@bp.post("/talks/<int:talk_id>/reinstate")
def reinstate_talk(talk_id: int) -> Any:
    return _change(
        talk_id,
        "talk.reinstate",
        lambda t: talk_editing.change_status(db.session, t, TalkStatus.SCHEDULED, now()),
        "“{title}” is scheduled again.",
    )
