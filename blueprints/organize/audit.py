"""The audit log: who changed what, and when."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import render_template

from blueprints.organize import bp, series
from extensions import db
from services import audit


@bp.get("/audit")
def audit_log() -> str:
    the_series = series()
    return render_template(
        "organize/audit.html",
        entries=audit.recent(db.session),
        changed_fields=audit.changed_fields,
        tz=ZoneInfo(the_series.timezone),
    )
