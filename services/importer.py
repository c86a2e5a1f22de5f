"""Bringing a group's talk pages (Jekyll posts and collections, Hugo pages, Wowchemy events) and
the group's schedule pages into Lectern.

Reading is `services/site_import/` (which format, and what the file says); this module decides
what that means for the talks already here. Each file is applied in a savepoint of its own: a
broken file is reported and rolled back without touching the others, and no talk is ever left
half-written.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    EntryKind,
    Room,
    ScheduleEntry,
    Semester,
    Series,
    Speaker,
    Talk,
    TalkPart,
    TalkSection,
    TalkStatus,
)
from services import audit, jekyll, talk_changes, talk_editing
from services.site_import import archive as site_archive
from services.site_import import reading
from services.site_import.detect import DIALECT_NAMES, SiteInfo, describe_site
from services.site_import.pages import ReadContext
from services.talk_changes import TalkCause
from services.talk_editing import slugify

log = logging.getLogger(__name__)

# Folders of a Jekyll site that hold no talk posts; named in the report when skipped.
SKIPPED_FOLDERS = {
    "_history": "an older version of a post, kept for history; name the file to import it",
    "_pages": "a site page, not a talk post; schedule pages go through --schedule",
    "_includes": "a template fragment, not a talk post",
    "_layouts": "a template, not a talk post",
    "_site": "the generated site, not a source post",
    "_drafts": "a draft, not published; name the file to import it",
    "_data": "site data, not a talk post",
    "_sass": "style sheets, not a talk post",
    "assets": "site assets, not a talk post",
    "node_modules": "installed packages, not a talk post",
}
# Folders at the top of a Hugo site that hold no content pages.
SKIPPED_SITE_FOLDERS = {
    "archetypes": "a template for new pages, not a talk",
    "layouts": "a template, not a talk",
    "themes": "a theme, not the site's content",
    "static": "static files, not a talk",
    "public": "the generated site, not a source page",
    "resources": "generated files, not a talk",
    "data": "site data, not a talk",
    "i18n": "translations, not a talk",
    "config": "site configuration, not a talk",
}
AUTHOR_PROFILES = "an author profile (read for the speakers' names and affiliations), not a talk"


@dataclass
class FileReport:
    source: str
    outcome: str  # "imported", "updated", "unchanged", "skipped" or "failed"
    reason: str | None = None
    talk: dict[str, Any] | None = None  # for a post: the dry-run contract (see Importer.summary)
    schedule: dict[str, Any] | None = None  # for a schedule page: its semester, linked talks and entries
    before: dict[str, Any] | None = None  # an updated talk as it was, for the audit log
    warnings: list[str] = field(default_factory=list)
    post: jekyll.PostInfo | None = None  # what was read, for previews and measurements
    dialect: str | None = None  # which reader read it ("hugo", "wowchemy-event", ...)
    doubts: set[str] = field(default_factory=set)  # the facts its warnings put in doubt (start, title, ...)

    @property
    def format_name(self) -> str | None:
        return DIALECT_NAMES.get(self.dialect or "")

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    def line(self) -> str:
        text = f"{self.outcome:<9} {self.source}"
        if self.talk:
            text += f" -> /talks/{self.talk['slug']}"
        if self.reason:
            text += f" ({self.reason})"
        return text


@dataclass
class ImportSettings:
    site_url: str | None = None
    talk_path: Callable[[str], str] = lambda slug: f"/talks/{slug}"
    schedule_path: str = "/semesters"
    format_hint: str | None = None  # "jekyll", "hugo" or "wowchemy": settles what a file leaves open


def semester_name(slug: str) -> str:
    """'summer-2024' -> 'Summer 2024'."""
    return " ".join(word.capitalize() for word in slug.split("-"))


def slug_from_key(source_key: str) -> str:
    """'2024-11-1-bang-liu.md' -> '2024-11-01-bang-liu': the post's own name, dates zero-padded."""
    stem = Path(source_key).stem
    match = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})-(.*)$", stem)
    if match:
        year, month, day, rest = match.groups()
        stem = f"{year}-{int(month):02d}-{int(day):02d}-{rest}"
    return slugify(stem)


