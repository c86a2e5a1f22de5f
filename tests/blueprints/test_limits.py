"""The sign-up forms' rate limits when their storage fails: counted in memory meanwhile, never refused."""

from __future__ import annotations

import pytest
from limits.errors import StorageError

from adapters.ratelimits import LocalMemoryStorage
from blueprints import limits


class Unreachable(LocalMemoryStorage):
    """A storage that fails as Redis does when it does not answer (limits wraps its errors)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        self.calls += 1
        raise StorageError(ConnectionError("Redis did not answer"))


def test_a_storage_that_fails_is_left_alone_for_a_while_and_memory_counts_meanwhile(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    storage = Unreachable()
    counters = limits.FormLimits(storage)
    assert [counters.hit("2 per minute", "rsvp", "a") for _ in range(3)] == [True, True, False]
    assert storage.calls == 1, "after one failure the storage is not asked again at once"
    assert "count in memory" in caplog.text

    clock = limits.time.monotonic() + limits.PAUSE + 1
    monkeypatch.setattr(limits.time, "monotonic", lambda: clock)
    assert counters.hit("2 per minute", "rsvp", "b")
    assert storage.calls == 2, "asked again once the pause is over"


def test_without_the_fallback_a_failing_storage_is_an_error() -> None:
    counters = limits.FormLimits(Unreachable(), fallback=False)
    with pytest.raises(StorageError):
        counters.hit("2 per minute", "rsvp", "a")


def test_each_limit_counts_on_its_own_keys() -> None:
    counters = limits.FormLimits(LocalMemoryStorage())
    assert counters.hit("1 per minute", "rsvp", "email", "x")
    assert not counters.hit("1 per minute", "rsvp", "email", "x")
    assert counters.hit("1 per minute", "chat", "email", "x"), "another form counts apart"
    assert counters.hit("1 per minute", "rsvp", "email", "y")
