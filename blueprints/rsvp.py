"""Attendees: the RSVP form, the confirmation, and the manage page behind a signed link."""

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
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from wtforms import EmailField, RadioField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

import jobs
from blueprints import limits
from blueprints.forms import LecternForm
from blueprints.public import series
from extensions import db
from models import Rsvp, RsvpStatus, Talk
from services import locks, meetings, signups, talks
from services.tokens import BadToken, read_manage_token

bp = Blueprint("rsvp", __name__)

MODE_LABELS = {"room": "In the room", "online": "Online"}


class RsvpForm(LecternForm):
    name = StringField("Name", validators=[DataRequired(message="Please enter your name."), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(message="Please enter your email address."), Length(max=254)])
    mode = RadioField("How will you attend?", validators=[DataRequired(message="Please choose how you will attend.")])
    affiliation = StringField("Affiliation", validators=[Optional(), Length(max=300)])
    question = TextAreaField("A question for the speaker (optional)", validators=[Optional(), Length(max=4000)])
    # Left empty by people; bots fill every field. Hidden with CSS, skipped by keyboard and autofill.
    website = StringField("Leave this field empty", validators=[Optional()])
    submit = SubmitField("Sign up")


class ModeForm(LecternForm):
    mode = RadioField("How will you attend?", validators=[DataRequired()])
    submit = SubmitField("Save")


class ActionForm(LecternForm):
    submit = SubmitField("Confirm")


def now() -> datetime:
    return datetime.now(UTC)


def _public_talk(slug: str) -> Talk:
    talk = talks.talk_by_slug(db.session, slug)
    if talk is None:
        abort(404)
    return talk


def _offer_modes(form: RsvpForm, talk: Talk) -> None:
    form.mode.choices = [SelectChoice(mode, MODE_LABELS[mode]) for mode in signups.modes(talk)]
    if len(form.mode.choices) == 1 and not form.mode.data:
        form.mode.data = form.mode.choices[0].value


@bp.route("/talks/<slug>/rsvp", methods=["GET", "POST"])
def rsvp_form(slug: str) -> Any:
    # Built before the lock is taken: a form reads the request, not the database; only the
    # modes it offers depend on the talk.
    form = RsvpForm()
    if request.method == "GET":
        return _form_page(_public_talk(slug), form)
    limits.check_sign_up("rsvp", slug)
    locks.begin_write(db.session)  # before any read: this unit of work will write
    # Under the lock, read only what a sign-up needs; a page with errors reads the rest.
    talk = talks.talk_to_sign_up_for(db.session, slug) or abort(404)
    _offer_modes(form, talk)
    if not signups.signups_open(talk, now()):
        return _form_page_again(slug, form, 409)
    if form.website.data:
        # A bot filled the field people never see: the same answer as anyone, whatever else it typed.
        db.session.rollback()
        return redirect(url_for("rsvp.sent", slug=slug), 303)
    if not form.validate_on_submit():
        return _form_page_again(slug, form, 400)
    try:
        signups.sign_up(
            db.session,
            talk.id,
            name=form.name.data,
            email=form.email.data,
            mode=form.mode.data,
            now=now(),
            affiliation=form.affiliation.data or "",
            question=form.question.data or "",
        )
    except signups.SignupError as error:
        target = getattr(form, error.field, None) if error.field else None
        if target is not None:
            target.errors = [*target.errors, str(error)]
        else:
            form.form_errors.append(str(error))
        return _form_page_again(slug, form, 409 if error.conflict else 400)
    jobs.commit_and_dispatch()
    # One answer whether the address was new (a confirmation is on its way) or already signed up
    # (its owner is sent their link again): whoever typed it must not learn which, nor reach that
    # person's sign-up. The manage link is in the email. The slug is the one in the address (the
    # talk was found by it): `talk.slug` would read the talk and its parts, speakers and sections
    # again, as the commit expired them.
    return redirect(url_for("rsvp.sent", slug=slug), 303)


def _form_page(talk: Talk, form: RsvpForm, status: int = 200) -> Any:
    _offer_modes(form, talk)
    context = {
        "talk": talk,
        "series": talk.series,
        "tz": ZoneInfo(talk.series.timezone),
        "form": form,
        "is_open": signups.signups_open(talk, now()),
    }
    return render_template("rsvp/form.html", **context), status


def _form_page_again(slug: str, form: RsvpForm, status: int) -> Any:
    """The form with what was typed and why it was refused. Nothing of the POST is kept: its unit
    of work is rolled back (the talk's lock with it) before the talk is read as the page shows it;
    the objects of the lean locked read are let go, so that none keeps its columns unloaded."""
    db.session.rollback()
    db.session.expunge_all()
    return _form_page(_public_talk(slug), form, status)