def collect_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, str | None]]:
    """Every file under the given paths, in a stable order, with a reason when it is skipped unread.

    Files named explicitly are always read; inside folders, the parts of a Jekyll or Hugo
    site that hold no posts are skipped with a reason.
    """
    for path, _site_path, skipped in collect_site_files(paths):
        yield path, skipped


def collect_site_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, str, str | None]]:
    """As collect_files, with each file's path inside the site: relative to the folder given
    (that folder's own name first: "_talks/jane-doe.md"), or a file's last few path parts."""
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            yield path, "/".join(path.parts[-4:]), None
            continue
        for found in sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
            parts = found.relative_to(path).parts
            yield found, "/".join((path.resolve().name or "site", *parts)), _skipped(parts)


def _skipped(parts: tuple[str, ...]) -> str | None:
    folders = parts[:-1]
    skipped = next((SKIPPED_FOLDERS[p] for p in folders if p in SKIPPED_FOLDERS), None)
    if skipped is None and folders and folders[0] in SKIPPED_SITE_FOLDERS:
        skipped = SKIPPED_SITE_FOLDERS[folders[0]]
    if skipped is None and any(a == "content" and b == "authors" for a, b in itertools.pairwise(folders)):
        skipped = AUTHOR_PROFILES
    if skipped is None and folders[:1] == ("authors",) and parts[-1].startswith("_index."):
        skipped = AUTHOR_PROFILES
    if skipped is None and any(p.startswith(".") for p in parts):
        skipped = "a hidden file"
    return skipped


