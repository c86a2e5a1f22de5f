"""Messages Lectern gave up on (a mail server that refused them for days): seen, and tried again."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, url_for

import jobs
from blueprints.organize import bp, log, now, series
from blueprints.organize_forms import ConfirmForm
from extensions import db
from services import outbox


@bp.get("/outbox")
def undelivered() -> str:
    return render_template(
        "organize/outbox.html",
        messages=outbox.given_up(db.session),
        kinds=outbox.KINDS,
        recipient_of=outbox.recipient_of,
        tz=ZoneInfo(series().timezone),
        button=ConfirmForm(),
    )


@bp.post("/outbox/<int:message_id>/try-again")
def try_again(message_id: int) -> Any:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    message = outbox.try_again(db.session, message_id, now())
    if message is None:
        db.session.rollback()
        flash("This message is no longer waiting to be tried again.", "error")
        return redirect(url_for("organize.undelivered"))
    log("outbox.try_again", f"message {message.id}", None, {"kind": message.kind})
    jobs.commit_and_dispatch()
    flash("Trying again now.")
    return redirect(url_for("organize.undelivered"))
