"""The rate limits' counters in memory: fixed windows, as limits' own memory storage counts them."""

from __future__ import annotations

import pytest
from flask import Flask
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from adapters import ratelimits
from adapters.ratelimits import LocalMemoryStorage
from blueprints import limits


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(ratelimits.time, "time", clock)
    return clock


def test_five_hits_in_ten_minutes_pass_the_sixth_waits_for_the_next_window(clock: Clock) -> None:
    window = FixedWindowRateLimiter(LocalMemoryStorage())
    five = parse("5 per 10 minutes")
    assert all(window.hit(five, "ada") for _ in range(5))
    assert not window.hit(five, "ada")
    assert window.hit(five, "bob"), "each key counts on its own"
    clock.now += 599
    assert not window.hit(five, "ada")
    clock.now += 1
    assert window.hit(five, "ada"), "a new window"
    assert window.get_window_stats(five, "ada").remaining == 4


def test_expired_counters_read_as_zero_and_leave_memory(clock: Clock) -> None:
    storage = LocalMemoryStorage()
    storage.incr("old", expiry=60)
    clock.now += 30
    storage.incr("newer", expiry=60)
    clock.now += 31
    assert (storage.get("old"), storage.get_expiry("old")) == (0, clock.now)
    assert storage.get("newer") == 1
    storage.incr("another", expiry=60)  # a hit more than a second after the last pass drops what expired
    assert set(storage._counters) == {"newer", "another"}


def test_clear_and_reset(clock: Clock) -> None:
    storage = LocalMemoryStorage()
    storage.incr("a", expiry=60)
    storage.incr("b", expiry=60)
    storage.clear("a")
    assert (storage.get("a"), storage.get("b")) == (0, 1)
    assert storage.reset() == 1
    assert storage.get("b") == 0 and storage.check()


def test_it_is_what_the_app_counts_in_without_redis(app: Flask) -> None:
    assert isinstance(storage_from_string(app.config["RATELIMIT_STORAGE_URI"]), LocalMemoryStorage)
    with app.app_context():
        assert isinstance(limits.form_limits().storage, LocalMemoryStorage)