class Importer:
    def __init__(
        self, session: Session, series: Series, settings: ImportSettings | None = None, *, now: datetime | None = None
    ) -> None:
        self.session = session
        self.series = series
        # The moment of the import: seats that free up are given only before a talk starts.
        self.now = now or datetime.now(UTC)
        self.settings = settings or ImportSettings()
        self.tz = ZoneInfo(series.timezone)
        self._batch_keys: set[str] = set()
        # Renames are recognised only when whole folders are imported: only then is a post that
        # is missing from the tree known to be gone (a single file or an upload says nothing).
        self._tree_import = False
        self._claimed_slugs: set[str] = set()
        self.site = SiteInfo()
        # What the import says about the site as a whole (its generator, a time zone of its own).
        self.notes: list[str] = []

    # Posts --------------------------------------------------------------------------------

    def import_posts(self, paths: Iterable[str | Path]) -> list[FileReport]:
        paths = list(paths)
        self._tree_import = any(Path(path).is_dir() for path in paths)
        if paths:
            self.site = describe_site(Path(paths[0]))
            self._note_the_site()
        files = list(collect_site_files(paths))
        keys = reading.assign_keys(site_path for _path, site_path, skipped in files if not skipped)
        self._batch_keys = set(keys.values())
        reports = []
        for path, site_path, skipped in files:
            if skipped:
                reports.append(FileReport(str(path), "skipped", skipped))
                continue
            reports.append(self.import_post_file(path, site_path=site_path, key=keys[site_path]))
        return reports

    def _note_the_site(self) -> None:
        if self.site.generator:
            self.notes.append(f"Read as {self.site.describe()}.")
        if self.site.timezone and not same_clock(self.site.timezone, self.series.timezone):
            self.notes.append(
                f"The site's configuration names the time zone {self.site.timezone}; times written without "
                f"an offset are read in the series' zone, {self.series.timezone}."
            )

    def import_post_file(self, path: Path, *, site_path: str | None = None, key: str | None = None) -> FileReport:
        try:
            raw = read_bounded(path)
        except OSError as error:
            return FileReport(str(path), "failed", f"cannot read the file: {error.strerror or error}")
        except FileTooLarge as error:
            return FileReport(str(path), "failed", str(error))
        return self.import_post_text(raw, str(path), site_path=site_path, key=key)

    def import_post_text(
        self, raw: bytes, source: str, *, site_path: str | None = None, key: str | None = None
    ) -> FileReport:
        if len(raw) > jekyll.MAX_POST_BYTES:
            return FileReport(source, "failed", jekyll.file_too_large(len(raw)))
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            if not source.lower().endswith((".md", ".markdown")):
                return FileReport(source, "skipped", "not a Markdown post")
            return FileReport(source, "failed", "the file is not UTF-8 text")
        site_path = site_path or "/".join(Path(source).parts[-4:])
        context = ReadContext(
            tz=self.tz,
            default_minutes=self.series.default_minutes,
            site_url=self.settings.site_url,
            resolve_link=self._resolve_link,
            known_rooms=self._room_names(),
            site=self.site,
        )
        try:
            post = reading.read_post(
                text,
                source=source,
                site_path=site_path,
                key=key or reading.page_key(site_path),
                hint=self.settings.format_hint,
                ctx=context,
            )
        except jekyll.NotATalk as reason:
            return FileReport(source, "skipped", str(reason))
        except jekyll.PostError as reason:
            return FileReport(source, "failed", str(reason))
        except Exception:  # a file no rule foresaw fails alone; it never stops the import
            log.exception("reading %s failed", source)
            return FileReport(source, "failed", UNEXPECTED)
        digest = hashlib.sha256(raw).hexdigest()
        try:
            # No autoflush: a half-filled talk must never reach the database mid-way.
            with self.session.begin_nested(), self.session.no_autoflush:
                return self._apply_post(post, digest)
        except Exception as error:  # one broken file must never stop the others
            return FileReport(source, "failed", f"could not be saved: {error}", warnings=post.warnings)

    def _apply_post(self, post: jekyll.PostInfo, digest: str) -> FileReport:
        warnings = list(post.warnings)
        talk = self._find_by_key(post.source_key)
        renamed_from = None
        if talk is None:
            talk = self._find_renamed(post, warnings)
            renamed_from = talk.source_key if talk else None
        if talk is not None and talk.source_digest == digest and renamed_from is None:
            return self._report(post, "unchanged", None, talk.slug, warnings)
        outcome = "updated" if talk is not None else "imported"
        before = audit.talk_snapshot(talk) if talk is not None else None
        facts = talk_changes.facts(talk) if talk is not None else None
        if talk is None:
            base = slugify(post.slug_hint) if post.slug_hint else slug_from_key(post.source_key)
            talk = Talk(series=self.series, slug=self._new_slug(base or "talk"), sequence=0)
            self.session.add(talk)
        self._fill_talk(talk, post, digest)
        # A re-imported post that moved the talk is a change like an organizer's edit.
        change = talk_changes.record(self.session, talk, facts, TalkCause.IMPORTED, self.now)
        if change.told:
            warnings.append(f"{change.told} people signed up are told that {change.what} changed")
        reason = f"renamed from {renamed_from}" if renamed_from else None
        report = self._report(post, outcome, reason, talk.slug, warnings)
        report.before = before
        return report

    def _report(
        self, post: jekyll.PostInfo, outcome: str, reason: str | None, slug: str, warnings: list[str]
    ) -> FileReport:
        return FileReport(
            post.source,
            outcome,
            reason,
            talk=self.summary(post, slug),
            warnings=warnings,
            post=post,
            dialect=post.dialect,
            doubts=set(post.doubts),
        )

    def _find_by_key(self, source_key: str) -> Talk | None:
        return self.session.scalars(
            select(Talk).where(Talk.series_id == self.series.id, Talk.source_key == source_key)
        ).first()

    def _find_renamed(self, post: jekyll.PostInfo, warnings: list[str]) -> Talk | None:
        """The talk this post was before the group renamed its file (how it reschedules).

        A candidate shares the semester and at least one speaker, and its own file is not
        part of this import (the old file is gone). Group sessions without speakers are
        never matched this way: nothing tells two of them apart.
        """
        names = {normalise_name(s.name) for s in post.speakers}
        if not self._tree_import or not names or not post.semester:
            return None
        semester = self._semester(post.semester, create=False)
        if semester is None:
            return None
        candidates = [
            talk
            for talk in self.session.scalars(select(Talk).where(Talk.semester_id == semester.id))
            if talk.source_key
            and talk.source_key not in self._batch_keys
            and names & {normalise_name(n) for n in talk.speaker_names}
        ]
        if not candidates:
            return None
        candidates.sort(key=lambda talk: abs((talk.starts_at - post.starts_at).total_seconds()))
        if len(candidates) > 1:
            warnings.append(
                f"several earlier talks by the same speakers; updating the closest in date ({candidates[0].slug})"
            )
        return candidates[0]

    def _fill_talk(self, talk: Talk, post: jekyll.PostInfo, digest: str) -> None:
        starts_at = post.starts_at.astimezone(self.tz)
        room = self._room(post.room)
        talk.title = post.title
        if talk.status != TalkStatus.CANCELLED:  # an organizer's cancellation outlives re-imports
            talk.status = TalkStatus.SCHEDULED if post.time_known else TalkStatus.TENTATIVE
        talk.starts_at = starts_at
        talk.ends_at = post.ends_at.astimezone(self.tz)
        talk.room = room
        talk.online_platform = post.online_platform
        # A page that names no semester (other sites' formats) goes in the one its date falls in,
        # as a talk made in the organizer area does: it shows in the schedules and the export.
        talk.semester = (
            self._semester(post.semester)
            if post.semester
            else talk_editing.semester_for_day(self.session, self.series, starts_at.date())
        )
        talk.intro_md = post.intro_md
        talk.paper_url = post.paper_url
        talk.slides_url = post.slides_url
        talk.recording_url = post.recording_url
        talk.links = [{"label": label, "url": url} for label, url in post.links]
        talk.images = list(post.images)
        talk.source_key = post.source_key
        talk.source_path = post.source
        talk.source_digest = digest
        talk.parts = [
            TalkPart(
                position=index,
                title=part.title,
                abstract_md=part.abstract_md or "",
                bio_md=part.bio_md or "",
                speakers=[
                    Speaker(position=n, name=s.name, affiliation=s.affiliation, url=s.url)
                    for n, s in enumerate(part.speakers)
                ],
            )
            for index, part in enumerate(post.parts)
        ]
        talk.sections = [
            TalkSection(position=index, heading=section.heading, body_md=section.body_md)
            for index, section in enumerate(post.sections)
        ]

    def _new_slug(self, base: str) -> str:
        slug, n = base, 1
        while slug in self._claimed_slugs or self.session.scalars(select(Talk.id).where(Talk.slug == slug)).first():
            n += 1
            slug = f"{base}-{n}"
        self._claimed_slugs.add(slug)
        return slug

    def _room(self, name: str | None) -> Room | None:
        if not name:
            return None
        room = self.session.scalars(select(Room).where(Room.series_id == self.series.id, Room.name == name)).first()
        if room is None:
            room = Room(series=self.series, name=name, directions="")
            self.session.add(room)
        return room

    def _room_names(self) -> list[str]:
        """The series' rooms (the organizer's list and earlier imports), for reading Location lines."""
        return list(self.session.scalars(select(Room.name).where(Room.series_id == self.series.id)))

    def _semester(self, slug: str, *, create: bool = True) -> Semester | None:
        semester = self.session.scalars(
            select(Semester).where(Semester.series_id == self.series.id, Semester.slug == slug)
        ).first()
        if semester is None and create:
            semester = Semester(series_id=self.series.id, slug=slug, name=semester_name(slug), intro_md="")
            self.session.add(semester)
        return semester

    def _resolve_link(self, target: str) -> str:
        """Where a `{% link ... %}` in a post points to on Lectern."""
        name = Path(target).name
        if target.startswith("_posts/") or "/_posts/" in target:
            key = jekyll.source_key_of(name)
            talk = self._find_by_key(key)
            return self.settings.talk_path(talk.slug if talk else slug_from_key(key))
        return self.settings.schedule_path

    def summary(self, post: jekyll.PostInfo, slug: str) -> dict[str, Any]:
        """The dry-run contract: one object per talk. Keep its keys stable."""
        return {
            "source": post.source,
            "slug": slug,
            "title": post.title,
            "speakers": [speaker.name for speaker in post.speakers],
            "affiliation": post.affiliation,
            "starts_at": post.starts_at.astimezone(self.tz).isoformat(),
            "ends_at": post.ends_at.astimezone(self.tz).isoformat(),
            "timezone": self.series.timezone,
            "room": post.room,
            "online_platform": post.online_platform,
            "semester": post.semester,
            "warnings": list(post.warnings),
        }

    # Schedules -----------------------------------------------------------------------------

    def import_schedules(self, paths: Iterable[str | Path]) -> list[FileReport]:
        reports = []
        for path, _skipped in collect_files(paths):
            try:
                text = read_bounded(path).decode("utf-8-sig")
            except (OSError, UnicodeDecodeError) as error:
                reports.append(FileReport(str(path), "failed", f"cannot read the file: {error}"))
                continue
            except FileTooLarge as error:
                reports.append(FileReport(str(path), "failed", str(error)))
                continue
            try:
                schedule = jekyll.parse_schedule(text, source=str(path))
            except jekyll.NotATalk as reason:
                reports.append(FileReport(str(path), "skipped", str(reason)))
                continue
            except jekyll.PostError as reason:
                reports.append(FileReport(str(path), "failed", str(reason)))
                continue
            except Exception:  # a page no rule foresaw fails alone; it never stops the import
                log.exception("reading %s failed", path)
                reports.append(FileReport(str(path), "failed", UNEXPECTED))
                continue
            try:
                with self.session.begin_nested():
                    reports.append(self._apply_schedule(schedule, str(path)))
            except Exception as error:  # one broken page must never stop the others
                reports.append(FileReport(str(path), "failed", f"could not be saved: {error}"))
        return reports

    def _apply_schedule(self, schedule: jekyll.ScheduleInfo, source: str) -> FileReport:
        semester = self._semester(schedule.semester)
        assert semester is not None
        semester.name = schedule.name or semester.name
        if schedule.intro_md:
            semester.intro_md = schedule.intro_md
        warnings: list[str] = []
        linked = 0
        entries: list[ScheduleEntry] = []
        for row in schedule.rows:
            talk = self._talk_for_row(semester, row)
            if talk is not None:
                linked += 1
                talk.semester = semester
                warnings += self._disagreements(row, talk)
                continue
            if row.post_key:
                warnings.append(
                    f"the row for {row.local_date or row.text!r} links {row.post_key}, which is not imported"
                )
            entries.append(
                ScheduleEntry(
                    position=len(entries),
                    kind=EntryKind.TBD if row.kind == "talk" else EntryKind(row.kind),
                    on_date=row.local_date,
                    label=row.text,
                )
            )
        # A newer schedule page replaces what an older one said about the semester.
        semester.entries = entries
        self.session.flush()
        reason = f"{schedule.semester}: {linked} talks on the schedule, {len(entries)} other entries"
        details = {
            "semester": schedule.semester,
            "linked": linked,
            "entries": [
                {"kind": e.kind.value, "date": e.on_date.isoformat() if e.on_date else None, "label": e.label}
                for e in entries
            ],
        }
        return FileReport(source, "updated", reason, schedule=details, warnings=warnings)

    def _talk_for_row(self, semester: Semester, row: jekyll.ScheduleRow) -> Talk | None:
        if row.post_key:
            talk = self._find_by_key(row.post_key)
            if talk is not None:
                return talk
        # A row may link an old file name, or none: the same day and a shared speaker will do.
        names = {normalise_name(name) for name in row.speakers}
        if row.local_date is None or not names:
            return None
        for talk in semester.talks:
            same_day = abs((talk.starts_at.astimezone(self.tz).date() - row.local_date).days) <= 1
            if same_day and names & {normalise_name(n) for n in talk.speaker_names}:
                return talk
        return None

    def _disagreements(self, row: jekyll.ScheduleRow, talk: Talk) -> list[str]:
        local = talk.starts_at.astimezone(self.tz)
        said: list[str] = []
        if row.local_date and row.local_date != local.date():
            said.append(f"date {row.local_date.isoformat()}")
        if row.local_time and row.local_time != local.time().replace(tzinfo=None):
            said.append(f"time {row.local_time:%H:%M}")
        if not said:
            return []
        return [
            f"the schedule gives {' and '.join(said)} for {talk.slug}, "
            f"but its post says {local:%Y-%m-%d %H:%M}; keeping the post's"
        ]


