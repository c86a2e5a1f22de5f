"""Importing: an organizer uploads one of the group's posts, or a whole site as a zip.

A site is read twice: first in a dry run, whose report the organizer checks (what would be
added, updated or skipped, and why), then for real when they confirm. Between the two the
uploaded archive is kept in the instance folder under a random name, for an hour at most and
for that organizer only, so that the confirmation imports the very bytes the preview showed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.utils import secure_filename

import jobs
from blueprints.organize import actor, bp, log, now, series
from blueprints.organize_forms import ConfirmForm, ImportForm, SiteImportForm
from extensions import db
from models import Talk
from services import audit, timefmt
from services.importer import FileReport, ImportSettings, SiteImport, import_site_archive, import_upload
from services.site_import.archive import ArchiveRefused, UploadStore
from services.site_import.detect import DIALECT_NAMES

# What a warning's doubt means for the organizer, in the report.
DOUBTS = {
    "start": "check the time",
    "title": "check the title",
    "speakers": "check the speakers",
    "room": "set the room",
}


def uploads() -> UploadStore:
    return UploadStore(Path(current_app.instance_path) / "import-uploads")


def page(status: int = 200, **context: Any) -> Any:
    context.setdefault("form", ImportForm(formdata=None))
    context.setdefault("site_form", SiteImportForm(formdata=None))
    return render_template("organize/import.html", doubts=DOUBTS, **context), status


@bp.route("/import", methods=["GET", "POST"])
def import_post() -> Any:
    form = ImportForm()
    if not form.is_submitted():
        return page(form=form)
    if not form.validate_on_submit():
        return page(400, form=form)
    upload = form.post.data
    name = secure_filename(upload.filename or "post.md") or "post.md"
    report, talk = import_upload(
        db.session, series(), upload.read(), name, site_url=form.site_url.data or None, now=now()
    )
    if talk is not None:
        log(f"talk.{report.outcome}", f"talk {talk.slug}", report.before, audit.talk_snapshot(talk))
    jobs.commit_and_dispatch()
    return page(400 if report.outcome == "failed" else 200, report=report)


@bp.route("/import/site", methods=["POST"])
def import_site() -> Any:
    """Read an uploaded site in a dry run and show what importing it would do."""
    site_form = SiteImportForm()
    if not site_form.validate_on_submit():
        return page(400, site_form=site_form)
    raw = site_form.archive.data.read()
    meta = {
        "owner": actor(),
        "name": secure_filename(site_form.archive.data.filename or "site.zip") or "site.zip",
        "site_url": site_form.old_site.data or None,
        "format": site_form.format.data,
    }
    try:
        preview = _read(raw, meta)
    except ArchiveRefused as refused:
        db.session.rollback()
        site_form.archive.errors = [f"This archive cannot be read: {refused}."]
        return page(400, site_form=site_form)
    db.session.rollback()  # a dry run: nothing read is kept
    token = uploads().keep(raw, meta, now())
    return page(preview=_view(preview), token=token, upload_name=meta["name"], confirm=ConfirmForm(formdata=None))


@bp.route("/import/site/<token>", methods=["POST"])
def confirm_site_import(token: str) -> Any:
    """Import the site the organizer previewed, from the very archive they uploaded."""
    store = uploads()
    kept = store.get(token, actor(), now())
    if kept is None:
        flash("That preview has expired or was already imported: upload the archive again.", "error")
        return redirect(url_for("organize.import_post"))
    try:
        done = _read(kept.raw, kept.meta)
    except ArchiveRefused as refused:  # it was read once already; only a change of limits gets here
        db.session.rollback()
        flash(f"This archive cannot be read: {refused}.", "error")
        return redirect(url_for("organize.import_post"))
    for report in done.talk_reports:
        if report.outcome in ("imported", "updated"):
            talk = db.session.scalars(select(Talk).where(Talk.slug == report.talk["slug"])).one()
            log(f"talk.{report.outcome}", f"talk {talk.slug}", report.before, audit.talk_snapshot(talk))
    jobs.commit_and_dispatch()
    store.discard(token)
    return page(done=_view(done), upload_name=kept.meta.get("name"))


@bp.route("/import/site/<token>/cancel", methods=["POST"])
def cancel_site_import(token: str) -> Any:
    store = uploads()
    if store.get(token, actor(), now()) is not None:
        store.discard(token)
    flash("Nothing was imported.")
    return redirect(url_for("organize.import_post"))


def _read(raw: bytes, meta: dict[str, Any]) -> SiteImport:
    hint = meta.get("format")
    settings = ImportSettings(site_url=meta.get("site_url"), format_hint=None if hint in (None, "auto") else hint)
    return import_site_archive(db.session, series(), raw, settings, now=now())


def _view(result: SiteImport) -> dict[str, Any]:
    """The report as the page shows it: talks with their facts in the series' zone, then the rest."""
    tz = ZoneInfo(series().timezone)
    reports = sorted(result.talk_reports, key=lambda report: report.post.starts_at if report.post else now())
    talks = [_talk_view(report, tz) for report in reports]
    others = [report for report in result.reports if report.talk is None]
    return {
        "talks": talks,
        "skipped": [r for r in others if r.outcome == "skipped"],
        "failed": [r for r in others if r.outcome == "failed"],
        "counts": {outcome: result.count(outcome) for outcome in ("imported", "updated", "unchanged")},
        "flagged": sum(1 for t in talks if t["doubts"]),
        "notes": result.notes,
        "pages": result.pages,
        "other_files": result.other_files,
    }


def _talk_view(report: FileReport, tz: ZoneInfo) -> dict[str, Any]:
    post = report.post
    assert post is not None and report.talk is not None
    return {
        "source": report.source,
        "outcome": report.outcome,
        "reason": report.reason,
        "slug": report.talk["slug"],
        "title": post.title,
        "speakers": [(s.name, s.affiliation) for s in post.speakers],
        "when": timefmt.when(post.starts_at, post.ends_at, tz),
        "time_known": post.time_known,
        "room": post.room,
        "online_platform": post.online_platform,
        "format": DIALECT_NAMES.get(post.dialect, post.dialect),
        "warnings": report.warnings,
        "doubts": [DOUBTS[d] for d in ("start", "title", "speakers", "room") if d in report.doubts],
    }
