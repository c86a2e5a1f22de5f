"""Signed links that stand in for accounts: an attendee's manage link.

The token carries only ids and a random nonce, never an email or a name, and is signed with
the site's secret under a purpose of its own, so a token made for anything else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

from models import Rsvp

MANAGE_PURPOSE = "lectern.rsvp.manage"


class BadToken(ValueError):
    """The link was altered, cut short, or made for something else."""


@dataclass(frozen=True)
class ManageClaim:
    rsvp_id: int
    talk_id: int
    nonce: str

    def matches(self, rsvp: Rsvp) -> bool:
        return rsvp.id == self.rsvp_id and rsvp.talk_id == self.talk_id and rsvp.token_nonce == self.nonce


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=MANAGE_PURPOSE)


def manage_token(secret: str, rsvp: Rsvp) -> str:
    return _serializer(secret).dumps([rsvp.id, rsvp.talk_id, rsvp.token_nonce])


def read_manage_token(secret: str, token: str) -> ManageClaim:
    try:
        rsvp_id, talk_id, nonce = _serializer(secret).loads(token)
        return ManageClaim(int(rsvp_id), int(talk_id), str(nonce))
    except (BadData, ValueError, TypeError) as error:
        raise BadToken(str(error)) from None
