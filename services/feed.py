"""The Atom feed of upcoming talks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from feedgen.feed import FeedGenerator

from models import Series, Talk, TalkStatus
from services import timefmt
from services.text import one_line


def upcoming_feed(
    series: Series,
    talks: Iterable[Talk],
    *,
    site_url: str,
    feed_url: str,
    url_for_talk: Callable[[Talk], str],
    updated: datetime,
) -> bytes:
    tz = ZoneInfo(series.timezone)
    feed = FeedGenerator()
    feed.id(feed_url)
    # Titles and names are one line (and free of control characters, which XML refuses) whatever
    # the database holds: an import, or data saved before the forms kept them to one line.
    name = one_line(series.name)
    feed.title(f"{name}: upcoming talks")
    feed.link(href=site_url, rel="alternate")
    feed.link(href=feed_url, rel="self")
    feed.updated(updated)
    feed.author({"name": name, "email": one_line(series.contact_email)} if series.contact_email else {"name": name})
    for talk in talks:
        entry = feed.add_entry(order="append")
        url = url_for_talk(talk)
        entry.id(url)
        prefix = "Cancelled: " if talk.status == TalkStatus.CANCELLED else ""
        speakers = ", ".join(talk.speaker_names)
        entry.title(one_line(f"{prefix}{talk.title}" + (f" ({speakers})" if speakers else "")))
        entry.link(href=url)
        entry.updated(talk.updated_at)
        entry.published(talk.created_at)
        summary = [timefmt.when(talk.starts_at, talk.ends_at, tz)]
        if talk.room:
            summary.append(talk.room.name)
        if talk.online_platform:
            summary.append(f"online on {talk.online_platform}")
        entry.summary(one_line(" · ".join(summary)))
    return feed.atom_str(pretty=True)
