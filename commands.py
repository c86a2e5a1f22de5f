"""Command-line tools: `flask --app app import-talks`, `export-talks`, `seed-demo`, `organizers`."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

import jobs
from extensions import db
from models import Series
from services import demo, locks, organizers, site_export, talks
from services.importer import Importer, ImportSettings, reports_failed
from services.site_import.detect import HINTS


def the_series() -> Series:
    series = talks.configured_series(db.session, current_app.config)
    db.session.flush()
    return series


@click.command("import-talks")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--schedule", is_flag=True, help="The files are schedule pages or archive posts (oldest first).")
@click.option("--site-url", help="The old site's address, to resolve site-relative images and links.")
@click.option("--dry-run", is_flag=True, help="Read and report, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per talk on standard output.")
@click.option(
    "--format",
    "format_hint",
    type=click.Choice(HINTS),
    default="auto",
    show_default=True,
    help="The site's generator, when the files leave it open (they usually tell it themselves).",
)
@with_appcontext
def import_talks(
    paths: tuple[str, ...], schedule: bool, site_url: str | None, dry_run: bool, as_json: bool, format_hint: str
) -> None:
    """Import talk pages (files or folders, recursively), or schedule pages with --schedule.

    Reads Jekyll posts and collections, Hugo pages and bundles (YAML or TOML front matter) and
    Wowchemy events, each told from the file itself. Each file is reported on standard error:
    imported, updated, unchanged, skipped or failed. The exit status is 1 when any file failed.
    """
    if not dry_run:
        locks.begin_write(db.session)  # sign-ups may be coming in: take the write lock up front
    settings = ImportSettings(site_url=site_url, format_hint=None if format_hint == "auto" else format_hint)
    importer = Importer(db.session, the_series(), settings)
    reports = importer.import_schedules(paths) if schedule else importer.import_posts(paths)
    if dry_run:
        db.session.rollback()
    else:
        jobs.commit_and_dispatch()  # emails owed to attendees of moved talks go to the queue
    for note in importer.notes:
        click.echo(f"note: {note}", err=True)
    for report in reports:
        click.echo(report.line(), err=True)
        for warning in report.warnings:
            click.echo(f"          warning: {warning}", err=True)
    counts: dict[str, int] = {}
    for report in reports:
        counts[report.outcome] = counts.get(report.outcome, 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "no files"
    click.echo(f"{'Dry run, nothing written: ' if dry_run else ''}{summary}.", err=True)
    if as_json:
        if schedule:
            payload = [
                {
                    "source": r.source,
                    "outcome": r.outcome,
                    "reason": r.reason,
                    **(r.schedule or {}),
                    "warnings": r.warnings,
                }
                for r in reports
            ]
        else:
            payload = [r.talk for r in reports if r.talk is not None]
        json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    if reports_failed(reports):
        sys.exit(1)


@click.command("export-talks")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format", "format_name", type=click.Choice(["jekyll"]), default="jekyll", show_default=True, help="Site format."
)
@click.option("--category", default="Reading-Group", show_default=True, help="The posts' category on the site.")
@click.option("--tag", help="The posts' tag (default: the series' name).")
@with_appcontext
def export_talks(folder: Path, format_name: str, category: str, tag: str | None) -> None:
    """Write every talk to FOLDER as a Jekyll site: _posts/YYYY-MM-DD-slug.md, one per talk, in the
    shape the importer reads, and the schedule of each semester in the group's table format.

    Files of the same name in FOLDER are replaced; nothing else there is touched.
    """
    series = the_series()
    report = site_export.export_jekyll(
        db.session, series, folder, site_export.ExportOptions(category=category, tag=tag or series.name)
    )
    db.session.rollback()
    for path in report.posts + report.pages:
        click.echo(f"wrote     {path}", err=True)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"{len(report.posts)} posts and {len(report.pages)} schedule pages in {folder}.", err=True)


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Add the demo talks (or move them to dates around today, when they exist)."""
    created = demo.seed(db.session, the_series(), today=datetime.now(UTC))
    if current_app.config["ENV"] == "development" and not organizers.all_organizers(db.session):
        # Something to log in as with the development login; never added outside development.
        organizers.add(db.session, demo.DEMO_ORGANIZER, invited_by="demo content")
    db.session.commit()
    click.echo(f"Demo content ready ({created} talks added).", err=True)


@click.group("organizers")
def organizers_group() -> None:
    """Who may organize: the allow-list of emails."""


@organizers_group.command("add")
@click.argument("email")
@with_appcontext
def add_organizer(email: str) -> None:
    """Allow EMAIL to organize once its owner logs in."""
    try:
        added = organizers.add(db.session, email, invited_by="command line")
    except organizers.OrganizerError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{added.email} may now organize (after logging in with that email).")


@organizers_group.command("remove")
@click.argument("email")
@with_appcontext
def remove_organizer(email: str) -> None:
    """Take EMAIL off the list; a session already open loses its rights at once."""
    try:
        removed = organizers.remove(db.session, email)
    except organizers.OrganizerError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{removed.email} can no longer organize.")


@organizers_group.command("list")
@with_appcontext
def list_organizers() -> None:
    """Print the allow-list, one organizer a line."""
    for organizer in organizers.all_organizers(db.session):
        state = "has logged in" if organizer.subject else "invited, not yet logged in"
        click.echo(f"{organizer.email}\t{state}")


def register(app: Flask) -> None:
    app.cli.add_command(import_talks)
    app.cli.add_command(export_talks)
    app.cli.add_command(seed_demo)
    app.cli.add_command(organizers_group)
