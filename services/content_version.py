"""A counter of changes to public content, shared by every worker process.

Public pages are cached in each worker's memory; before serving a cached copy a worker
compares the version it was rendered at with this counter. Reading it is one stat() call,
so an unchanged page costs no database query and no rendering.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

import models

log = logging.getLogger(__name__)

# Writes to these tables change what a visitor sees.
PUBLIC_MODELS = (
    models.Series,
    models.Room,
    models.Semester,
    models.Talk,
    models.TalkPart,
    models.Speaker,
    models.TalkSection,
    models.ScheduleEntry,
    models.ChatSlot,  # the talk page offers chats when it has slots
    models.Meeting,  # the talk page shows "Live now", and a pasted link the organizers made public
)


class Version(Protocol):
    def current(self) -> int: ...

    def bump(self) -> None: ...

    def settle(self) -> None: ...


class ContentVersion:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def current(self) -> int:
        """The file's modification time in nanoseconds; 0 before the first change."""
        try:
            return os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return 0

    def bump(self) -> None:
        previous = self.current()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        if self.current() == previous:
            # Two changes within the clock's resolution: move the time on explicitly.
            os.utime(self.path, ns=(previous + 1, previous + 1))

    def settle(self) -> None:
        """Nothing is ever owed: the file is on this host."""


# Never equal to a version a page was rendered at (those are >= 0), so nothing cached matches it.
UNKNOWN = -1


class RedisContentVersion:
    """The same counter in Redis, for workers on several hosts (one GET per cached page served).

    While Redis is unreachable no cached page is trusted: each is rendered from the database.
    A change made meanwhile could not bump the counter, and a host that kept its pages would
    serve them again once Redis is back: so a process that met Redis down owes one bump, made
    at its first look at the counter once Redis answers again, or at `settle` (each request,
    each sweep of the consumer) if that comes first.
    """

    KEY = "lectern:content-version"
    # After Redis failed to answer, this process leaves it alone for so many seconds: a host that
    # does not answer at all costs each try the client's whole time-out, which every request
    # would otherwise wait for.
    PAUSE = 5.0

    def __init__(self, client: Any) -> None:
        self.client = client
        self.owed = False  # this process met Redis down: bump once it is back
        self._paused_until = 0.0

    def settle(self) -> None:
        """Make the bump this process owes, if Redis answers (else it stays owed)."""
        if not self.owed or self._paused():
            return
        try:
            self._incr()
            self.owed = False
        except RedisError:
            self._pause()

    def current(self) -> int:
        if self._paused():
            return UNKNOWN
        try:
            if self.owed:
                self._incr()
                self.owed = False
            value = self.client.get(self.KEY)
            if value is None:
                self._start()
                value = self.client.get(self.KEY)
        except RedisError:
            # Unknown version: no cached page is trusted, each is rendered from the database.
            self.owed = True
            self._pause()
            log.warning("content version unavailable from Redis; serving pages uncached")
            return UNKNOWN
        return int(value) if value is not None else UNKNOWN

    def bump(self) -> None:
        try:
            if self._paused():
                raise RedisError("Redis did not answer a moment ago")
            self._incr()
        except RedisError:
            self.owed = True
            self._pause()
            log.warning("could not bump the content version in Redis; bumped once Redis is back")

    def _paused(self) -> bool:
        return time.monotonic() < self._paused_until

    def _pause(self) -> None:
        self._paused_until = time.monotonic() + self.PAUSE

    def _start(self) -> None:
        """Start a missing counter (a Redis that kept nothing across a restart, a key evicted)
        at the clock in microseconds, not at 0: higher than any value it had before, which
        grew by one a change, so no page kept by a worker at an old value matches again."""
        self.client.set(self.KEY, time.time_ns() // 1000, nx=True)

    def _incr(self) -> None:
        self._start()
        self.client.incr(self.KEY)


def bump_after_commits(session_target: object, resolve: Callable[[], Version]) -> None:
    """Bump the version after every commit that wrote public content.

    `resolve` finds the counter for the session at hand (one per application), so one set
    of listeners serves every application sharing the session factory.
    """
    global _resolve
    _resolve = resolve
    if event.contains(session_target, "after_commit", _bump):
        return
    event.listen(session_target, "after_flush", _note_changes)
    event.listen(session_target, "after_commit", _bump)
    event.listen(session_target, "after_rollback", _forget)


_resolve: Callable[[], Version] | None = None


def _note_changes(session: Session, _flush_context: object) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, PUBLIC_MODELS) for obj in changed):
        session.info["public_content_changed"] = True


def _bump(session: Session) -> None:
    if session.info.pop("public_content_changed", False) and _resolve is not None:
        _resolve().bump()


def _forget(session: Session) -> None:
    session.info.pop("public_content_changed", None)
