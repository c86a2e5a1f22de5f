"""A talk's announcement email: previewed ready to copy, and sent to the series' mailing lists."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, url_for

import jobs
import links
from blueprints.organize import bp, get_talk, log, now, talk_to_change
from blueprints.organize_forms import AnnounceForm
from blueprints.public import site_domain
from extensions import db
from models import Talk
from services import announcement


def chat_booking_link(talk: Talk) -> str:
    """Where attendees book a chat with the speaker (blueprints/chats.py)."""
    return links.link_for("chats.book", slug=talk.slug)


def announcement_links(talk: Talk) -> announcement.Links:
    return announcement.Links(
        talk_url=links.link_for("public.talk_page", slug=talk.slug),
        signup_url=links.link_for("rsvp.rsvp_form", slug=talk.slug),
        calendar_url=links.link_for("public.talk_calendar", slug=talk.slug),
        chat_url=chat_booking_link(talk),
    )


def _page(talk: Talk, form: AnnounceForm, error: str = "", status: int = 200) -> Any:
    moment = now()
    built, problem = None, None
    try:
        built = announcement.build(db.session, talk, announcement_links(talk), moment)
    except announcement.TemplateProblem as found:
        problem = found
    return render_template(
        "organize/announcement.html",
        talk=talk,
        announcement=built,
        problem=problem,
        lists=announcement.lists_of(talk.series),
        last=announcement.last_sent(db.session, talk),
        blocked=announcement.why_not_send(talk, moment),
        form=form,
        error=error,
        tz=ZoneInfo(talk.series.timezone),
    ), status


@bp.get("/talks/<int:talk_id>/announcement")
def announcement_preview(talk_id: int) -> Any:
    return _page(get_talk(talk_id), AnnounceForm())


@bp.post("/talks/<int:talk_id>/announcement")
def send_announcement(talk_id: int) -> Any:
    talk = talk_to_change(talk_id)
    form = AnnounceForm()
    if not form.validate_on_submit():
        abort(400)
    moment = now()
    before = {"announced_at": talk.announced_at.isoformat()} if talk.announced_at else None
    try:
        built = announcement.build(db.session, talk, announcement_links(talk), moment)
        lists = announcement.send(
            db.session,
            talk,
            built,
            lists=announcement.lists_of(talk.series),
            domain=site_domain(),
            now=moment,
            again=form.send_again.data,
        )
    except announcement.AlreadySent as error:
        db.session.rollback()
        return _page(talk, form, str(error), 409)
    except announcement.AnnouncementError as error:
        db.session.rollback()
        return _page(talk, form, str(error), 400)
    after = {"announced_at": moment.isoformat(), "lists": lists, "subject": built.subject}
    log(announcement.AUDIT_ACTION, f"talk {talk.slug}", before, after)
    jobs.commit_and_dispatch()
    flash(f"The announcement is on its way to {', '.join(lists)}.")
    return redirect(url_for("organize.announcement_preview", talk_id=talk.id))
