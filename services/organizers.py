"""Who may organize: an allow-list kept by Lectern, bound to provider identities."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.identity import Identity
from models import Organizer
from services import addresses


class OrganizerError(ValueError):
    """A change to the allow-list that cannot be made; the message says why."""


@dataclass(frozen=True)
class Refusal:
    reason: str


def normalise_email(email: str) -> str:
    """Syntax only (no DNS): a typo is caught, a real address is never looked up."""
    try:
        return addresses.deliverable(email)
    except addresses.AddressError as error:
        raise OrganizerError(f"{email!r} is not an email address: {error}") from None


def add(session: Session, email: str, *, invited_by: str = "") -> Organizer:
    address = normalise_email(email)
    if session.scalars(select(Organizer).where(Organizer.email == address)).first():
        raise OrganizerError(f"{address} is already an organizer.")
    organizer = Organizer(email=address, invited_by=invited_by)
    session.add(organizer)
    session.flush()
    return organizer


def remove(session: Session, who: str | Organizer, *, by: Organizer | None = None) -> Organizer:
    """Take someone off the list (an organizer's row, or an address typed at the command line);
    their sessions end with the row. An organizer removing someone (`by`) cannot remove
    themself: another organizer does it."""
    if by is not None and isinstance(who, Organizer) and who.id == by.id:
        raise OrganizerError("You cannot remove yourself; ask another organizer.")
    if isinstance(who, Organizer):
        organizer: Organizer | None = who
    else:
        address = addresses.as_key(who)
        organizer = session.scalars(select(Organizer).where(Organizer.email == address)).first()
        if organizer is None:
            raise OrganizerError(f"{address} is not an organizer.")
    session.delete(organizer)
    session.flush()
    return organizer


def end_sessions(organizer: Organizer) -> None:
    """End every login session of this organizer, on every device (each carries the old key)."""
    organizer.session_key = secrets.token_hex(16)


def all_organizers(session: Session) -> list[Organizer]:
    return list(session.scalars(select(Organizer).order_by(Organizer.email)))


def by_id(session: Session, organizer_id: int | None) -> Organizer | None:
    return session.get(Organizer, organizer_id) if organizer_id else None


def admit(session: Session, identity: Identity, *, trust_emails: bool, now: datetime) -> Organizer | Refusal:
    """The organizer this identity is, binding an allow-listed email at its first login."""
    bound = session.scalars(
        select(Organizer).where(Organizer.issuer == identity.issuer, Organizer.subject == identity.subject)
    ).first()
    if bound is not None:
        bound.last_login_at = now
        _ensure_session_key(bound)
        return bound
    if not identity.email:
        return Refusal("Your login did not share an email address, so Lectern cannot tell whether you organize.")
    listed = session.scalars(select(Organizer).where(Organizer.email == addresses.as_key(identity.email))).first()
    if listed is None:
        return Refusal(f"{identity.email} is not on this series' list of organizers. Ask an organizer to invite you.")
    if listed.subject is not None:
        return Refusal(
            f"{identity.email} is already bound to another account. To move it to this one, an organizer "
            "removes the address from the list and adds it again."
        )
    if not (identity.email_verified or trust_emails):
        return Refusal(
            f"Your login service does not confirm that {identity.email} is yours, so Lectern cannot let you in."
        )
    listed.issuer, listed.subject = identity.issuer, identity.subject
    listed.name = identity.name or listed.name
    listed.last_login_at = now
    _ensure_session_key(listed)
    return listed


def _ensure_session_key(organizer: Organizer) -> None:
    """A row written without one (by hand, or by SQL) gets a key before its first session."""
    if not organizer.session_key:
        end_sessions(organizer)
