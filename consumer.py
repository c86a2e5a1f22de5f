"""The job consumer's entry point: `huey_consumer consumer.huey --workers 2 --worker-type thread`.

The consumer is configured exactly as the web server is, by the same code: it creates the app
once per process (`create_app`, whose `load_config` reads defaults.py, then instance/config.py,
then LECTERN_* variables) and serves that app's queue (jobs.AppQueue): Redis when REDIS_URL is
set, in the environment or in instance/config.py alike, else the SQLite file JOBS_DB. Each
task runs in a context of that one app.

`huey` is made when huey_consumer first asks for it, not when this module is imported.
"""

from __future__ import annotations

import functools
from typing import Any

import jobs
from app import create_app

# The consumer's COMMITs wait for the disk whatever the web's do (DATABASE_SYNCHRONOUS_COMMIT):
# a delivery commits its claim before it sends, and that flush takes every commit before it
# along, so no email goes out about a sign-up that a crash of the database could still lose.
CONSUMER_SETTINGS = {"DATABASE_SYNCHRONOUS_COMMIT": "on"}


def make_queue(instance_path: str | None = None) -> jobs.AppQueue:
    """The queue of a new app on `instance_path` (default: the instance folder beside app.py)."""
    return create_app(CONSUMER_SETTINGS, instance_path=instance_path).extensions["lectern.queue"]


@functools.cache
def _the_queue() -> jobs.AppQueue:
    return make_queue()


def __getattr__(name: str) -> Any:
    if name == "huey":
        return _the_queue()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
