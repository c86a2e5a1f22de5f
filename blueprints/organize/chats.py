"""Chats with the speaker, for organizers: the slots and who is booked in each, moves and
cancellations on someone's behalf, how places are given out (first come or a draw), the draw
and its check, the speakers' links and schedules, the list for the door and the CSV export.

The rules are in services/chats.py; this module parses, calls them, logs and renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

import jobs
import links
from blueprints.forms import LecternForm
from blueprints.organize import bp, get_talk, log, now, talk_to_change
from blueprints.organize_forms import ConfirmForm
from extensions import db
from models import ChatAssignment, ChatBooking, ChatDraw, ChatSlot, Rsvp, Talk
from services import chats, export, signups, timefmt, tokens
from services.signups import SignupError
from services.text import one_line

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
ASSIGNMENTS = [
    SelectChoice(ChatAssignment.FIRST_COME.value, "First come, first served"),
    SelectChoice(ChatAssignment.DRAW.value, "Draw"),
]


# Forms ---------------------------------------------------------------------------------------


class AddSlotsForm(LecternForm):
    first_starts_at = DateTimeLocalField(
        "First chat starts",
        format=DATETIME_FORMAT,
        description="Leave empty to start when the talk ends. The others follow back to back.",
        validators=[Optional()],
    )
    count = IntegerField(
        "Number of chats",
        validators=[
            InputRequired(message="How many chats?"),
            NumberRange(1, chats.MAX_SLOTS_AT_ONCE, message=f"Add between 1 and {chats.MAX_SLOTS_AT_ONCE} chats."),
        ],
    )
    minutes = IntegerField(
        "Minutes each",
        validators=[
            InputRequired(message="How long is each chat?"),
            NumberRange(1, chats.MAX_MINUTES, message=f"A chat lasts between 1 and {chats.MAX_MINUTES} minutes."),
        ],
    )
    capacity = IntegerField(
        "People per chat",
        description="1 for one-on-one, more for a small group.",
        validators=[
            InputRequired(message="How many people in each chat?"),
            NumberRange(
                1, chats.MAX_PEOPLE_PER_CHAT, message=f"A chat has between 1 and {chats.MAX_PEOPLE_PER_CHAT} people."
            ),
        ],
    )
    place = StringField("Place", description="Leave empty for the talk's room.", validators=[Length(max=200)])
    speaker = SelectField("Speaker")
    submit = SubmitField("Add chats")


class SlotForm(LecternForm):
    starts_at = DateTimeLocalField(
        "Starts", format=DATETIME_FORMAT, validators=[DataRequired(message="When does this chat start?")]
    )
    minutes = IntegerField(
        "Minutes",
        validators=[
            InputRequired(message="How long is this chat?"),
            NumberRange(1, chats.MAX_MINUTES, message=f"A chat lasts between 1 and {chats.MAX_MINUTES} minutes."),
        ],
    )
    capacity = IntegerField(
        "People",
        description="1 for one-on-one, more for a small group.",
        validators=[
            InputRequired(message="How many people in this chat?"),
            NumberRange(
                1, chats.MAX_PEOPLE_PER_CHAT, message=f"A chat has between 1 and {chats.MAX_PEOPLE_PER_CHAT} people."
            ),
        ],
    )
    place = StringField("Place", validators=[Length(max=200)])
    # The confirmation step: who was booked when the organizer said yes (sign-up ids).
    booked = HiddenField()
    confirmed = HiddenField()
    submit = SubmitField("Save")


class OptionsForm(LecternForm):
    assignment = RadioField("How chats are given out", choices=ASSIGNMENTS, default=ChatAssignment.FIRST_COME.value)
    draw_at = DateTimeLocalField("Draw time", format=DATETIME_FORMAT, validators=[Optional()])
    closes = DateTimeLocalField("Chat sign-up closes", format=DATETIME_FORMAT, validators=[Optional()])
    prefer_new = BooleanField("Place people who already had a chat this semester after the others")
    submit = SubmitField("Save")


class SpeakerEmailForm(LecternForm):
    speaker = HiddenField()
    email = EmailField("Speaker's email, for their chat schedule", validators=[Length(max=254)])
    submit = SubmitField("Save")


# Helpers --------------------------------------------------------------------------------------


def zone(talk: Talk) -> ZoneInfo:
    return ZoneInfo(talk.series.timezone)


def as_input(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A stored instant as a datetime-local field shows it: the series' wall clock, no zone."""
    return moment.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0) if moment else None


