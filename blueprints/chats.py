"""Attendees and chats with the speaker: the booking page, and the chat on the manage page.

The booking page shows live numbers (places left), so it is never cached: not by the talk page
cache (blueprints/cached_pages.py serves /talks/<slug> alone), nor by a browser or a proxy
(`Cache-Control: no-store` on every answer of this blueprint). The talk page only links here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from wtforms import EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

import jobs
from blueprints import limits
from blueprints import rsvp as rsvp_pages
from blueprints.forms import LecternForm
from extensions import db
from models import ChatBooking, ChatRequest, Rsvp, RsvpStatus, Talk
from services import chats, locks, talks
from services.chats import Phase, SlotPlaces
from services.signups import SignupError

bp = Blueprint("chats", __name__)

TOPIC_LABEL = "What would you like to talk about? (optional)"
# Before a draw: the form's fields for the slots wished for, first choice first.
WISH_FIELDS = (("first", "First choice"), ("second", "Second choice (optional)"), ("third", "Third choice (optional)"))
# A slot id as a browser sends it: digits, never more than a database integer holds.
MAX_ID_DIGITS = 18


class ChatForm(LecternForm):
    name = StringField("Name", validators=[DataRequired(message="Please enter your name."), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(message="Please enter your email address."), Length(max=254)])
    affiliation = StringField("Affiliation", validators=[Optional(), Length(max=300)])
    topic = TextAreaField(TOPIC_LABEL, validators=[Optional(), Length(max=2000)])
    # Left empty by people; bots fill every field. Hidden with CSS, skipped by keyboard and autofill.
    website = StringField("Leave this field empty", validators=[Optional()])


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SlotGroup:
    """The slots with one speaker (or with the talk's speakers together), as the pages list them."""

    speaker: str  # whom the chats are with, as a page says it; "" for a talk without speakers
    slots: list[SlotPlaces]


def names(people: list[str]) -> str:
    """'Ada', 'Ada and Grace', 'Ada, Grace and Rosa'."""
    return " and ".join(filter(None, [", ".join(people[:-1]), people[-1]])) if people else ""


def slot_groups(talk: Talk, places: list[SlotPlaces]) -> list[SlotGroup]:
    by_speaker: dict[str, list[SlotPlaces]] = {}
    for place in places:  # in the service's order: by speaker, then time
        by_speaker.setdefault(place.slot.speaker_name, []).append(place)
    return [SlotGroup(speaker or names(talk.speaker_names), slots) for speaker, slots in by_speaker.items()]


def slot_id(value: str) -> int:
    """The slot a form names; 0 (no such slot, which the service refuses) for anything else."""
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS else 0


def chosen_slots(form: Mapping[str, str], *, wishes: bool) -> list[int]:
    """The slots chosen on a form: one (first come), or up to three in order (before a draw, where
    none counts without a first choice)."""
    fields = [name for name, _ in WISH_FIELDS] if wishes else ["slot"]
    if not form.get(fields[0], "").strip():
        return []
    return [slot_id(form.get(name, "")) for name in fields if form.get(name, "").strip()]


def _no_slot_chosen(wishes: bool) -> str:
    return "Please choose your first choice." if wishes else "Please choose a slot."


@bp.after_request
def never_cached(response: Response) -> Response:
    """Live numbers (the booking page) and one person's chat (the manage page's buttons): no cache keeps them."""
    response.headers["Cache-Control"] = "no-store"
    return response


# The booking page -----------------------------------------------------------------------------


def _booking_page(
    talk: Talk,
    form: ChatForm,
    status: int = 200,
    *,
    slot_error: str = "",
    chosen: list[int] | None = None,
    full: bool = False,
) -> Any:
    moment = now()
    places = chats.places(db.session, talk.id)
    tz = ZoneInfo(talk.series.timezone)
    context = {
        "talk": talk,
        "series": talk.series,
        "tz": tz,
        "form": form,
        "groups": slot_groups(talk, places),
        "phase": chats.phase(db.session, talk, moment),
        "closes_at": chats.closes_at(talk),
        "draw_at": chats.draw_at(talk),
        "drawn": chats.has_drawn(db.session, talk),
        "wish_fields": WISH_FIELDS,
        "slot_error": slot_error,
        "chosen": chosen or [],
        # After "This slot is full": the slots a person can still choose, said in words.
        "still_open": [place for place in places if not place.full] if full else None,
        "now": moment,
    }
    if not places:
        return render_template("chats/none.html", **context), 404
    return render_template("chats/book.html", **context), status


@bp.route("/talks/<slug>/chat", methods=["GET", "POST"])
def book(slug: str) -> Any:
    if request.method == "GET":
        talk = talks.talk_by_slug(db.session, slug)
        if talk is None:
            abort(404)
        return _booking_page(talk, ChatForm())
    limits.check_sign_up("chat", slug)
    locks.begin_write(db.session)  # before any read: this unit of work will write
    talk = talks.talk_to_change(db.session, slug)
    if talk is None:
        abort(404)
    form = ChatForm()
    moment = now()
    phase = chats.phase(db.session, talk, moment)
    if phase in (Phase.CLOSED, Phase.DRAWING):
        db.session.rollback()
        return _booking_page(talk, form, 409)
    if form.website.data:
        # A bot filled the field people never see: the same answer as anyone, whatever else it typed.
        db.session.rollback()
        return redirect(url_for("chats.sent", slug=slug), 303)
    wishes = phase is Phase.WISHES
    slot_ids = chosen_slots(request.form, wishes=wishes)
    valid = form.validate_on_submit()
    if not valid or not slot_ids:
        db.session.rollback()
        slot_error = "" if slot_ids else _no_slot_chosen(wishes)
        return _booking_page(talk, form, 400, slot_error=slot_error, chosen=slot_ids)
    try:
        chats.book(
            db.session,
            talk.id,
            name=form.name.data or "",
            email=form.email.data or "",
            slot_ids=slot_ids,
            topic=form.topic.data or "",
            now=moment,
            affiliation=form.affiliation.data or "",
        )
    except SignupError as error:
        db.session.rollback()
        return _refused(talk, form, error, slot_ids)
    jobs.commit_and_dispatch()
    # One answer whether the address was new (a confirmation is on its way) or already signed up
    # (its owner is sent their manage link again, where they book): whoever typed it must not
    # learn which (blueprints/rsvp.py does the same for sign-ups).
    return redirect(url_for("chats.sent", slug=slug), 303)


def _refused(talk: Talk, form: ChatForm, error: SignupError, slot_ids: list[int]) -> Any:
    """The page again, saying what went wrong where it went wrong; what was typed is kept."""
    status = 409 if error.conflict else 400
    if error.field == "slot":
        full = error.conflict  # the one conflict about a slot: it filled up
        message = "Please choose another slot." if full else str(error)
        chosen = [] if full else slot_ids
        return _booking_page(talk, form, status, slot_error=message, chosen=chosen, full=full)
    target = getattr(form, error.field, None) if error.field else None
    if target is not None and error.field != "website":
        target.errors = [*target.errors, str(error)]
    else:
        form.form_errors.append(str(error))
    return _booking_page(talk, form, status, chosen=slot_ids)


@bp.get("/talks/<slug>/chat/sent")
def sent(slug: str) -> Any:
    talk = talks.talk_by_slug(db.session, slug)
    if talk is None:
        abort(404)
    return render_template("chats/check_email.html", talk=talk, series=talk.series)


@bp.errorhandler(429)
def too_many_submissions(error: Exception) -> Any:
    return rsvp_pages.too_many_submissions(error)


# The chat on the manage page ------------------------------------------------------------------


@dataclass(frozen=True)
class ChatSection:
    """What the manage page shows of a sign-up's chat (templates/chats/_manage.html)."""

    phase: Phase
    groups: list[SlotGroup]
    booking: ChatBooking | None
    wishes: list[ChatRequest]
    not_drawn: bool  # the draw was made and gave this person no chat
    closes_at: datetime
    draw_at: datetime | None
    started: bool  # their chat has started: it can no longer change
    wish_fields: tuple[tuple[str, str], ...] = WISH_FIELDS
    topic_label: str = TOPIC_LABEL

    @property
    def can_book(self) -> bool:
        return self.phase is Phase.FIRST_COME and any(not place.full for group in self.groups for place in group.slots)

    def speaker_of(self, slot_id: int) -> str:
        """Whom the chat in this slot is with."""
        return next((group.speaker for group in self.groups for p in group.slots if p.slot.id == slot_id), "")


def manage_section(rsvp: Rsvp, moment: datetime) -> ChatSection | None:
    """The chat part of a sign-up's manage page; None when the talk has no chats or the sign-up is cancelled."""
    if rsvp.status == RsvpStatus.CANCELLED:
        return None
    talk = rsvp.talk
    places = chats.places(db.session, talk.id)
    if not places:
        return None
    booking = chats.booking_of(db.session, rsvp.id)
    record = chats.draw_of(db.session, talk.id)
    unplaced = {int(person) for person in record.result.get("unplaced", [])} if record else set()
    return ChatSection(
        phase=chats.phase(db.session, talk, moment),
        groups=slot_groups(talk, places),
        booking=booking,
        wishes=chats.wishes_of(db.session, rsvp.id) if booking is None else [],
        not_drawn=booking is None and rsvp.id in unplaced,
        closes_at=chats.closes_at(talk),
        draw_at=chats.draw_at(talk),
        started=booking is not None and moment >= booking.slot.starts_at,
    )


def _act(token: str, change: Callable[[Rsvp], str]) -> Any:
    """A chat button on the manage page: CSRF checked and the write lock taken first (as the page's
    other buttons, blueprints/rsvp.py), then the change; a refusal is said on the page."""
    rsvp = rsvp_pages._owned(token)
    try:
        message = change(rsvp)
    except SignupError as error:
        db.session.rollback()
        flash(str(error), "error")
        return rsvp_pages._manage_page(token, rsvp_pages._rsvp_from_token(token), 409 if error.conflict else 400)
    jobs.commit_and_dispatch()
    flash(message)
    return redirect(url_for("rsvp.manage", token=token))


@bp.post("/rsvp/<token>/chat")
def choose(token: str) -> Any:
    """Book a slot from the manage page, or move the booking there."""

    def change(rsvp: Rsvp) -> str:
        if not request.form.get("slot", "").strip():
            raise SignupError(_no_slot_chosen(wishes=False), "slot")
        had = chats.booking_of(db.session, rsvp.id)
        was_in = had.slot_id if had is not None else None  # the booking itself moves
        topic = request.form.get("topic")  # the first booking's form asks for it; a move leaves it
        booking = chats.choose_slot(db.session, rsvp.id, slot_id(request.form["slot"]), now(), topic=topic)
        if was_in is None:
            return "Your chat is booked. A confirmation is on its way by email."
        if was_in == booking.slot_id:
            return "Your chat is unchanged."
        return "Your chat is moved. A new invitation is on its way by email."

    return _act(token, change)


@bp.post("/rsvp/<token>/chat/wishes")
def wishes(token: str) -> Any:
    """Before a draw: the slots wished for, first choice first."""

    def change(rsvp: Rsvp) -> str:
        slot_ids = chosen_slots(request.form, wishes=True)
        if not slot_ids:
            raise SignupError(_no_slot_chosen(wishes=True), "slot")
        had = chats.wishes_of(db.session, rsvp.id)
        chats.set_wishes(db.session, rsvp.id, slot_ids, now(), topic=request.form.get("topic"))
        return "Your choices are saved." if had else "You are in the draw. We email you its result."

    return _act(token, change)


@bp.post("/rsvp/<token>/chat/withdraw")
def withdraw(token: str) -> Any:
    def change(rsvp: Rsvp) -> str:
        chats.withdraw_wishes(db.session, rsvp.id, now())
        return "You are no longer in the draw."

    return _act(token, change)


@bp.post("/rsvp/<token>/chat/topic")
def topic(token: str) -> Any:
    def change(rsvp: Rsvp) -> str:
        text = request.form.get("topic", "")
        if len(text) > 2000:
            raise SignupError("Please keep the topic under 2000 characters.", "topic")
        chats.set_topic(db.session, rsvp.id, text, now())
        return "Your topic is saved."

    return _act(token, change)


@bp.post("/rsvp/<token>/chat/cancel")
def cancel(token: str) -> Any:
    def change(rsvp: Rsvp) -> str:
        if not chats.cancel_booking(db.session, rsvp.id, now()):
            return "You had no chat booked."
        return "Your chat is cancelled. Your sign-up for the talk stays."

    return _act(token, change)