UNEXPECTED = "could not be read: an unexpected error (the server log has the details)"


class FileTooLarge(Exception):
    """A file larger than any post or schedule page; str() says so in one line."""


def read_bounded(path: Path) -> bytes:
    """The file's bytes, read only up to the bound: a huge file is refused without loading it."""
    with path.open("rb") as file:
        raw = file.read(jekyll.MAX_POST_BYTES + 1)
    if len(raw) > jekyll.MAX_POST_BYTES:
        raise FileTooLarge(jekyll.file_too_large(path.stat().st_size))
    return raw


def same_clock(zone: str, other: str) -> bool:
    """Whether two zone names keep the same clock (America/Toronto and America/Montreal do):
    compared over two years, every week. An unknown name keeps no clock Lectern knows."""
    try:
        first, second = ZoneInfo(zone), ZoneInfo(other)
    except (ValueError, KeyError):
        return False
    start = datetime(datetime.now(UTC).year - 1, 1, 1, tzinfo=UTC)
    return all(
        (moment := start + timedelta(days=7 * week)).astimezone(first).utcoffset()
        == moment.astimezone(second).utcoffset()
        for week in range(105)
    )


def normalise_name(name: str) -> str:
    """Compare names without case, accents or punctuation ('Xing Han Lù' = 'xing han lu')."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.findall(r"[a-z0-9]+", plain.lower()))


def reports_failed(reports: Iterable[FileReport]) -> bool:
    return any(report.failed for report in reports)


def import_upload(
    session: Session, series: Series, raw: bytes, name: str, *, site_url: str | None, now: datetime
) -> tuple[FileReport, Talk | None]:
    """One post an organizer uploaded, with the talk it imported or updated (None otherwise)."""
    report = Importer(session, series, ImportSettings(site_url=site_url), now=now).import_post_text(raw, name)
    if report.talk is None or report.outcome not in {"imported", "updated"}:
        return report, None
    return report, session.scalars(select(Talk).where(Talk.slug == report.talk["slug"])).one()


@dataclass
class SiteImport:
    """What importing an uploaded site did (or, in a dry run, would do)."""

    reports: list[FileReport]
    notes: list[str]
    pages: int  # Markdown files read from the archive
    other_files: int  # images and the rest, not read

    def count(self, outcome: str) -> int:
        return sum(1 for report in self.reports if report.outcome == outcome)

    @property
    def talk_reports(self) -> list[FileReport]:
        return [report for report in self.reports if report.talk is not None]


def import_site_archive(
    session: Session, series: Series, raw: bytes, settings: ImportSettings, *, now: datetime
) -> SiteImport:
    """Import the pages of a zipped site (archive.ArchiveRefused says why one is refused). The
    caller commits, or rolls back for a dry run; the unpacked files are gone when this returns."""
    with site_archive.unpacked(raw) as site:
        importer = Importer(session, series, settings, now=now)
        reports = importer.import_posts([site.root])
        for report in reports:
            report.source = site.relative(report.source)
        reports += [FileReport(path, "failed", reason) for path, reason in site.too_large]
        return SiteImport(reports, importer.notes, site.pages, site.other_files)
