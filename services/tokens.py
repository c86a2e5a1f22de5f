"""Signed links that stand in for accounts: an attendee's manage link, a speaker's chat schedule.

A token carries only ids, a random nonce and (for a speaker) the speaker's public name, never
an attendee's email or name, and is signed with
the site's secret under a purpose of its own, so a token made for anything else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

from models import Rsvp, Talk

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


SPEAKER_PURPOSE = "lectern.chats.speaker"


@dataclass(frozen=True)
class SpeakerClaim:
    talk_id: int
    speaker_name: str  # "" for a talk's one speaker (or its speakers together)
    nonce: str

    def matches(self, talk: Talk) -> bool:
        """Only while the organizers have not revoked the link or made a new one."""
        return talk.id == self.talk_id and bool(talk.chat_link_nonce) and talk.chat_link_nonce == self.nonce


def speaker_token(secret: str, talk: Talk, speaker_name: str) -> str:
    """The speaker's link to their chat schedule: ids, their name on the talk and the talk's nonce."""
    return URLSafeSerializer(secret, salt=SPEAKER_PURPOSE).dumps([talk.id, speaker_name, talk.chat_link_nonce])


def read_speaker_token(secret: str, token: str) -> SpeakerClaim:
    try:
        talk_id, speaker_name, nonce = URLSafeSerializer(secret, salt=SPEAKER_PURPOSE).loads(token)
        return SpeakerClaim(int(talk_id), str(speaker_name), str(nonce))
    except (BadData, ValueError, TypeError) as error:
        raise BadToken(str(error)) from None
