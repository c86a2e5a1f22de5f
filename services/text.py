"""Text that must stay on one line: names and titles as they reach calendars, feeds and email headers."""

from __future__ import annotations

import re

# Control characters that are not whitespace (C0 without tab and line breaks, DEL, C1 without NEL):
# nothing a person types on purpose, and XML, calendars and mail headers refuse or mangle them.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def one_line(text: str | None) -> str:
    """The text as one line: every run of whitespace (line breaks of any kind, tabs) becomes one
    space, the ends are trimmed, and control characters are dropped.

    A line break in a title or a name would be a header injection in an email, and breaks the
    calendar files and the feed, which give each such value one line.
    """
    return " ".join(_CONTROL.sub("", text or "").split())


def one_line_each(text: str | None) -> str:
    """Text made of one item a line (speakers): each line kept to one line, empty lines dropped.

    Lines are split on every kind of line break, so a lone carriage return or a Unicode line
    separator inside an item cannot hide a second line in it.
    """
    lines = (one_line(line) for line in (text or "").splitlines())
    return "\n".join(line for line in lines if line)


def list_items(text: str | None) -> list[str]:
    """The items of a list typed as text: separated by commas, spaces or line breaks (email domains)."""
    return [item for item in re.split(r"[\s,]+", text or "") if item]
