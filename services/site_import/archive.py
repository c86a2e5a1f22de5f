"""A site's content folder, uploaded as a zip: unpacked safely into a temporary folder, and kept
for a short while between the preview and the organizer's confirmation.

What an archive may not do (the whole archive is refused, with the reason):
- name a path that is absolute ("/etc/x", "C:\\x"), climbs out ("../x") or lands outside the
  folder it is unpacked into, or holds a symbolic link, a device or an encrypted file;
- hold more than MAX_FILES entries, or unpack to more than MAX_UNPACKED_BYTES (counted as the
  bytes actually read, not as the archive claims: a zip bomb stops at the bound);
- name the same file twice.
Only what the importer reads is unpacked (Markdown pages and the site's configuration); a page
larger than a post can be is left packed and reported. Images and the rest are counted, not read.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Any

from services.site_import.files import MARKDOWN_SUFFIXES
from services.site_import.limits import MAX_POST_BYTES, file_too_large

MAX_FILES = 5_000
MAX_UNPACKED_BYTES = 32 * 1024 * 1024
# The site's configuration, read for its generator, time zone and author profiles.
_CONFIG_NAMES = {"_config.yml", "_config.yaml", "hugo.toml", "hugo.yaml", "hugo.yml", "hugo.json"}
_CONFIG_NAMES |= {"config.toml", "config.yaml", "config.yml", "config.json"}
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
SITE_FOLDER = "site"  # the fixed name the archive is unpacked under: pages keep the same keys every time


class ArchiveRefused(Exception):
    """The archive is not a safe or readable zip; str() says why in one line."""


@dataclass
class Unpacked:
    base: Path  # where the archive is unpacked
    root: Path  # the folder to import: the archive's own single top folder, if it has one
    pages: int = 0  # Markdown files unpacked
    other_files: int = 0  # images, styles and the rest: not read
    too_large: list[tuple[str, str]] = field(default_factory=list)  # (path in the archive, reason)

    def relative(self, source: str) -> str:
        """A report's source as the path inside the archive."""
        try:
            return Path(source).relative_to(self.base).as_posix()
        except ValueError:
            return source


