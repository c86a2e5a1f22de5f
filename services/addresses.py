"""Email addresses in the one form Lectern keeps, counts and sends to.

Every address typed into Lectern (a sign-up, a walk-in, an organizer, the series' contact
address) goes through `deliverable` before it is stored. Its result is ASCII (an
internationalised domain in its xn-- form, which every mail server takes) and lower-cased, so
that look-alikes typed differently (a full-width letter, an ideographic full stop) are one
address for the one-sign-up rule and for the rate limits, and so that nothing is accepted
that the mail server would refuse later.
"""

from __future__ import annotations

import functools

from email_validator import EmailNotValidError, validate_email


class AddressError(ValueError):
    """Not an address Lectern can send to; the message says why, for the person who typed it."""


@functools.lru_cache(maxsize=1024)
def deliverable(text: str) -> str:
    """The address as Lectern keeps it, or AddressError. Syntax only: no DNS lookup.

    Remembered for the last addresses seen (a sign-up asks twice: for the per-address limit,
    then for the sign-up itself); an address refused is checked again each time.
    """
    try:
        # Local parts outside ASCII need SMTPUTF8, which many mail servers still refuse.
        checked = validate_email((text or "").strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise AddressError(str(error)) from None
    address = checked.ascii_email
    if not address:  # only without allow_smtputf8=False; kept as a guard
        raise AddressError("The part before the @ must be plain letters, digits and punctuation.")
    return address.lower()


def as_key(text: str) -> str:
    """What limits and look-ups compare: the kept address, or the typed text folded when it is none."""
    try:
        return deliverable(text)
    except AddressError:
        return " ".join((text or "").split()).lower()


def ascii_domain(text: str) -> str:
    """A domain as addresses at it are kept (xn-- form, lower case), or AddressError."""
    return deliverable(f"postmaster@{text.strip().lstrip('@.')}").rsplit("@", 1)[1]
