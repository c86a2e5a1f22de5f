"""Importing: an organizer uploads one of the group's Jekyll posts."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from werkzeug.utils import secure_filename

import jobs
from blueprints.organize import bp, log, now, series
from blueprints.organize_forms import ImportForm
from extensions import db
from services import audit
from services.importer import import_upload


@bp.route("/import", methods=["GET", "POST"])
def import_post() -> Any:
    form = ImportForm()
    if request.method == "GET":
        return render_template("organize/import.html", form=form)
    if not form.validate_on_submit():
        return render_template("organize/import.html", form=form), 400
    upload = form.post.data
    name = secure_filename(upload.filename or "post.md") or "post.md"
    report, talk = import_upload(
        db.session, series(), upload.read(), name, site_url=form.site_url.data or None, now=now()
    )
    if talk is not None:
        log(f"talk.{report.outcome}", f"talk {talk.slug}", report.before, audit.talk_snapshot(talk))
    jobs.commit_and_dispatch()
    status = 400 if report.outcome == "failed" else 200
    return render_template("organize/import.html", form=ImportForm(formdata=None), report=report), status
