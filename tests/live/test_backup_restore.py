"""The backup and restore of docs/deploy.md, as an operator would do them, on PostgreSQL.

A site with a sign-up is dumped with pg_dump, restored with pg_restore into a fresh database,
brought up to date with `flask db upgrade` (as each deploy does) and served by a new gunicorn
with the same secret key: visitors get the same pages, and the attendee's manage link from
their email still opens their sign-up. A missing PostgreSQL or pg_dump skips, or fails under CI=true.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from tests.concurrency import live
from tests.conftest import skip_or_fail

TALK = f"/talks/{live.TALK_SLUG}"


def libpq_url(sqlalchemy_url: str) -> str:
    return re.sub(r"^postgresql\+psycopg://", "postgresql://", sqlalchemy_url)


def run(argv: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, cwd=live.ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{argv[0]} failed ({done.returncode}):\n{done.stderr}{done.stdout}"


def sign_up(server: live.Server) -> None:
    with requests.Session() as http:
        http.trust_env = False
        form = live.open_form(http, server)
        response = form.submit(name="Grace Hopper", email="grace@example.org", mode="room")
        assert live.is_accepted(response), response.text[:500]


def manage_link(database_url: str) -> str:
    """The manage page's path, as the confirmation email gives it."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rsvp_id, talk_id, nonce = conn.execute(
                text("SELECT id, talk_id, token_nonce FROM rsvp WHERE email = 'grace@example.org'")
            ).one()
    finally:
        engine.dispose()
    return live.manage_path(live.SECRET_KEY, rsvp_id, talk_id, nonce)


def get(server: live.Server, path: str) -> requests.Response:
    with requests.Session() as http:
        http.trust_env = False
        return http.get(server.url(path), allow_redirects=False, timeout=60)


def test_a_dump_restored_into_a_fresh_database_serves_the_same_site(tmp_path: Path) -> None:
    reason = live.postgres_unreachable()
    if reason:
        skip_or_fail(reason)
    for tool in ("pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} is not installed (Debian: postgresql-client)")
    dump = tmp_path / "lectern.dump"
    original, restored = tmp_path / "original", tmp_path / "restored"
    original.mkdir()
    restored.mkdir()

    with live.throwaway_postgres("lectern_backup") as source_url:
        env = live.lectern_env(original, source_url)
        live.prepare_instance(env)
        with live.gunicorn("app:create_app()", env, original, name="original") as server:
            sign_up(server)
            manage = manage_link(source_url)
            before = {path: get(server, path) for path in ("/", TALK, manage)}
        assert before[manage].status_code == 200 and "Grace Hopper" in before[manage].text
        # The backup: the database, in pg_dump's own format.
        run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", libpq_url(source_url)])

    with live.throwaway_postgres("lectern_restore") as target_url:
        run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq_url(target_url)}", str(dump)])
        env = live.lectern_env(restored, target_url)  # the same secret key: the manage links stay good
        run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], env=env)
        with live.gunicorn("app:create_app()", env, restored, name="restored") as server:
            after = {path: get(server, path) for path in ("/", TALK, manage)}
            forged = get(server, manage[:-4] + "AAAA")
            assert forged.status_code in (400, 404) and "Grace Hopper" not in forged.text, "a forged link opens nothing"
        assert after["/"].content == before["/"].content
        assert after[TALK].content == before[TALK].content
        assert after[manage].status_code == 200
        assert "Grace Hopper" in after[manage].text and "grace@example.org" in after[manage].text
        assert "You have a seat in the room" in after[manage].text
