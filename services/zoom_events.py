"""What Zoom's webhook events change in Lectern, once the route has checked them (blueprints/webhooks.py).

Each event is handled in one unit of work together with its receipt: the receipt's signature is
unique, so the same request sent twice (a replay) is refused by the database, and nothing of it
is done twice. Zoom sends an event again, newly signed, when it is not answered fast enough: the
handlers are idempotent, so doing it again changes nothing.

- `meeting.started`: the meeting is live (the manage pages show "Live now" with the join button,
  the talk page a "Live now" mark without any link);
- `meeting.ended`: it no longer is;
- `meeting.deleted`: someone deleted it in Zoom; organizers see it gone and can make another;
- `recording.completed`: its share link is offered to organizers, who may publish it.

An event about a meeting Lectern does not know, or one Lectern does not follow, changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from adapters.zoom_webhooks import MAX_AGE, WebhookEvent
from models import Meeting, WebhookReceipt
from services import meetings

# Longer than Zoom's signatures stay fresh (adapters/zoom_webhooks.MAX_AGE): an older one is refused
# for its timestamp already, so its receipt is no longer needed to refuse it.
KEEP_RECEIPTS = timedelta(seconds=2 * MAX_AGE)
FOLLOWED = ("meeting.started", "meeting.ended", "meeting.deleted", "recording.completed")


def record_receipt(session: Session, signature: str, event: str, now: datetime) -> None:
    """Note the request as handled, in the unit of work that handles it; forget receipts too old to matter.

    The caller turns the database's refusal of a second receipt (IntegrityError) into a refusal
    of the request."""
    session.execute(delete(WebhookReceipt).where(WebhookReceipt.received_at < now - KEEP_RECEIPTS))
    session.add(WebhookReceipt(signature=signature[:100], event=event[:60], received_at=now))
    session.flush()


def follow(session: Session, event: WebhookEvent, providers: Iterable[str], now: datetime) -> str:
    """Apply the event to the meeting it names (made with one of `providers`). Returns what was done,
    in words for the log (ids only: never a link, never a passcode)."""
    if event.event not in FOLLOWED:
        return "not followed by Lectern: nothing to do"
    meeting = _meeting(session, event.meeting_id, providers)
    if meeting is None:
        return f"meeting {event.meeting_id} is not one of Lectern's: nothing to do"
    if event.event == "meeting.started":
        meetings.started(session, meeting, _moment(event, now))
        return f"meeting {meeting.external_id} is live"
    if event.event == "meeting.ended":
        meetings.ended(session, meeting)
        return f"meeting {meeting.external_id} ended"
    if event.event == "meeting.deleted":
        meetings.gone(session, meeting)
        return f"meeting {meeting.external_id} was deleted in Zoom"
    share_url = _share_url(event)
    if not share_url:
        return f"the recording of meeting {meeting.external_id} has no share link: nothing to do"
    meetings.recording_ready(session, meeting, share_url)
    return f"the recording of meeting {meeting.external_id} is ready"


def _meeting(session: Session, meeting_id: str | None, providers: Iterable[str]) -> Meeting | None:
    if not meeting_id:
        return None
    for provider in providers:
        found = meetings.by_external_id(session, provider, meeting_id)
        if found is not None:
            return found
    return None


def _moment(event: WebhookEvent, now: datetime) -> datetime:
    """When the event happened (event_ts, in milliseconds), or now when Zoom left it out or it is odd."""
    if event.event_ts is None:
        return now
    try:
        moment = datetime.fromtimestamp(event.event_ts / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return now
    return moment if abs(moment - now) < timedelta(days=1) else now


def _share_url(event: WebhookEvent) -> str:
    """payload.object.share_url (Zoom's webhook description: where approved users view the recording)."""
    thing = event.payload.get("object")
    url = thing.get("share_url") if isinstance(thing, dict) else None
    return url.strip() if isinstance(url, str) else ""
