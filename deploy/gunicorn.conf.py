"""gunicorn's configuration for Lectern (deploy/systemd/lectern-web.service starts it):

    gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'

Lectern's own settings come from LECTERN_* variables (docs/deploy.md); the server's from these:

    GUNICORN_BIND        where to listen (default 127.0.0.1:8000; an app host behind a proxy on
                         another host listens on its private address, e.g. 10.0.0.11:8000)
    WEB_CONCURRENCY      worker processes (default: 2 per CPU, plus 1)
    GUNICORN_ACCESS_LOG  "-" for the journal, a file, or empty for none (default: none, since
                         nginx keeps the access log)

Sync workers: each request holds a worker and a database connection for a few milliseconds, the
proxy buffers slow clients, and the public pages come from nginx's cache or each worker's memory.
"""

from __future__ import annotations

import os
import re
from typing import Any

from gunicorn.glogging import Logger

bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1) + 1)
worker_class = "sync"
# A request that takes longer than this is stuck: its worker is replaced.
timeout = 30
# On stop or restart (SIGTERM, SIGHUP), requests under way get this long to finish.
graceful_timeout = 25
# The proxy speaks to us over keep-alive connections; sync workers close after each response anyway.
keepalive = 2
# gunicorn 22+ drops headers whose names hold an underscore; said here so it stays so.
header_map = "drop"

accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = "info"
# Who, what (method and path, manage tokens hidden), the answer, how long (ms). No query string
# and no Referer: a manage page's address would come with the requests it makes.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms "%(a)s"'

# Manage links carry a secret: an attendee's (/rsvp/<token>...) or a speaker's (/chats/speaker/<token>).
TOKEN_PATH = re.compile(r"^(/+(?:rsvp|chats/speaker)/)[^/]+")


def hide_tokens(path: str) -> str:
    return TOKEN_PATH.sub(r"\1<token>", path)


class TokenHidingLogger(Logger):
    """gunicorn's logger, with the secret part of a manage link replaced in every atom that holds the path."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = hide_tokens(atoms["U"])
        atoms["r"] = f"{atoms['m']} {atoms['U']} {atoms['H']}"
        atoms["f"] = "-"
        atoms["{referer}i"] = "-"
        atoms["{raw_uri}e"] = "-"
        return atoms


logger_class = TokenHidingLogger
