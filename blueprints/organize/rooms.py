"""Rooms: the series' list of rooms, editing one, removing one."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

import jobs
from blueprints.organize import bp, consequences, log, now, series
from blueprints.organize_forms import ConfirmForm, RoomForm
from extensions import db
from models import Room
from services import audit, signups
from services.talk_editing import EditError, delete_room, save_room


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
                promoted = signups.seat_waiting_lists(db.session, room.id, now())
                log("room.update", f"room {room.name}", before, audit.room_snapshot(room))
                jobs.commit_and_dispatch()
                flash(f"Saved {room.name}." + consequences(promoted, 0))
                return redirect(url_for("organize.rooms"))
            except EditError as error:
                db.session.rollback()
                form.form_errors.append(str(error))
        return render_template("organize/room_form.html", form=form, room=room), 400
    return render_template("organize/room_form.html", form=form, room=room)


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