def from_input(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A datetime-local value, read in the series' zone, as an instant."""
    return value.replace(tzinfo=tz).astimezone(UTC) if value else None


def speaker_link(talk: Talk, name: str) -> str:
    """The address of the speaker's chat schedule (blueprints/speakers.py)."""
    token = tokens.speaker_token(current_app.config["SECRET_KEY"], talk, chats.speaker_key(talk, name))
    return links.link_for("speakers.schedule", token=token)


def slot_of(talk: Talk, slot_id: int) -> ChatSlot:
    slot = db.session.get(ChatSlot, slot_id)
    if slot is None or slot.talk_id != talk.id:
        abort(404)
    return slot


def rsvp_of(talk: Talk, rsvp_id: int) -> Rsvp:
    rsvp = signups.rsvp_of(db.session, talk, rsvp_id)
    if rsvp is None:
        abort(404)
    return rsvp


def slot_record(slot: ChatSlot) -> dict[str, Any]:
    """A slot in the audit log."""
    return {**chats.snapshot(slot), "capacity": slot.capacity}


def booked_ids(people: list[ChatBooking]) -> str:
    return ",".join(str(b.rsvp_id) for b in sorted(people, key=lambda b: b.rsvp_id))


def field_error(form: LecternForm, error: SignupError, *, fields: dict[str, str] | None = None) -> None:
    """The service's message on the field it names (`fields` maps its names to the form's)."""
    name = (fields or {}).get(error.field or "", error.field or "")
    target = getattr(form, name, None) if name else None
    if target is not None and hasattr(target, "errors"):
        target.errors = [*target.errors, str(error)]
    else:
        form.form_errors.append(str(error))


def to_section(talk: Talk) -> Any:
    # To the top of the page, where the message about what was done is shown.
    return redirect(url_for("organize.chats", talk_id=talk.id))


def slot_label(slot: ChatSlot, tz: ZoneInfo, *, with_speaker: bool) -> str:
    """'Mon, Mar 14, 12:30 PM' (with the speaker's name when the talk has several)."""
    start = timefmt.local(slot.starts_at, tz)
    label = f"{timefmt.short_day(start.date())}, {timefmt.clock(start)}"
    return f"{label} with {slot.speaker_name}" if with_speaker and slot.speaker_name else label


# The page -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrawPerson:
    position: int
    rsvp: Rsvp | None  # None: erased since
    slot: ChatSlot | None  # what the draw gave; None: not this time
    placed: bool
    later: bool  # placed after the others (had a chat this semester)
    wishes: list[ChatSlot | None]


def draw_people(talk: Talk, record: ChatDraw) -> list[DrawPerson]:
    order = [int(p) for p in record.result.get("order", [])]
    placed = {int(p): int(s) for p, s in record.result.get("placed", {}).items()}
    later = {int(p) for p in record.inputs.get("later", [])}
    wishes = {int(p): [int(s) for s in v] for p, v in record.inputs.get("wishes", {}).items()}
    people = export.people_by_id(db.session, talk, order)
    slots = {slot.id: slot for slot in chats.slots_of(db.session, talk.id)}
    return [
        DrawPerson(
            position=n,
            rsvp=people.get(person),
            slot=slots.get(placed[person]) if person in placed else None,
            placed=person in placed,
            later=person in later,
            wishes=[slots.get(s) for s in wishes.get(person, [])],
        )
        for n, person in enumerate(order, start=1)
    ]


def add_form_for(talk: Talk, tz: ZoneInfo, *, posted: bool = False) -> AddSlotsForm:
    """The form as posted, or (on a page shown afresh, or after another form) with its defaults."""
    if posted:
        form = AddSlotsForm()
    else:
        form = AddSlotsForm(
            formdata=None,
            first_starts_at=as_input(talk.ends_at, tz),
            count=4,
            minutes=15,
            capacity=1,
            place=talk.room.name if talk.room else "",
        )
    names = talk.speaker_names
    if len(names) > 1:
        form.speaker.choices = [SelectChoice("", "Choose a speaker")] + [SelectChoice(n, n) for n in names]
    else:
        del form.speaker
    return form


def options_form_for(talk: Talk, tz: ZoneInfo, *, posted: bool = False) -> OptionsForm:
    if posted:
        return OptionsForm()
    return OptionsForm(
        formdata=None,
        assignment=talk.chat_assignment.value,
        draw_at=as_input(talk.chat_draw_at, tz),
        closes=as_input(talk.chat_closes_at, tz),
        prefer_new=talk.chat_prefer_new,
    )


def speaker_forms_for(talk: Talk, failed: SpeakerEmailForm | None = None) -> list[tuple[str, SpeakerEmailForm]]:
    emails = talk.chat_speaker_emails or {}
    forms = []
    for name in chats.speaker_names(talk):
        if failed is not None and failed.speaker.data == name:
            forms.append((name, failed))
        else:
            forms.append((name, SpeakerEmailForm(formdata=None, speaker=name, email=emails.get(name, ""))))
    return forms


def render_section(
    talk: Talk,
    *,
    add_form: AddSlotsForm | None = None,
    options_form: OptionsForm | None = None,
    speaker_form: SpeakerEmailForm | None = None,
    status: int = 200,
) -> Any:
    """The section; after a refused form, with that form's errors and a pointer to it at the top."""
    forms = {"add": add_form, "options": options_form, "speakers": speaker_form}
    problem = next((anchor for anchor, form in forms.items() if form is not None), "")
    tz = zone(talk)
    places = chats.places(db.session, talk.id)
    bookings = {slot.id: people for slot, people in chats.bookings_by_slot(db.session, talk.id)}
    by_speaker: dict[str, list[chats.SlotPlaces]] = {}
    for entry in places:
        by_speaker.setdefault(entry.slot.speaker_name, []).append(entry)
    record = chats.draw_of(db.session, talk.id)
    wishes = chats.wish_counts(db.session, talk.id) if record is None else {}
    checked = chats.verify(record) if record is not None and request.args.get("check") else None
    several = len(talk.speaker_names) > 1
    open_places = [
        (entry.slot, slot_label(entry.slot, tz, with_speaker=several), entry.left) for entry in places if not entry.full
    ]
    return render_template(
        "organize/chats.html",
        talk=talk,
        tz=tz,
        by_speaker=by_speaker,
        bookings=bookings,
        open_places=open_places,
        several_speakers=several,
        phase=chats.phase(db.session, talk, now()),
        closes_at=chats.closes_at(talk),
        draw_at=chats.draw_at(talk),
        default_draw_at=talk.starts_at - chats.DEFAULT_DRAW_AHEAD,
        record=record,
        draw_people=draw_people(talk, record) if record is not None else [],
        wishes=wishes,
        wishers=sum(counts[0] for counts in wishes.values()),
        checked=checked,
        add_form=add_form or add_form_for(talk, tz),
        options_form=options_form or options_form_for(talk, tz),
        speaker_forms=speaker_forms_for(talk, speaker_form),
        speaker_links={name: speaker_link(talk, name) for name in chats.speaker_names(talk)}
        if talk.chat_link_nonce
        else {},
        button=ConfirmForm(),
        assignments=ChatAssignment,
        problem=problem if status >= 400 else "",
    ), status


@bp.get("/talks/<int:talk_id>/chats", endpoint="chats")
def chats_section(talk_id: int) -> Any:
    return render_section(get_talk(talk_id))


# Slots ----------------------------------------------------------------------------------------


@bp.post("/talks/<int:talk_id>/chats/slots")
def add_chat_slots(talk_id: int) -> Any:
    talk = talk_to_change(talk_id)
    tz = zone(talk)
    form = add_form_for(talk, tz, posted=True)
    if not form.validate_on_submit():
        return render_section(talk, add_form=form, status=400)
    try:
        slots = chats.add_slots(
            db.session,
            talk.id,
            first_starts_at=from_input(form.first_starts_at.data, tz),
            count=form.count.data,
            minutes=form.minutes.data,
            capacity=form.capacity.data,
            place=form.place.data or None,
            speaker_name=form.speaker.data if form.speaker is not None else "",
            now=now(),
        )
    except SignupError as error:
        db.session.rollback()
        field_error(form, error)
        return render_section(get_talk(talk_id), add_form=form, status=400)
    log("chat.slots.add", f"talk {talk.slug}", None, {"slots": [slot_record(s) for s in slots]})
    jobs.commit_and_dispatch()
    flash(f"Added {len(slots)} chat{'s' if len(slots) != 1 else ''}.")
    return to_section(talk)


def _slot_page(talk: Talk, slot: ChatSlot, form: SlotForm, *, confirm: list[ChatBooking] | None = None) -> str:
    return render_template(
        "organize/chats_slot.html",
        talk=talk,
        slot=slot,
        tz=zone(talk),
        form=form,
        people=chats.bookings_in(db.session, slot.id),
        confirm=confirm,
    )


@bp.route("/talks/<int:talk_id>/chats/slots/<int:slot_id>/edit", methods=["GET", "POST"])
def edit_chat_slot(talk_id: int, slot_id: int) -> Any:
    talk = talk_to_change(talk_id) if request.method == "POST" else get_talk(talk_id)
    slot = slot_of(talk, slot_id)
    tz = zone(talk)
    if request.method == "GET":
        form = SlotForm(
            formdata=None,
            starts_at=as_input(slot.starts_at, tz),
            minutes=slot.minutes,
            capacity=slot.capacity,
            place=slot.place,
        )
        return _slot_page(talk, slot, form)
    form = SlotForm()
    if not form.validate_on_submit():
        return _slot_page(talk, slot, form), 400
    starts_at = from_input(form.starts_at.data, tz)
    assert starts_at is not None  # required by the form
    if form.starts_at.data == as_input(slot.starts_at, tz):
        starts_at = slot.starts_at  # the same minute: keep the stored instant, seconds and all
    place = one_line(form.place.data or "")
    people = chats.bookings_in(db.session, slot.id)
    moves = (starts_at, form.minutes.data, place) != (slot.starts_at, slot.minutes, slot.place)
    if moves and people and (form.confirmed.data != "yes" or form.booked.data != booked_ids(people)):
        # Those booked are emailed: the organizer says yes first, knowing who they are.
        form.booked.data = booked_ids(people)
        form.confirmed.data = "yes"
        return _slot_page(talk, slot, form, confirm=people)
    before = slot_record(slot)
    try:
        told = chats.update_slot(
            db.session,
            slot.id,
            starts_at=starts_at,
            minutes=form.minutes.data,
            capacity=form.capacity.data,
            place=place,
            now=now(),
        )
    except SignupError as error:
        db.session.rollback()
        field_error(form, error)
        form.confirmed.data = ""
        talk = get_talk(talk_id)
        return _slot_page(talk, slot_of(talk, slot_id), form), 400
    log("chat.slot.update", f"talk {talk.slug}", before, slot_record(slot))
    jobs.commit_and_dispatch()
    said = f" The {told} {'person' if told == 1 else 'people'} booked in it are emailed the change." if told else ""
    flash("Saved the chat." + said)
    return to_section(talk)


@bp.route("/talks/<int:talk_id>/chats/slots/<int:slot_id>/delete", methods=["GET", "POST"])
def delete_chat_slot(talk_id: int, slot_id: int) -> Any:
    talk = talk_to_change(talk_id) if request.method == "POST" else get_talk(talk_id)
    slot = slot_of(talk, slot_id)
    form = ConfirmForm()
    people = chats.bookings_in(db.session, slot.id)
    page = {"talk": talk, "slot": slot, "tz": zone(talk), "form": form, "people": people, "booked": booked_ids(people)}
    if request.method == "GET":
        return render_template("organize/chats_delete.html", **page)
    if not form.validate_on_submit():
        abort(400)
    if people and request.form.get("booked") != booked_ids(people):
        # Someone booked (or left) since the page was shown: ask again, naming them.
        return render_template("organize/chats_delete.html", changed=True, **page), 409
    before = slot_record(slot)
    told = chats.delete_slot(db.session, slot.id, now())
    log("chat.slot.delete", f"talk {talk.slug}", before, None)
    jobs.commit_and_dispatch()
    said = f" The {told} {'person' if told == 1 else 'people'} booked in it are emailed." if told else ""
    flash("Deleted the chat." + said)
    return to_section(talk)


# Bookings, on someone's behalf ------------------------------------------------------------------


@bp.post("/talks/<int:talk_id>/chats/bookings/<int:rsvp_id>/move")
def move_chat_booking(talk_id: int, rsvp_id: int) -> Any:
    talk = talk_to_change(talk_id)
    rsvp = rsvp_of(talk, rsvp_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        slot_id = int(request.form.get("slot", ""))
    except ValueError:
        flash(f"{rsvp.name}: choose the chat to move them to.", "error")
        return to_section(talk)
    before = booking_record(rsvp)
    try:
        booking = chats.choose_slot(db.session, rsvp.id, slot_id, now(), by_organizer=True)
    except SignupError as error:
        db.session.rollback()
        flash(f"{rsvp.name}: {error}", "error")
        return to_section(get_talk(talk_id))
    log("chat.booking.move", f"talk {talk.slug}", before, booking_record(rsvp))
    jobs.commit_and_dispatch()
    label = slot_label(booking.slot, zone(talk), with_speaker=True)
    flash(f"{rsvp.name} is now in the chat of {label}; they are emailed.")
    return to_section(talk)


def booking_record(rsvp: Rsvp) -> dict[str, Any]:
    """A booking in the audit log, by numbers only: attendee data must go when retention says so."""
    booking = chats.booking_of(db.session, rsvp.id)
    return {"rsvp": rsvp.id, "slot": booking.slot_id if booking else None}


@bp.post("/talks/<int:talk_id>/chats/bookings/<int:rsvp_id>/cancel")
def cancel_chat_booking(talk_id: int, rsvp_id: int) -> Any:
    talk = talk_to_change(talk_id)
    rsvp = rsvp_of(talk, rsvp_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    before = booking_record(rsvp)
    try:
        cancelled = chats.cancel_booking(db.session, rsvp.id, now(), by_organizer=True)
    except SignupError as error:
        db.session.rollback()
        flash(f"{rsvp.name}: {error}", "error")
        return to_section(get_talk(talk_id))
    if not cancelled:
        db.session.rollback()
        flash(f"{rsvp.name} has no chat booked.", "error")
        return to_section(get_talk(talk_id))
    log("chat.booking.cancel", f"talk {talk.slug}", before, {"rsvp": rsvp.id, "slot": None})
    jobs.commit_and_dispatch()
    flash(f"Cancelled the chat of {rsvp.name}; they are emailed. Their sign-up for the talk stays.")
    return to_section(talk)


# How places are given out ----------------------------------------------------------------------


def options_record(talk: Talk) -> dict[str, Any]:
    return {
        "assignment": talk.chat_assignment.value,
        "closes_at": talk.chat_closes_at.isoformat() if talk.chat_closes_at else None,
        "draw_at": talk.chat_draw_at.isoformat() if talk.chat_draw_at else None,
        "prefer_new": talk.chat_prefer_new,
        "open": talk.chat_open,
    }


@bp.post("/talks/<int:talk_id>/chats/options")
def chat_options(talk_id: int) -> Any:
    talk = talk_to_change(talk_id)
    tz = zone(talk)
    form = options_form_for(talk, tz, posted=True)
    if not form.validate_on_submit():
        return render_section(talk, options_form=form, status=400)
    before = options_record(talk)
    try:
        chats.set_options(
            db.session,
            talk.id,
            assignment=ChatAssignment(form.assignment.data),
            closes=from_input(form.closes.data, tz),
            draw_time=from_input(form.draw_at.data, tz),
            prefer_new=form.prefer_new.data,
            is_open=talk.chat_open,
            now=now(),
        )
    except SignupError as error:
        db.session.rollback()
        field_error(form, error)
        return render_section(get_talk(talk_id), options_form=form, status=409 if error.conflict else 400)
    log("chat.options", f"talk {talk.slug}", before, options_record(talk))
    jobs.commit_and_dispatch()
    flash("Saved how chats are given out.")
    return to_section(talk)


@bp.post("/talks/<int:talk_id>/chats/open")
def open_chats(talk_id: int) -> Any:
    """Close chat sign-up now, or reopen it: the other options stay as they are."""
    talk = talk_to_change(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    opening = request.form.get("open") == "1"
    before = options_record(talk)
    try:
        chats.set_options(
            db.session,
            talk.id,
            assignment=talk.chat_assignment,
            closes=talk.chat_closes_at,
            draw_time=talk.chat_draw_at,
            prefer_new=talk.chat_prefer_new,
            is_open=opening,
            now=now(),
        )
    except SignupError as error:
        db.session.rollback()
        flash(str(error), "error")
        return to_section(get_talk(talk_id))
    log("chat.open" if opening else "chat.close", f"talk {talk.slug}", before, options_record(talk))
    jobs.commit_and_dispatch()
    if opening and now() >= chats.closes_at(talk):
        flash("Chat sign-up is reopened, but its closing time has passed: set a later one below.", "error")
    else:
        flash("Chat sign-up is open." if opening else "Chat sign-up is closed.")
    return to_section(talk)


# The draw -------------------------------------------------------------------------------------


@bp.post("/talks/<int:talk_id>/chats/draw")
def run_chat_draw(talk_id: int) -> Any:
    talk = talk_to_change(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if talk.chat_assignment != ChatAssignment.DRAW:
        flash("Chats for this talk are first come, first served: there is no draw to make.", "error")
        return to_section(talk)
    if chats.has_drawn(db.session, talk):
        flash("The draw was made already; it is made once.", "error")
        return to_section(talk)
    record = chats.run_draw(db.session, talk.id, now())
    assert record is not None
    placed, unplaced = len(record.result["placed"]), len(record.result["unplaced"])
    log("chat.draw", f"talk {talk.slug}", None, {"seed": record.seed, "placed": placed, "unplaced": unplaced})
    jobs.commit_and_dispatch()
    flash(f"The draw is made: {placed} placed, {unplaced} not this time. Everyone is emailed.")
    return to_section(talk)


# Speakers -------------------------------------------------------------------------------------


@bp.post("/talks/<int:talk_id>/chats/speakers/email")
def speaker_email(talk_id: int) -> Any:
    talk = talk_to_change(talk_id)
    form = SpeakerEmailForm()
    if not form.validate_on_submit():
        return render_section(talk, speaker_form=form, status=400)
    name = form.speaker.data or ""
    before = {"speaker": name, "email": (talk.chat_speaker_emails or {}).get(name)}
    try:
        chats.set_speaker_email(db.session, talk.id, name, form.email.data or "")
    except SignupError as error:
        db.session.rollback()
        field_error(form, error, fields={"speaker": "email"})
        return render_section(get_talk(talk_id), speaker_form=form, status=400)
    after = {"speaker": name, "email": (talk.chat_speaker_emails or {}).get(name)}
    log("chat.speaker_email", f"talk {talk.slug}", before, after)
    db.session.commit()
    who = name or "the speaker"
    flash(f"Saved the address of {who}." if after["email"] else f"Removed the address of {who}.")
    return to_section(talk)


@bp.post("/talks/<int:talk_id>/chats/speakers/link")
def speaker_links(talk_id: int) -> Any:
    """A new link for the speakers (the old ones stop working), or none at all."""
    talk = talk_to_change(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    revoke = request.form.get("revoke") == "1"
    had = bool(talk.chat_link_nonce)
    chats.speaker_link_nonce(db.session, talk.id, revoke=revoke)
    # The log says what happened to the link, never the link itself.
    log(
        "chat.speaker_link",
        f"talk {talk.slug}",
        {"link": "made" if had else "none"},
        {"link": "revoked" if revoke else "new"},
    )
    db.session.commit()
    if revoke:
        flash("The speaker's link is revoked: it no longer opens the schedule.")
    else:
        flash("Made a new link for the speaker." + (" The old one no longer works." if had else ""))
    return to_section(talk)


@bp.post("/talks/<int:talk_id>/chats/speakers/send")
def send_speaker_schedule(talk_id: int) -> Any:
    talk = talk_to_change(talk_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not talk.chat_speaker_emails:
        flash("Give the speaker's email first.", "error")
        return to_section(talk)
    if not chats.slots_of(db.session, talk.id):
        flash("Add chats first: there is no schedule to send yet.", "error")
        return to_section(talk)
    count = chats.queue_speaker_schedules_for(db.session, talk, now(), updated=talk.chat_schedule_sent_at is not None)
    if not count:
        db.session.rollback()
        flash("The schedule is already on its way.", "error")
        return to_section(get_talk(talk_id))
    log("chat.speaker_schedule", f"talk {talk.slug}", None, {"emails": count})
    jobs.commit_and_dispatch()
    flash(f"The schedule is on its way to {count} speaker{'s' if count != 1 else ''}.")
    return to_section(talk)


# For the door, and the export -------------------------------------------------------------------


@bp.get("/talks/<int:talk_id>/chats/print")
def chats_print(talk_id: int) -> Any:
    talk = get_talk(talk_id)
    by_speaker: dict[str, list[tuple[ChatSlot, list[ChatBooking]]]] = {}
    for slot, people in chats.bookings_by_slot(db.session, talk.id):
        by_speaker.setdefault(slot.speaker_name, []).append((slot, people))
    response = Response(render_template("organize/chats_print.html", talk=talk, tz=zone(talk), by_speaker=by_speaker))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/talks/<int:talk_id>/chats.csv")
def chats_csv(talk_id: int) -> Response:
    talk = get_talk(talk_id)
    response = Response(stream_with_context(export.chat_csv_lines(db.session, talk, zone(talk))), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{talk.slug}-chats.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
