"""What every visitor sees: the home page, talk pages, semester schedules, calendars, the feed.

None of these pages reads or writes the session, so no cookie is set and proxies may cache them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for

import links
from blueprints.cached_pages import talk_key
from extensions import db
from models import Series, Talk
from services import chats, feed, ics, meetings, richtext, signups, talks, timefmt
from services.pagecache import PageCache

bp = Blueprint("public", __name__)


def now() -> datetime:
    return datetime.now(UTC)


def series() -> Series:
    found = talks.configured_series(db.session, current_app.config)
    if found in db.session.new:
        db.session.commit()  # the first visit to a fresh installation creates the series
    return found


def site_domain() -> str:
    return links.domain(current_app.config["SITE_URL"])


def talk_url(talk: Talk) -> str:
    """The talk page's address, as emails give it (links.py: from SITE_URL, never the Host header)."""
    return links.link_for("public.talk_page", slug=talk.slug)


def google_calendar_link(talk: Talk, tz: ZoneInfo) -> str:
    return ics.google_calendar_link(talk, tz, talk_url(talk))


def safe_url(url: str | None) -> str:
    """An address fit for an href: web and mail links only (imported posts may hold anything)."""
    return url if url and urlsplit(url).scheme.lower() in ("http", "https", "mailto") else ""


@bp.app_context_processor
def helpers() -> dict[str, object]:
    return {
        "timefmt": timefmt,
        "markdown": richtext.render,
        "shift_headings": richtext.shift_headings,
        "safe_url": safe_url,
    }


@bp.get("/")
def index() -> str:
    the_series = series()
    tz = ZoneInfo(the_series.timezone)
    moment = now()
    upcoming = talks.upcoming_talks(db.session, moment, limit=12)
    current = talks.current_schedule(talks.all_schedules(db.session, tz), moment.astimezone(tz).date())
    return render_template(
        "index.html",
        series=the_series,
        tz=tz,
        next_talk=talks.next_talk(upcoming),
        upcoming=upcoming,
        current=current,
        now=moment,
    )


@bp.get("/talks/<slug>")
def talk_page(slug: str) -> Response:
    cache: PageCache = current_app.extensions["lectern.page_cache"]
    moment = now()
    page = cache.lookup(talk_key(slug), moment)
    if page is None:
        version = cache.version.current()  # read before the data, so a concurrent change is not missed
        talk = talks.talk_by_slug(db.session, slug)
        if talk is None:
            abort(404)
        the_series = talk.series
        tz = ZoneInfo(the_series.timezone)
        chat = chats.summary(db.session, talk)
        body = render_template(
            "talk.html",
            talk=talk,
            series=the_series,
            tz=tz,
            past=talk.ends_at <= moment,
            signup_open=signups.signups_open(talk, moment),
            google_calendar=google_calendar_link(talk, tz),
            # Whether it has chats and how they are given out; never the places left (live numbers).
            chat=chat,
            chat_open=chats.is_open(talk, moment),
            # "Live now" without any link; a pasted link only when the organizers made it public.
            live=meetings.is_live(db.session, talk),
            public_link=meetings.public_link(db.session, talk),
        )
        # The page changes when sign-up closes, when chat sign-up closes (the link to book a chat
        # goes) and when the talk ends (it then shows itself as past).
        changes = (talk.signup_deadline, talk.ends_at, *([chat.closes_at] if chat else []))
        valid_until = next((t for t in sorted(changes) if t > moment), None)
        page = cache.store(talk_key(slug), body.encode(), version, valid_until)
    response = Response(page.body, mimetype="text/html")
    response.set_etag(page.etag)
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["PUBLIC_PAGE_MAX_AGE"]
    return response.make_conditional(request)


@bp.get("/talks/<slug>.ics")
def talk_calendar(slug: str) -> Response:
    talk = talks.talk_by_slug(db.session, slug)
    if talk is None:
        abort(404)
    body = ics.public_calendar(talk.series, [talk], domain=site_domain(), url_for_talk=talk_url, stamp=now())
    return _calendar_response(body, f"{talk.slug}.ics")


@bp.get("/calendar.ics")
def series_calendar() -> Response:
    body = ics.public_calendar(
        series(), talks.all_public_talks(db.session), domain=site_domain(), url_for_talk=talk_url, stamp=now()
    )
    return _calendar_response(body, "calendar.ics")


def _calendar_response(body: bytes, filename: str) -> Response:
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["PUBLIC_PAGE_MAX_AGE"]
    return response


@bp.get("/feed.atom")
def atom_feed() -> Response:
    the_series = series()
    upcoming = talks.upcoming_talks(db.session, now())
    updated = max((talk.updated_at for talk in upcoming), default=the_series.updated_at)
    body = feed.upcoming_feed(
        the_series,
        upcoming,
        site_url=links.link_for("public.index"),
        feed_url=links.link_for("public.atom_feed"),
        url_for_talk=talk_url,
        updated=updated,
    )
    response = Response(body, mimetype="application/atom+xml")
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["PUBLIC_PAGE_MAX_AGE"]
    return response


@bp.get("/talks")
def talk_list() -> Response:
    return redirect(url_for("public.semester_list"))


@bp.get("/semesters")
def semester_list() -> str:
    the_series = series()
    tz = ZoneInfo(the_series.timezone)
    schedules = talks.all_schedules(db.session, tz)
    current = talks.current_schedule(schedules, now().astimezone(tz).date())
    return render_template("semesters.html", series=the_series, schedules=schedules, current=current, tz=tz)


@bp.get("/semesters/<slug>")
def semester_page(slug: str) -> str:
    the_series = series()
    tz = ZoneInfo(the_series.timezone)
    semester = talks.semester_by_slug(db.session, slug)
    if semester is None:
        abort(404)
    schedule = talks.semester_schedule(db.session, semester, tz)
    return render_template("semester.html", series=the_series, schedule=schedule, tz=tz, now=now())
