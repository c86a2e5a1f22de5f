"""The per-worker page cache and the shared content version it checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.content_version import ContentVersion
from services.pagecache import PageCache

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


def test_version_moves_on_every_bump_even_within_one_clock_tick(tmp_path: Path) -> None:
    version = ContentVersion(tmp_path / "v")
    assert version.current() == 0
    seen = set()
    for _ in range(50):
        version.bump()
        seen.add(version.current())
    assert len(seen) == 50


def test_a_page_is_served_until_content_changes(tmp_path: Path) -> None:
    version = ContentVersion(tmp_path / "v")
    cache = PageCache(version)
    cache.store("talk", b"<html>", version.current(), valid_until=None)
    assert cache.lookup("talk", NOW).body == b"<html>"
    version.bump()
    assert cache.lookup("talk", NOW) is None


def test_a_page_rendered_from_data_older_than_a_change_is_not_served(tmp_path: Path) -> None:
    version = ContentVersion(tmp_path / "v")
    cache = PageCache(version)
    read_at = version.current()
    version.bump()  # an organizer saved while the page was rendering
    cache.store("talk", b"stale", read_at, valid_until=None)
    assert cache.lookup("talk", NOW) is None


def test_a_page_expires_at_its_own_deadline(tmp_path: Path) -> None:
    version = ContentVersion(tmp_path / "v")
    cache = PageCache(version)
    cache.store("talk", b"upcoming", version.current(), valid_until=NOW + timedelta(hours=1))
    assert cache.lookup("talk", NOW) is not None
    assert cache.lookup("talk", NOW + timedelta(hours=1)) is None


def test_etags_differ_between_versions(tmp_path: Path) -> None:
    version = ContentVersion(tmp_path / "v")
    cache = PageCache(version)
    first = cache.store("talk", b"a", version.current(), None).etag
    version.bump()
    assert cache.store("talk", b"a", version.current(), None).etag != first
