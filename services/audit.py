"""The audit log: every organizer change, with the values before and after."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEntry, Room, Series, Talk


def _plain(value: Any) -> Any:
    """JSON-friendly values: instants as ISO strings, enums as their values."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def talk_snapshot(talk: Talk) -> dict[str, Any]:
    return _plain(
        {
            "slug": talk.slug,
            "title": talk.title,
            "status": talk.status,
            "published": talk.published,
            "starts_at": talk.starts_at,
            "ends_at": talk.ends_at,
            "room": talk.room.name if talk.room else None,
            "online_platform": talk.online_platform,
            "semester": talk.semester.slug if talk.semester else None,
            "intro_md": talk.intro_md,
            "paper_url": talk.paper_url,
            "slides_url": talk.slides_url,
            "recording_url": talk.recording_url,
            "room_capacity": talk.room_capacity,
            "online_limit": talk.online_limit,
            "rsvp_open": talk.rsvp_open,
            "rsvp_closes_at": talk.rsvp_closes_at,
            "parts": [
                {
                    "title": part.title,
                    "speakers": [{"name": s.name, "affiliation": s.affiliation, "url": s.url} for s in part.speakers],
                    "abstract_md": part.abstract_md,
                    "bio_md": part.bio_md,
                }
                for part in talk.parts
            ],
        }
    )


def room_snapshot(room: Room) -> dict[str, Any]:
    return {"name": room.name, "capacity": room.capacity, "directions": room.directions}


def series_snapshot(series: Series) -> dict[str, Any]:
    return {
        "name": series.name,
        "timezone": series.timezone,
        "default_minutes": series.default_minutes,
        "default_room": series.default_room.name if series.default_room else None,
        "contact_email": series.contact_email,
        "description": series.description,
        "rsvp_domains": series.rsvp_domains,
        "announce_lists": series.announce_lists,
        "announce_template": series.announce_template,
    }


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    now: datetime,
) -> AuditEntry | None:
    """Add an entry to the log, unless nothing changed."""
    if before is not None and after is not None and before == after:
        return None
    entry = AuditEntry(at=now, actor=actor, action=action, target=target, before=before, after=after)
    session.add(entry)
    return entry


def recent(session: Session, limit: int = 200) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)))


def changed_fields(entry: AuditEntry) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for each field that differs, for the log page."""
    before, after = entry.before or {}, entry.after or {}
    return [
        (key, before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]