@contextmanager
def unpacked(raw: bytes) -> Iterator[Unpacked]:
    """Unpack an uploaded zip into a temporary folder, removed afterwards whatever happens."""
    folder = Path(tempfile.mkdtemp(prefix="lectern-import-"))
    try:
        yield unpack(raw, folder / SITE_FOLDER)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def unpack(raw: bytes, root: Path) -> Unpacked:
    try:
        archive = zipfile.ZipFile(BytesIO(raw))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise ArchiveRefused("the file is not a zip archive (make one from the site's folder)") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_FILES:
            raise ArchiveRefused(f"the archive holds {len(members):,} entries; at most {MAX_FILES:,} are read")
        plan = [(member, _safe_path(member)) for member in members]
        _refuse_duplicates(plan)
        root.mkdir(parents=True, exist_ok=True)
        result = Unpacked(root, root)
        budget = MAX_UNPACKED_BYTES
        for member, path in plan:
            if member.is_dir() or path is None:
                continue
            if not _wanted(path):
                result.other_files += 1
                continue
            data = _read(archive, member, budget)
            if data is None:
                result.too_large.append((path.as_posix(), file_too_large(member.file_size)))
                continue
            budget -= len(data)
            target = root.joinpath(*path.parts)
            if not target.resolve().is_relative_to(root.resolve()):
                raise ArchiveRefused(f"{path.as_posix()!r} would land outside the archive's folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("xb") as out:
                out.write(data)
            result.pages += path.suffix.lower() in MARKDOWN_SUFFIXES
    result.root = _single_top_folder(root)
    return result


def _safe_path(member: zipfile.ZipInfo) -> PurePosixPath | None:
    name = member.filename
    if "\x00" in name or any(ord(c) < 32 for c in name):
        raise ArchiveRefused("an entry's name holds a control character")
    if name.startswith(("/", "\\")) or _DRIVE_RE.match(name):
        raise ArchiveRefused(f"the entry {name!r} has an absolute path")
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveRefused(f"the entry {name!r} climbs out of the archive's folder ('..')")
    kind = stat.S_IFMT(member.external_attr >> 16)  # 0 when the archiver gave no Unix mode (Windows)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise ArchiveRefused(f"the entry {name!r} is a link or a device, not a file")
    if member.flag_bits & 0x1:
        raise ArchiveRefused(f"the entry {name!r} is encrypted")
    if not parts or parts[0] == "__MACOSX":
        return None
    return PurePosixPath(*parts)


def _refuse_duplicates(plan: list[tuple[zipfile.ZipInfo, PurePosixPath | None]]) -> None:
    seen: set[str] = set()
    for member, path in plan:
        if path is None or member.is_dir():
            continue
        key = path.as_posix().casefold()
        if key in seen:
            raise ArchiveRefused(f"the archive names {path.as_posix()!r} twice")
        seen.add(key)


def _wanted(path: PurePosixPath) -> bool:
    if any(part.startswith(".") for part in path.parts):
        return False
    return (
        path.suffix.lower() in MARKDOWN_SUFFIXES
        or path.name.lower() in _CONFIG_NAMES
        or (len(path.parts) >= 2 and path.parts[-2] == "_default" and path.suffix.lower() in {".toml", ".yaml", ".yml"})
    )


def _read(archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: int) -> bytes | None:
    """The member's bytes, never more than a post may be; None when it is larger. Refuses the
    archive once what is read passes the archive's bound, whatever the archive claimed."""
    if member.file_size > MAX_POST_BYTES:
        return None
    try:
        with archive.open(member) as source:
            data = source.read(MAX_POST_BYTES + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as error:
        raise ArchiveRefused(f"the entry {member.filename!r} cannot be read ({error})") from None
    if len(data) > MAX_POST_BYTES:
        return None
    if len(data) > budget:
        raise ArchiveRefused(f"the archive unpacks to more than {MAX_UNPACKED_BYTES // (1024 * 1024)} MB of pages")
    return data


def _single_top_folder(root: Path) -> Path:
    """ "mysite.zip" holding "mysite/...": import "mysite", whose name the site's keys start from."""
    entries = [p for p in root.iterdir()]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return root


# ---------------------------------------------------------------------------------------
# Kept between the preview and the confirmation

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")
KEEP_FOR = timedelta(hours=1)


@dataclass
class KeptUpload:
    raw: bytes
    meta: dict[str, Any]


class UploadStore:
    """Uploaded archives kept under a random name for KEEP_FOR, so that the confirmation imports
    the very bytes the preview read. Each carries who uploaded it and the settings it was read
    with; a token that is malformed, unknown, expired or another organizer's gives nothing."""

    def __init__(self, folder: Path, keep_for: timedelta = KEEP_FOR) -> None:
        self.folder = folder
        self.keep_for = keep_for

    def keep(self, raw: bytes, meta: dict[str, Any], now: datetime) -> str:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.sweep(now)
        token = secrets.token_urlsafe(24)
        record = {**meta, "kept_at": now.isoformat(), "sha256": hashlib.sha256(raw).hexdigest()}
        (self.folder / f"{token}.zip").write_bytes(raw)
        (self.folder / f"{token}.json").write_text(json.dumps(record), encoding="utf-8")
        return token

    def get(self, token: str, owner: str, now: datetime) -> KeptUpload | None:
        if not TOKEN_RE.match(token):
            return None
        try:
            meta = json.loads((self.folder / f"{token}.json").read_text(encoding="utf-8"))
            raw = (self.folder / f"{token}.zip").read_bytes()
        except (OSError, ValueError):
            return None
        fresh = now - datetime.fromisoformat(meta["kept_at"]) <= self.keep_for
        intact = hashlib.sha256(raw).hexdigest() == meta.get("sha256")
        if not (fresh and intact and meta.get("owner") == owner):
            return None
        return KeptUpload(raw, meta)

    def discard(self, token: str) -> None:
        if TOKEN_RE.match(token):
            for suffix in (".zip", ".json"):
                (self.folder / f"{token}{suffix}").unlink(missing_ok=True)

    def sweep(self, now: datetime) -> None:
        """Remove what is kept past its time (every upload passes through here)."""
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            try:
                kept = datetime.fromtimestamp(path.stat().st_mtime, tz=now.tzinfo)
            except OSError:
                continue
            if now - kept > self.keep_for:
                path.unlink(missing_ok=True)
