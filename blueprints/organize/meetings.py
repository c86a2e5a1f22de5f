"""A talk's online meeting, for organizers: create it in Zoom (or the practice provider), or paste
any link; see its registrations and those Lectern gave up on; send links to the room too; publish
its recording; remove it.

Creating a meeting waits for Zoom, which may take seconds: the request lets go of the write lock
(the organizer area takes it at the start of every POST) for that wait, and takes it again to
save what Zoom made. The rules are in services/meetings.py.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, flash, make_response, redirect, render_template, url_for
from wtforms import BooleanField, RadioField, SubmitField, URLField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

import jobs
from adapters.meetings import MeetingProvider, MeetingRefused, MeetingUnavailable
from blueprints.forms import LecternForm
from blueprints.organize import bp, get_talk, log, now, talk_to_change
from blueprints.organize_forms import ConfirmForm
from extensions import db
from models import Meeting, MeetingStatus, Talk
from services import locks, meetings, outbox

PROVIDER_NAMES = {"zoom": "Zoom", "fake": "Practice provider", "static": "A link you pasted"}
ANYONE, SIGNED_UP = "anyone", "signed-up"


# Forms ---------------------------------------------------------------------------------------


class CreateMeetingForm(LecternForm):
    waiting_room = BooleanField("Waiting room", description="People wait until the host lets them in.", default=False)
    links_for_room = BooleanField(
        "Send join links to people in the room",
        description="People with a seat get their own link too, to follow from afar if they cannot come.",
    )
    submit = SubmitField("Create Zoom meeting")


class PasteLinkForm(LecternForm):
    link = URLField(
        "Meeting link",
        description="The whole address, starting with https://.",
        validators=[DataRequired(message="Paste the meeting's address."), Length(max=2000)],
    )
    visibility = RadioField(
        "Who may see it",
        choices=[
            SelectChoice(SIGNED_UP, "Only people signed up"),
            SelectChoice(ANYONE, "Anyone (shown on the talk page)"),
        ],
        default=SIGNED_UP,
        validators=[DataRequired(message="Choose who may see the link.")],
    )
    submit = SubmitField("Save link")


class RoomLinksForm(LecternForm):
    links_for_room = BooleanField(
        "Send join links to people in the room",
        description="People with a seat get their own link too; untick to cancel theirs.",
    )
    submit = SubmitField("Save")


# Reading -------------------------------------------------------------------------------------


def configured_provider() -> MeetingProvider | None:
    provider: MeetingProvider | None = current_app.extensions.get("lectern.meetings")
    return provider


def _page(
    talk: Talk,
    *,
    create_form: CreateMeetingForm | None = None,
    link_form: PasteLinkForm | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    meeting = meetings.last_meeting(db.session, talk.id)
    active = meeting if meeting is not None and meeting.status == MeetingStatus.ACTIVE else None
    room_form = RoomLinksForm(formdata=None, links_for_room=active.links_for_room if active else False)
    if link_form is None:
        link_form = PasteLinkForm(formdata=None)
        if active is not None and active.provider == meetings.STATIC:
            link_form.link.data = active.join_url
            link_form.visibility.data = ANYONE if active.link_public else SIGNED_UP
    provider = configured_provider()
    page = render_template(
        "organize/meeting.html",
        talk=talk,
        meeting=meeting,
        active=active,
        provider=provider,
        provider_names=PROVIDER_NAMES,
        personal_links=meetings.PERSONAL_LINKS,
        counts=meetings.registrant_counts(db.session, active) if active is not None else None,
        given_up=meetings.registrations_given_up(db.session, talk.id),
        create_form=create_form or CreateMeetingForm(formdata=None),
        link_form=link_form,
        room_form=room_form,
        button=ConfirmForm(),
        error=error,
        tz=ZoneInfo(talk.series.timezone),
        talk_over=talk.ends_at <= now(),
    )
    response = make_response(page, status)
    # The host's start link and the passcode are on this page: no cache keeps it.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/talks/<int:talk_id>/meeting")
def meeting_page(talk_id: int) -> Response:
    return _page(get_talk(talk_id))


# Creating at the provider ----------------------------------------------------------------------


def _why_not_create(talk: Talk, provider: MeetingProvider | None) -> str:
    if provider is None:
        return "Lectern is not set up to create meetings (no Zoom credentials): paste a link below instead."
    if meetings.meeting_of(db.session, talk.id) is not None:
        return "This talk already has a meeting: remove it first to make another."
    if talk.is_cancelled:
        return "This talk is cancelled: reinstate it before creating its meeting."
    if talk.ends_at <= now():
        return "This talk is over: there is no meeting to create for it."
    return ""


@bp.post("/talks/<int:talk_id>/meeting/create")
def create_meeting(talk_id: int) -> Any:
    talk = get_talk(talk_id)
    form = CreateMeetingForm()
    if not form.validate_on_submit():
        abort(400)
    provider = configured_provider()
    if reason := _why_not_create(talk, provider):
        db.session.rollback()
        return _page(get_talk(talk_id), create_form=form, error=reason, status=409)
    assert provider is not None
    waiting_room, links_for_room = bool(form.waiting_room.data), bool(form.links_for_room.data)
    try:
        spec = meetings.spec_for(talk, waiting_room=waiting_room)
    except ValueError as error:
        db.session.rollback()
        reason = f"The meeting cannot be made for this talk as it is: {error}."
        return _page(get_talk(talk_id), create_form=form, error=reason, status=400)
    target = f"talk {talk.slug}"
    # No lock, no transaction while Zoom works: sign-ups and other organizers go on meanwhile.
    db.session.rollback()
    try:
        created = meetings.create_at_provider(provider, spec)
    except MeetingRefused as error:
        return _page(get_talk(talk_id), create_form=form, error=_not_created(error.message_for_organizer), status=502)
    except MeetingUnavailable as error:
        return _page(get_talk(talk_id), create_form=form, error=_not_created(error.message_for_organizer), status=503)
    locks.begin_write(db.session)
    try:
        meeting = meetings.save_created(
            db.session,
            talk_id,
            created,
            provider=provider.name,
            waiting_room=waiting_room,
            links_for_room=links_for_room,
            now=now(),
        )
    except locks.TalkGone:
        jobs.commit_and_dispatch()  # the meeting just made is deleted at the provider
        abort(404, description="The talk was deleted while its meeting was being created; the meeting is deleted too.")
    if meeting.external_id != str(created.id):
        jobs.commit_and_dispatch()  # the second meeting is deleted at the provider
        flash("Someone created this talk's meeting at the same time: that one is kept, and the second deleted.")
        return redirect(url_for("organize.meeting_page", talk_id=talk_id))
    after = {
        "provider": provider.name,
        "meeting": meeting.external_id,
        "waiting_room": waiting_room,
        "links_for_room": links_for_room,
    }
    log("meeting.create", target, None, after)
    jobs.commit_and_dispatch()
    name = PROVIDER_NAMES.get(provider.name, provider.name)
    flash(f"The meeting is created ({name}, meeting {meeting.external_id}).")
    return redirect(url_for("organize.meeting_page", talk_id=talk_id))


def _not_created(message: str) -> str:
    return f"The meeting was not created, and nothing is saved. {message}"


# A pasted link -------------------------------------------------------------------------------


@bp.post("/talks/<int:talk_id>/meeting/link")
def paste_link(talk_id: int) -> Any:
    talk = talk_to_change(talk_id)
    form = PasteLinkForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _page(get_talk(talk_id), link_form=form, status=400)
    current = meetings.meeting_of(db.session, talk.id)
    if current is not None and current.provider != meetings.STATIC:
        db.session.rollback()
        form.link.errors = [*form.link.errors, "This talk has a meeting made by Lectern: remove it first."]
        return _page(get_talk(talk_id), link_form=form, status=409)
    before = {"link": "pasted", "public": current.link_public} if current is not None else None
    public = form.visibility.data == ANYONE
    try:
        meetings.set_static_link(db.session, talk.id, form.link.data or "", public=public, now=now())
    except meetings.MeetingRuleError as error:
        db.session.rollback()
        form.link.errors = [*form.link.errors, str(error)]
        return _page(get_talk(talk_id), link_form=form, status=400)
    # The link itself stays out of the log: for people signed up only, it is theirs to know.
    log("meeting.link", f"talk {talk.slug}", before, {"link": "pasted", "public": public})
    jobs.commit_and_dispatch()
    flash("The link is saved: " + ("anyone sees it on the talk page." if public else "people signed up see it."))
    return redirect(url_for("organize.meeting_page", talk_id=talk_id))


# Changes to the meeting ----------------------------------------------------------------------


def _active_meeting(talk: Talk) -> Meeting:
    meeting = meetings.meeting_of(db.session, talk.id)
    if meeting is None:
        db.session.rollback()
        flash("This talk has no meeting any more.", "error")
        abort(redirect(url_for("organize.meeting_page", talk_id=talk.id)))
    return meeting


@bp.post("/talks/<int:talk_id>/meeting/room-links")
def room_links(talk_id: int) -> Any:
    talk = talk_to_change(talk_id)
    form = RoomLinksForm()
    if not form.validate_on_submit():
        abort(400)
    meeting = _active_meeting(talk)
    before, on = meeting.links_for_room, bool(form.links_for_room.data)
    meetings.set_links_for_room(db.session, talk.id, on, now())
    if before != on:
        log("meeting.links_for_room", f"talk {talk.slug}", {"links_for_room": before}, {"links_for_room": on})
    jobs.commit_and_dispatch()
    flash("People in the room get their own join link too." if on else "Join links go to people online only.")
    return redirect(url_for("organize.meeting_page", talk_id=talk_id))


@bp.get("/talks/<int:talk_id>/meeting/remove")
def confirm_remove(talk_id: int) -> Any:
    talk = get_talk(talk_id)
    meeting = meetings.meeting_of(db.session, talk.id)
    if meeting is None:
        return redirect(url_for("organize.meeting_page", talk_id=talk_id))
    counts = meetings.registrant_counts(db.session, meeting)
    return render_template(
        "organize/meeting_remove.html",
        talk=talk,
        meeting=meeting,
        counts=counts,
        provider_names=PROVIDER_NAMES,
        form=ConfirmForm(),
    )


@bp.post("/talks/<int:talk_id>/meeting/remove")
def remove_meeting(talk_id: int) -> Any:
    talk = talk_to_change(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    meeting = _active_meeting(talk)
    before = {"provider": meeting.provider, "meeting": meeting.external_id or "pasted link"}
    meetings.remove(db.session, talk.id, now())
    log("meeting.remove", f"talk {talk.slug}", before, None)
    jobs.commit_and_dispatch()
    flash("The meeting is removed." + (" It is deleted in Zoom too." if before["provider"] == "zoom" else ""))
    return redirect(url_for("organize.meeting_page", talk_id=talk_id))


@bp.post("/talks/<int:talk_id>/meeting/publish-recording")
def publish_recording(talk_id: int) -> Any:
    talk = talk_to_change(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    had_recording = bool(talk.recording_url)
    try:
        meetings.publish_recording(db.session, talk.id)
    except meetings.MeetingRuleError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _page(get_talk(talk_id), status=409)
    log("meeting.publish_recording", f"talk {talk.slug}", {"recording": had_recording}, {"recording": True})
    jobs.commit_and_dispatch()
    flash("The recording is on the talk page.")
    return redirect(url_for("organize.meeting_page", talk_id=talk_id))


@bp.post("/talks/<int:talk_id>/meeting/try-again/<int:message_id>")
def try_registration_again(talk_id: int, message_id: int) -> Any:
    talk = get_talk(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if message_id not in {item.message.id for item in meetings.registrations_given_up(db.session, talk.id)}:
        db.session.rollback()
        flash("This registration is no longer waiting to be tried again.", "error")
        return redirect(url_for("organize.meeting_page", talk_id=talk_id))
    message = outbox.try_again(db.session, message_id, now())
    assert message is not None
    log("outbox.try_again", f"message {message.id}", None, {"kind": message.kind})
    jobs.commit_and_dispatch()
    flash("Trying that registration again now.")
    return redirect(url_for("organize.meeting_page", talk_id=talk_id))
