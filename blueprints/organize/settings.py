"""The series' settings, and its co-organizers."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from wtforms.fields.choices import SelectChoice

from blueprints.organize import actor, bp, log, series
from blueprints.organize_forms import ConfirmForm, InviteForm, SeriesForm
from extensions import db
from services import announcement, audit, organizers
from services.talk_editing import EditError, save_series


@bp.route("/settings", methods=["GET", "POST"])
def settings() -> Any:
    the_series = series()
    form = SeriesForm(obj=the_series, default_room=the_series.default_room_id or 0)
    form.default_room.choices = [SelectChoice(0, "None")] + [SelectChoice(r.id, r.name) for r in the_series.rooms]
    if request.method == "GET":
        form.announce_template.data = announcement.template_of(the_series)
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
                announcement.save_settings(
                    the_series,
                    lists=form.announce_lists.data or "",
                    template=form.announce_template.data or "",
                    reset=form.announce_reset.data,
                )
                log("series.update", "series", before, audit.series_snapshot(the_series))
                db.session.commit()
                flash("Settings saved.")
                return redirect(url_for("organize.settings"))
            except (EditError, announcement.AnnouncementError) as error:
                db.session.rollback()
                _show_error(form, error)
        return _settings_page(form), 400
    return _settings_page(form)


def _settings_page(form: SeriesForm) -> str:
    return render_template("organize/settings.html", form=form, variables=announcement.VARIABLES)


def _show_error(form: SeriesForm, error: EditError | announcement.AnnouncementError) -> None:
    """Beside its field when the error names one (a bad list address, a template line), else above the form."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, str(error)]
    else:
        form.form_errors.append(str(error))


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
    organizer = organizers.by_id(db.session, organizer_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        organizers.remove(db.session, organizer, by=g.organizer)
    except organizers.OrganizerError as error:
        flash(str(error), "error")
        return redirect(url_for("organize.team"))
    log("organizer.remove", f"organizer {organizer.email}", {"email": organizer.email}, None)
    db.session.commit()
    flash(f"{organizer.email} can no longer organize.")
    return redirect(url_for("organize.team"))
