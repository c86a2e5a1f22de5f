"""What every visitor sees: the home page, talk pages, semester schedules, calendars, the feed.

None of these pages reads or writes the session, so no cookie is set and proxies may cache them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for

import links
from blueprints.cached_pages import SHARED_UNTIL, talk_key
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


def next_midnight(moment: datetime, tz: ZoneInfo) -> datetime:
    """The start of the series' next day: when "today" (the current semester) may change."""
    tomorrow = moment.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(), tzinfo=tz).astimezone(UTC)


def shared(body: str | bytes, mimetype: str, moment: datetime, valid_until: datetime | None) -> Response:
    """A page everyone gets alike, as it stands at `moment` and until `valid_until` (None: until
    the content changes).

    Proxies and browsers may keep it PUBLIC_PAGE_MAX_AGE seconds, or until `valid_until` when
    that comes sooner; each worker keeps it in memory until the content or `valid_until` changes
    it (blueprints/cached_pages.py).
    """
    response = Response(body, mimetype=mimetype)
    response.cache_control.public = True
    response.cache_control.max_age = max_age(moment, valid_until)
    request.environ[SHARED_UNTIL] = valid_until
    return response


def max_age(moment: datetime, valid_until: datetime | None) -> int:
    """How long proxies and browsers may keep a public page: PUBLIC_PAGE_MAX_AGE seconds, or
    until `valid_until` when that comes sooner."""
    longest = int(current_app.config["PUBLIC_PAGE_MAX_AGE"])
    if valid_until is None:
        return longest
    return max(0, min(longest, math.ceil((valid_until - moment).total_seconds())))


def first_end(talks_shown: list[Talk], moment: datetime) -> datetime | None:
    """When the first of these talks ends, and so leaves a list of talks that have not ended."""
    return min((talk.ends_at for talk in talks_shown if talk.ends_at > moment), default=None)


@bp.app_context_processor
def helpers() -> dict[str, object]:
    return {
        "timefmt": timefmt,
        "markdown": richtext.render,
        "shift_headings": richtext.shift_headings,
        "safe_url": safe_url,
    }


@bp.get("/")
def index() -> Response:
    the_series = series()
    tz = ZoneInfo(the_series.timezone)
    moment = now()
    upcoming = talks.upcoming_talks(db.session, moment, limit=12)
    current = talks.current_schedule(talks.all_schedules(db.session, tz), moment.astimezone(tz).date())
    body = render_template(
        "index.html",
        series=the_series,
        tz=tz,
        next_talk=talks.next_talk(upcoming),
        upcoming=upcoming,
        current=current,
        now=moment,
    )
    # The page changes when a talk shown ends (the next one moves up) and when the day changes.
    ends = first_end(upcoming, moment)
    midnight = next_midnight(moment, tz)
    return shared(body, "text/html", moment, min(ends, midnight) if ends else midnight)


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
    response.cache_control.max_age = max_age(moment, page.valid_until)  # not kept past a change
    return response.make_conditional(request)


@bp.get("/talks/<slug>.ics")
def talk_calendar(slug: str) -> Response:
    talk = talks.talk_by_slug(db.session, slug)
    if talk is None:
        abort(404)
    moment = now()
    body = ics.public_calendar(talk.series, [talk], domain=site_domain(), url_for_talk=talk_url, stamp=moment)
    return _calendar_response(body, f"{talk.slug}.ics", moment)


@bp.get("/calendar.ics")
def series_calendar() -> Response:
    moment = now()
    body = ics.public_calendar(
        series(), talks.all_public_talks(db.session), domain=site_domain(), url_for_talk=talk_url, stamp=moment
    )
    return _calendar_response(body, "calendar.ics", moment)


def _calendar_response(body: bytes, filename: str, moment: datetime) -> Response:
    """Every talk, past or not: a calendar file changes with the content only (its DTSTAMP says
    when it was written)."""
    response = shared(body, "text/calendar", moment, None)
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@bp.get("/feed.atom")
def atom_feed() -> Response:
    the_series = series()
    moment = now()
    upcoming = talks.upcoming_talks(db.session, moment)
    updated = max((talk.updated_at for talk in upcoming), default=the_series.updated_at)
    body = feed.upcoming_feed(
        the_series,
        upcoming,
        site_url=links.link_for("public.index"),
        feed_url=links.link_for("public.atom_feed"),
        url_for_talk=talk_url,
        updated=updated,
    )
    # Talks that have not ended: the feed changes when the first of them ends.
    return shared(body, "application/atom+xml", moment, first_end(upcoming, moment))


@bp.get("/talks")
def talk_list() -> Response:
    return redirect(url_for("public.semester_list"))


@bp.get("/semesters")
def semester_list() -> Response:
    the_series = series()
    tz = ZoneInfo(the_series.timezone)
    moment = now()
    schedules = talks.all_schedules(db.session, tz)
    current = talks.current_schedule(schedules, moment.astimezone(tz).date())
    body = render_template("semesters.html", series=the_series, schedules=schedules, current=current, tz=tz)
    # "Current" marks the semester running today: it may move at midnight.
    return shared(body, "text/html", moment, next_midnight(moment, tz))


@bp.get("/semesters/<slug>")
def semester_page(slug: str) -> Response:
    the_series = series()
    tz = ZoneInfo(the_series.timezone)
    semester = talks.semester_by_slug(db.session, slug)
    if semester is None:
        abort(404)
    schedule = talks.semester_schedule(db.session, semester, tz)
    # A semester's schedule shows its talks and entries alike, past or not: it changes with the content only.
    body = render_template("semester.html", series=the_series, schedule=schedule, tz=tz)
    return shared(body, "text/html", now(), None)
