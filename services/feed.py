"""The Atom feed of upcoming talks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from feedgen.feed import FeedGenerator

from models import Series, Talk, TalkStatus
from services import timefmt


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
    feed.title(f"{series.name}: upcoming talks")
    feed.link(href=site_url, rel="alternate")
    feed.link(href=feed_url, rel="self")
    feed.updated(updated)
    feed.author({"name": series.name, "email": series.contact_email} if series.contact_email else {"name": series.name})
    for talk in talks:
        entry = feed.add_entry(order="append")
        url = url_for_talk(talk)
        entry.id(url)
        prefix = "Cancelled: " if talk.status == TalkStatus.CANCELLED else ""
        speakers = ", ".join(talk.speaker_names)
        entry.title(f"{prefix}{talk.title}" + (f" ({speakers})" if speakers else ""))
        entry.link(href=url)
        entry.updated(talk.updated_at)
        entry.published(talk.created_at)
        summary = [timefmt.when(talk.starts_at, talk.ends_at, tz)]
        if talk.room:
            summary.append(talk.room.name)
        if talk.online_platform:
            summary.append(f"online on {talk.online_platform}")
        entry.summary(" · ".join(summary))
    return feed.atom_str(pretty=True)
