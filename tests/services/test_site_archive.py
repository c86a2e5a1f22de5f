"""Unpacking an uploaded site and keeping it between the preview and the confirmation."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.site_import.archive import ArchiveRefused, UploadStore, unpacked


def archive_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_only_pages_and_configuration_are_unpacked_and_the_folder_goes_away():
    raw = archive_of(
        {
            "mysite/_config.yml": b"title: x\n",
            "mysite/_talks/a.md": b"---\ntitle: A\n---\n",
            "mysite/assets/photo.jpg": b"\xff\xd8",
            "mysite/.git/config": b"[core]\n",
            "__MACOSX/mysite/._a.md": b"junk",
        }
    )
    with unpacked(raw) as site:
        assert site.root.name == "mysite", "a single top folder is the site"
        found = sorted(p.relative_to(site.root).as_posix() for p in site.root.rglob("*") if p.is_file())
        assert found == ["_config.yml", "_talks/a.md"]
        assert (site.pages, site.other_files) == (1, 2)
        assert site.relative(str(site.root / "_talks/a.md")) == "mysite/_talks/a.md"
        folder = site.root.parent.parent
    assert not folder.exists()


def test_the_folder_goes_away_when_reading_fails():
    with pytest.raises(RuntimeError), unpacked(archive_of({"a.md": b"x"})) as site:
        folder = site.root.parent
        raise RuntimeError("the importer broke")
    assert not folder.exists()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../x.md", "climbs out"),
        ("a/../../x.md", "climbs out"),
        ("/abs/x.md", "absolute path"),
        ("\\\\server\\share\\x.md", "absolute path"),
        ("D:/x.md", "absolute path"),
        ("a/x\x01.md", "control character"),
    ],
)
def test_path_tricks_refuse_the_archive(name, reason):
    with pytest.raises(ArchiveRefused, match=reason), unpacked(archive_of({"ok.md": b"x", name: b"x"})):
        pass


def test_an_encrypted_entry_is_refused():
    raw = bytearray(archive_of({"a.md": b"x"}))
    # Set the "encrypted" flag in the local header and the central directory entry.
    for signature in (b"PK\x03\x04", b"PK\x01\x02"):
        at = raw.index(signature)
        flag_at = at + (6 if signature == b"PK\x03\x04" else 8)
        raw[flag_at] |= 0x1
    with pytest.raises(ArchiveRefused, match="encrypted"), unpacked(bytes(raw)):
        pass


def test_a_kept_upload_is_for_its_organizer_for_an_hour(tmp_path: Path):
    store = UploadStore(tmp_path / "uploads")
    now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    token = store.keep(b"zip bytes", {"owner": "ada@example.edu", "name": "site.zip"}, now)
    assert len(token) == 32
    kept = store.get(token, "ada@example.edu", now + timedelta(minutes=59))
    assert kept is not None and kept.raw == b"zip bytes" and kept.meta["name"] == "site.zip"
    assert store.get(token, "eve@example.edu", now) is None
    assert store.get(token, "ada@example.edu", now + timedelta(minutes=61)) is None
    assert store.get("../uploads/" + token, "ada@example.edu", now) is None


def test_a_kept_upload_changed_on_disk_is_not_imported(tmp_path: Path):
    store = UploadStore(tmp_path / "uploads")
    now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    token = store.keep(b"zip bytes", {"owner": "ada@example.edu"}, now)
    (tmp_path / "uploads" / f"{token}.zip").write_bytes(b"other bytes")
    assert store.get(token, "ada@example.edu", now) is None


def test_old_uploads_are_swept_away(tmp_path: Path):
    store = UploadStore(tmp_path / "uploads")
    long_ago = datetime.now(UTC) - timedelta(hours=3)
    token = store.keep(b"old", {"owner": "ada@example.edu"}, long_ago)
    for path in (tmp_path / "uploads").iterdir():
        stamp = long_ago.timestamp()
        os.utime(path, (stamp, stamp))
    store.keep(b"new", {"owner": "ada@example.edu"}, datetime.now(UTC))
    assert not list((tmp_path / "uploads").glob(f"{token}*"))