@bp.get("/talks/<slug>/rsvp/sent")
def sent(slug: str) -> Any:
    talk = _public_talk(slug)
    return render_template("rsvp/check_email.html", talk=talk, series=talk.series)


@bp.errorhandler(429)
def too_many_submissions(error: Exception) -> Any:
    """The rate limits aim at abuse; a person who meets one gets a page, not a bare error."""
    db.session.rollback()
    slug = (request.view_args or {}).get("slug")
    talk = talks.talk_by_slug(db.session, slug) if slug else None
    the_series = talk.series if talk is not None else series()
    return render_template("rsvp/too_many.html", talk=talk, series=the_series), 429


def _rsvp_from_token(token: str) -> Rsvp:
    try:
        claim = read_manage_token(current_app.config["SECRET_KEY"], token)
    except BadToken:
        abort(400, description="This link is not valid: it may have been cut short or changed. "
                               "Use the link in your confirmation email.")  # fmt: skip
    rsvp = db.session.get(Rsvp, claim.rsvp_id)
    if rsvp is None or not claim.matches(rsvp):
        db.session.rollback()
        abort(make_response(render_template("rsvp/gone.html", series=series()), 404))
    return rsvp


def _mode_form(rsvp: Rsvp) -> ModeForm:
    form = ModeForm(formdata=None)  # what the sign-up is now, not what was last posted
    form.mode.choices = [SelectChoice(mode, MODE_LABELS[mode]) for mode in signups.modes(rsvp.talk)]
    form.mode.data = "online" if rsvp.status == RsvpStatus.ONLINE else "room"
    return form


def _manage_page(token: str, rsvp: Rsvp, status: int = 200) -> Any:
    from blueprints.chats import manage_section  # here: blueprints/chats.py builds on this module

    talk = rsvp.talk
    page = render_template(
        "rsvp/manage.html",
        rsvp=rsvp,
        talk=talk,
        series=talk.series,
        tz=ZoneInfo(talk.series.timezone),
        position=signups.waiting_position(db.session, rsvp),
        mode_form=_mode_form(rsvp),
        action=ActionForm(),
        token=token,
        started=now() >= talk.starts_at,
        chat=manage_section(rsvp, now()),
        join=meetings.join_link(db.session, talk, rsvp),  # this person's link only
    )
    return page, status


@bp.after_request
def keep_manage_pages_private(response: Response) -> Response:
    """A manage page is as good as a password for that sign-up: never cached."""
    if request.path.startswith("/rsvp/"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/rsvp/<token>")
def manage(token: str) -> Any:
    return _manage_page(token, _rsvp_from_token(token))


def _owned(token: str) -> Rsvp:
    """The sign-up a manage-page button acts on: its CSRF token checked, the write lock taken first."""
    if not ActionForm().validate_on_submit():
        abort(400)
    locks.begin_write(db.session)
    return _rsvp_from_token(token)


def _act(token: str, change: Any, message: str) -> Any:
    rsvp = _owned(token)
    try:
        change(rsvp)
    except signups.SignupError as error:
        # Refused (the talk has started, the online places are taken): say why, on the page, as a 409.
        db.session.rollback()
        flash(str(error), "error")
        return _manage_page(token, _rsvp_from_token(token), 409)
    jobs.commit_and_dispatch()
    flash(message)
    return redirect(url_for("rsvp.manage", token=token))


@bp.post("/rsvp/<token>/mode")
def change_mode(token: str) -> Any:
    mode = request.form.get("mode", "")
    if mode not in MODE_LABELS:
        abort(400, description="Please choose how you will attend.")
    return _act(token, lambda r: signups.change_mode(db.session, r.id, mode, now()), "Your sign-up is updated.")


@bp.post("/rsvp/<token>/new-link")
def new_link(token: str) -> Any:
    rsvp = _owned(token)
    talk = rsvp.talk
    signups.new_manage_link(db.session, rsvp.id)
    jobs.commit_and_dispatch()
    return render_template("rsvp/check_email.html", talk=talk, series=talk.series, renewed=True)


@bp.post("/rsvp/<token>/cancel")
def cancel(token: str) -> Any:
    return _act(token, lambda r: signups.cancel(db.session, r.id, now()), "Your sign-up is cancelled.")


@bp.post("/rsvp/<token>/delete")
def erase(token: str) -> Any:
    rsvp = _owned(token)
    talk = rsvp.talk
    try:
        signups.delete(db.session, rsvp.id, now())
    except signups.SignupError:
        db.session.rollback()  # erased meanwhile (a double click, the retention purge): done all the same
    jobs.commit_and_dispatch()
    return render_template("rsvp/erased.html", talk=talk, series=talk.series)


@bp.get("/privacy")
def privacy() -> str:
    the_series = series()
    return render_template(
        "privacy.html", series=the_series, retention_days=current_app.config["ATTENDEE_RETENTION_DAYS"]
    )
