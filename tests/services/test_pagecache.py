"""The per-worker page cache and the shared content version it checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

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


def test_a_change_on_one_host_invalidates_pages_cached_on_another() -> None:
    import redis

    from services.content_version import RedisContentVersion
    from tests.conftest import skip_or_fail

    client = redis.Redis.from_url("redis://127.0.0.1:6379/13")
    try:
        client.flushdb()
    except redis.ConnectionError:
        skip_or_fail("Redis is not running on 127.0.0.1:6379")
    host_a, host_b = PageCache(RedisContentVersion(client)), PageCache(RedisContentVersion(client))
    host_a.store("talk", b"old", host_a.version.current(), valid_until=None)
    assert host_a.lookup("talk", NOW) is not None
    host_b.version.bump()  # an organizer saved through host B
    assert host_a.lookup("talk", NOW) is None
    client.flushdb()


def test_redis_down_serves_pages_uncached_instead_of_failing() -> None:
    import redis

    from services.content_version import RedisContentVersion

    unreachable = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    cache = PageCache(RedisContentVersion(unreachable))
    version = cache.version.current()
    page = cache.store("talk", b"fresh", version, valid_until=None)
    assert page.body == b"fresh"
    assert cache.lookup("talk", NOW) is None, "an unknown version never serves a cached page"
    cache.version.bump()  # logged, not raised: the organizer's change is saved all the same


class FlakyRedis:
    """A Redis holding one counter, which can be stopped and started again (its data kept)."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.down = False
        self.calls = 0

    def _up(self) -> None:
        from redis.exceptions import ConnectionError as RedisConnectionError

        self.calls += 1
        if self.down:
            raise RedisConnectionError("Connection refused")

    def get(self, key: str) -> bytes | None:
        self._up()
        return str(self.values[key]).encode() if key in self.values else None

    def incr(self, key: str) -> int:
        self._up()
        self.values[key] = self.values.get(key, 0) + 1
        return self.values[key]

    def set(self, key: str, value: int, nx: bool = False) -> bool:
        self._up()
        if nx and key in self.values:
            return False
        self.values[key] = int(value)
        return True


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Move the clock the content version reads for its pause after a failure."""
    from services import content_version

    moved = content_version.time.monotonic() + seconds
    monkeypatch.setattr(content_version.time, "monotonic", lambda: moved)


def test_a_change_made_while_redis_was_down_reaches_the_other_hosts_once_it_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.content_version import RedisContentVersion

    redis = FlakyRedis()
    host_a, host_b = PageCache(RedisContentVersion(redis)), PageCache(RedisContentVersion(redis))
    host_b.store("talk", b"old", host_b.version.current(), valid_until=None)
    assert host_b.lookup("talk", NOW) is not None

    redis.down = True
    host_a.version.bump()  # an organizer saved through host A: the counter could not move
    redis.down = False

    assert host_b.lookup("talk", NOW) is not None, "not yet: nobody has told the counter"
    later(monkeypatch, RedisContentVersion.PAUSE)
    host_a.version.settle()  # host A's next request makes the bump it owed
    assert host_b.lookup("talk", NOW) is None, "host B serves the page as it was before the change"


def test_a_counter_redis_lost_never_counts_again_through_values_pages_were_kept_at() -> None:
    """Redis restarted without its data (this machine's keeps nothing on disk), or the key
    evicted: the counter starts again above every value it had, so a page a worker kept at one
    of those is never taken for current again."""
    from services.content_version import RedisContentVersion

    redis = FlakyRedis()
    host_a, host_b = PageCache(RedisContentVersion(redis)), PageCache(RedisContentVersion(redis))
    for _ in range(3):
        host_a.version.bump()
    kept_at = host_b.version.current()
    host_b.store("semester", b"old name", kept_at, valid_until=None)

    redis.values.clear()  # Redis came back empty
    host_a.version.bump()  # an organizer renamed the semester through host A
    for _ in range(5):
        assert host_b.lookup("semester", NOW) is None, "the old page is not served again"
        host_a.version.bump()
    assert host_a.version.current() > kept_at


def test_a_redis_that_does_not_answer_is_asked_again_only_after_a_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each try at a Redis host that does not answer costs the client's whole time-out: after a
    failure, the requests of the next few seconds serve pages uncached without asking."""
    from services.content_version import UNKNOWN, RedisContentVersion

    redis = FlakyRedis()
    version = RedisContentVersion(redis)
    redis.down = True
    assert version.current() == UNKNOWN
    tries = redis.calls
    for _ in range(20):
        assert version.current() == UNKNOWN
        version.settle()
    version.bump()
    assert redis.calls == tries, "nobody waited for Redis again during the pause"

    redis.down = False
    later(monkeypatch, RedisContentVersion.PAUSE)
    assert version.current() not in (UNKNOWN, None), "asked again once the pause is over"
