"""Built-in configuration. `instance/config.py` and `LECTERN_*` environment variables override it."""

from __future__ import annotations

# Where the data lives. Empty means a SQLite file in the instance folder.
DATABASE_URL = ""

# "development" enables conveniences that must never reach production.
ENV = "production"

# The series a fresh installation starts with; organizers change it later.
SERIES_NAME = "Lectern Talks"
SERIES_TIMEZONE = "America/Montreal"
SERIES_DEFAULT_MINUTES = 60
SERIES_CONTACT_EMAIL = "talks@example.org"

# Public address of the site, used in feeds and calendar files when there is no request.
SITE_URL = "http://127.0.0.1:5000"

# Reverse proxies in front of Lectern whose X-Forwarded-For header is trusted (0: none). The scheme,
# host and path prefix always come from SITE_URL, never from a header.
PROXY_HOPS = 0

# How long a browser or proxy may reuse a talk page before asking again (seconds).
PUBLIC_PAGE_MAX_AGE = 60

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# None: Secure exactly when SITE_URL is https (config.py); true or false to force it.
SESSION_COOKIE_SECURE = None
# An organizer's cookie is set when they log in, not again on every page: a public page a proxy
# may cache never carries it, and activity does not stretch a login (see PERMANENT_SESSION_LIFETIME).
SESSION_REFRESH_EACH_REQUEST = False

# OpenID Connect login for organizers: the provider's discovery document and this client.
OIDC_METADATA_URL = ""
OIDC_CLIENT_ID = ""
OIDC_CLIENT_SECRET = ""
# Some institutional providers never send email_verified; set true only for such a provider.
OIDC_TRUSTED_EMAILS = False
# Seconds to wait for the provider before telling the person it cannot be reached.
OIDC_TIMEOUT = 10

# An organizer's login lasts this long (seconds) from the moment they logged in, active or not.
PERMANENT_SESSION_LIFETIME = 12 * 3600

# CSRF tokens last as long as the browser session: an attendee may open the form from an
# announcement and send it hours later.
WTF_CSRF_TIME_LIMIT = None

# Largest upload (an imported post), in bytes.
MAX_CONTENT_LENGTH = 2 * 1024 * 1024

# Email: "smtp" sends them, "console" prints them, "memory" keeps them (tests). Empty means
# "console" in development and "smtp" otherwise: a production site never prints its mail.
MAIL_BACKEND = ""
SMTP_HOST = "127.0.0.1"
SMTP_PORT = 25
SMTP_USERNAME = ""
SMTP_PASSWORD = ""
SMTP_STARTTLS = False
SMTP_SSL = False
SMTP_TIMEOUT = 10

# Online meetings: "zoom" creates them in Zoom, "fake" makes pretend ones (a laptop, tests), "none"
# leaves organizers to paste a link. Empty means "zoom" when the three Zoom credentials below are
# set, else "fake" in development and "none" otherwise: a production site never hands out fake links.
MEETING_PROVIDER = ""
# A Server-to-Server OAuth app in the Zoom App Marketplace: its account id, client id and secret.
ZOOM_ACCOUNT_ID = ""
ZOOM_CLIENT_ID = ""
ZOOM_CLIENT_SECRET = ""
# The Zoom user who hosts every meeting: "me" (the app's own user), a user id or an email address.
ZOOM_HOST_USER = "me"
# The secret token of the app's event subscription, to check the webhooks Zoom sends.
ZOOM_WEBHOOK_SECRET = ""
ZOOM_OAUTH_URL = "https://zoom.us/oauth/token"
# Used only when Zoom's token does not say which API address to use (its api_url).
ZOOM_API_BASE = "https://api.zoom.us/v2"
# Seconds to wait for Zoom to accept a connection, and then for its answer.
ZOOM_CONNECT_TIMEOUT = 5
ZOOM_READ_TIMEOUT = 20

# Jobs run in the consumer process; true runs them inside the request instead (tests only).
JOBS_IMMEDIATE = False

# Redis for the job queue and the rate limits, shared by several processes or hosts.
REDIS_URL = ""

# Without Redis, the job queue is this SQLite file. Empty means `jobs.db` in the instance folder.
JOBS_DB = ""

# Attendee data of a talk is erased this many days after it.
ATTENDEE_RETENTION_DAYS = 180

# Rate limits on sign-ups: aimed at abuse, loose enough for a whole lab behind one address.
RSVP_LIMIT_PER_EMAIL = "5 per 10 minutes"
RSVP_LIMIT_PER_ADDRESS = "2000 per minute"
RATELIMIT_ENABLED = True
# If Redis is unreachable, count in memory for a while rather than refuse every sign-up.
RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True

# Engine options. Errors and logs never show the values of a query (attendees' addresses, link
# nonces). An instance may add options (pool sizes): its dictionary is merged into this one.
SQLALCHEMY_ENGINE_OPTIONS = {"hide_parameters": True}

# PostgreSQL only: whether a COMMIT waits for its WAL to reach the disk (the server's
# `synchronous_commit`, set for Lectern's own connections). "off", as SQLite's
# `synchronous=NORMAL`: a killed Lectern process or a PostgreSQL restart loses nothing
# committed, a crash of the database server or of the machine may lose the last fraction of a
# second of commits (docs/deploy.md, "What a crash can lose"). "on" waits for the disk at
# every commit. Also "local", "remote_write", "remote_apply" (replication).
DATABASE_SYNCHRONOUS_COMMIT = "off"
