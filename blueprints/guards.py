"""Refusing control characters at the door, for the whole site.

Nobody types a NUL byte or an escape character into an address or a form; a request that
carries one is bad input. Let through, such a value reaches the database, where PostgreSQL
refuses a NUL in any text ("a string literal cannot contain NUL") and the visitor would get a
500 instead of a page that says what went wrong. So every request is checked once, before
any view (or the database) sees it:

- the path and the query string, percent-decoded: no C0 control character and no DEL;
- form fields and uploaded file names: no C0 control character except tab, carriage return and
  line feed, which multi-line fields (an abstract, a question for the speaker) legitimately hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import Flask, abort, request

# Any C0 control character, or DEL.
IN_ADDRESS = re.compile(r"[\x00-\x1f\x7f]")
# C0 control characters other than tab, line feed and carriage return.
IN_FORM = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

BAD_ADDRESS = (
    "This address contains characters that cannot be part of a web address on this site. "
    "Check the link you followed, or go to the list of talks."
)
BAD_FORM = (
    "The form contains invisible control characters that cannot be saved. "
    "Go back, retype the text (or paste it as plain text) and send it again."
)


def register(app: Flask) -> None:
    app.before_request(refuse_control_characters)


def refuse_control_characters() -> None:
    # request.path and request.args are already percent-decoded, so %00 arrives as a NUL here.
    if IN_ADDRESS.search(request.path) or _any(IN_ADDRESS, _pairs(request.args.items(multi=True))):
        abort(400, description=BAD_ADDRESS)
    if request.method in ("POST", "PUT", "PATCH"):
        files = ((key, file.filename or "") for key, file in request.files.items(multi=True))
        if _any(IN_FORM, _pairs(request.form.items(multi=True))) or _any(IN_FORM, _pairs(files)):
            abort(400, description=BAD_FORM)


def _pairs(items: Iterable[tuple[str, str]]) -> Iterable[str]:
    for key, value in items:
        yield key
        yield value


def _any(pattern: re.Pattern[str], texts: Iterable[str]) -> bool:
    return any(pattern.search(text) for text in texts)
