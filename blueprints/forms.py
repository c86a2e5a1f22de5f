"""What every Lectern form shares: one-line fields are kept to one line.

A series name, a talk title, a room, a person's name: each ends up in places that hold one
line (calendar properties, email subjects and headers, feed titles, the page title), where a
line break either breaks the file or injects a header. So every single-line text field of a
form (a StringField, EmailField, URLField, ...) gets a filter that collapses whitespace runs,
line breaks of every kind included, into one space. Multi-line fields (TextAreaField) keep
their lines. A field added later is covered without anyone having to remember it.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import Form, HiddenField, StringField, TextAreaField

from services.text import one_line


def _is_one_line(field_class: type) -> bool:
    # Hidden fields carry tokens (CSRF) that are passed back untouched.
    return issubclass(field_class, StringField) and not issubclass(field_class, (TextAreaField, HiddenField))


class _OneLineFields:
    """A WTForms Meta mixin: binds each one-line field with the one-line filter after its own."""

    def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Any:
        if _is_one_line(unbound_field.field_class):
            options = {**options, "filters": [*unbound_field.kwargs.get("filters", ()), one_line]}
        return super().bind_field(form, unbound_field, options)  # type: ignore[misc]


class LecternForm(FlaskForm):
    """A form posted by a browser: CSRF-checked (Flask-WTF), one-line fields kept to one line."""

    class Meta(_OneLineFields):
        pass


class LecternSubform(Form):
    """A group of fields repeated inside a LecternForm (FormField), with the same one-line rule."""

    class Meta(_OneLineFields):
        pass
