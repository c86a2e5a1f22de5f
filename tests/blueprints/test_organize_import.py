"""The import page with a zipped site: a dry-run report first, the import on confirmation, and
archives that try path tricks or bombs refused."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from extensions import db
from models import AuditEntry, Talk
from services import organizers
from tests.blueprints.conftest import EVE, logged_in

FIXTURES = Path(__file__).resolve().parents[1] / "services" / "fixtures"


def zipped(folder: Path, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + path.relative_to(folder).as_posix())
    return buffer.getvalue()


def archive_of(entries: dict[str, bytes], *, infos: list[tuple[zipfile.ZipInfo, bytes]] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for info, data in infos:
            archive.writestr(info, data)
    return buffer.getvalue()


def upload(client: FlaskClient, raw: bytes, name: str = "site.zip", **fields: str):
    data = {"archive": (io.BytesIO(raw), name), "format": "auto", "old_site": "", **fields}
    return client.post("/organize/import/site", data=data, content_type="multipart/form-data")


def token_of(page: str) -> str:
    marker = 'action="/organize/import/site/'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_a_zipped_site_is_previewed_then_imported_on_confirmation(seeded: Flask, ada: FlaskClient) -> None:
    before = count(seeded, Talk)
    response = upload(ada, zipped(FIXTURES / "hugo-toml", prefix="syntax-site/"), name="syntax-site.zip")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "What importing syntax-site.zip would do" in page and "Nothing is imported yet" in page
    assert "Counting Morae in Fast Speech" in page and "Kenji Nakamura" in page and "Eastbrook University" in page
    assert "content/talks/symposium.md" in page and "time to be set" in page and "check the time" in page
    assert "a section&#39;s list page" in page, "what is skipped says why"
    assert "Import 12 talks" in page
    assert count(seeded, Talk) == before, "a preview writes nothing"

    token = token_of(page)
    done = ada.post(f"/organize/import/site/{token}")
    assert done.status_code == 200
    result = done.get_data(as_text=True)
    assert "Imported syntax-site.zip" in result and 'href="/talks/2029-03-15-nakamura"' in result
    assert count(seeded, Talk) == before + 12
    with seeded.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "talk.imported")).all()
    assert len(actions) == 12
    again = ada.post(f"/organize/import/site/{token}", follow_redirects=True)
    assert "expired or was already imported" in again.get_data(as_text=True)
    assert count(seeded, Talk) == before + 12, "a confirmation imports once"


def test_the_confirmation_imports_the_previewed_archive_and_nothing_else(
    seeded: Flask, ada: FlaskClient, tmp_path: Path
) -> None:
    first = token_of(upload(ada, zipped(FIXTURES / "wowchemy")).get_data(as_text=True))
    upload(ada, zipped(FIXTURES / "hugo-yaml"))  # another preview, never confirmed
    ada.post(f"/organize/import/site/{first}")
    with seeded.app_context():
        titles = set(db.session.scalars(select(Talk.title)))
    assert "Vowel Harmony at Scale" in titles and "Counting Syllables in Child Speech" not in titles


def test_cancel_forgets_the_upload(seeded: Flask, ada: FlaskClient) -> None:
    token = token_of(upload(ada, zipped(FIXTURES / "wowchemy")).get_data(as_text=True))
    response = ada.post(f"/organize/import/site/{token}/cancel", follow_redirects=True)
    assert "Nothing was imported." in response.get_data(as_text=True)
    assert not list((Path(seeded.instance_path) / "import-uploads").glob(f"{token}*"))
    assert "expired" in ada.post(f"/organize/import/site/{token}", follow_redirects=True).get_data(as_text=True)


def test_another_organizer_cannot_confirm_someone_elses_preview(seeded: Flask, ada: FlaskClient) -> None:
    with seeded.app_context():
        organizers.add(db.session, EVE.email, invited_by="test")
        db.session.commit()
    eve = logged_in(seeded, EVE)
    before = count(seeded, Talk)
    token = token_of(upload(ada, zipped(FIXTURES / "wowchemy")).get_data(as_text=True))
    assert "expired" in eve.post(f"/organize/import/site/{token}", follow_redirects=True).get_data(as_text=True)
    assert count(seeded, Talk) == before


def test_a_bad_token_is_turned_away(ada: FlaskClient) -> None:
    for token in ("../../secret_key", "nope", "A" * 32):
        response = ada.post(f"/organize/import/site/{token}")
        assert response.status_code in (302, 404)


def test_archives_with_path_tricks_are_refused_whole(seeded: Flask, ada: FlaskClient) -> None:
    post = (FIXTURES / "hugo-toml/content/talks/haddad.md").read_bytes()
    link = zipfile.ZipInfo("content/talks/link.md")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    cases = {
        "climbs out": archive_of({"content/talks/haddad.md": post, "../escape.md": post}),
        "absolute path": archive_of({"/etc/escape.md": post}),
        "absolute path ": archive_of({"C:\\talks\\escape.md": post}),
        "a link or a device": archive_of({}, infos=[(link, b"/etc/passwd")]),
        "twice": archive_of({"a/talk.md": post, "a/TALK.md": post}),
        "not a zip archive": b"just some text, not a zip",
    }
    before = count(seeded, Talk)
    for reason, raw in cases.items():
        response = upload(ada, raw)
        assert response.status_code == 400, reason
        assert reason.strip() in response.get_data(as_text=True), reason
    assert count(seeded, Talk) == before


def test_a_zip_bomb_stops_at_the_bound(seeded: Flask, ada: FlaskClient) -> None:
    entries = {f"content/talks/page-{n}.md": b"---\ntitle: x\n---\n" + b" " * 1_000_000 for n in range(40)}
    raw = archive_of(entries)
    assert len(raw) < 2 * 1024 * 1024, "small enough to upload"
    response = upload(ada, raw)
    assert response.status_code == 400
    assert "unpacks to more than 32 MB" in response.get_data(as_text=True)


def test_too_many_entries_are_refused(ada: FlaskClient) -> None:
    raw = archive_of({f"f{n}.txt": b"" for n in range(5_001)})
    response = upload(ada, raw)
    assert response.status_code == 400 and "5,001 entries" in response.get_data(as_text=True)


def test_a_page_larger_than_a_post_is_reported_and_the_rest_imported(seeded: Flask, ada: FlaskClient) -> None:
    post = (FIXTURES / "hugo-toml/content/talks/haddad.md").read_bytes()
    raw = archive_of({"content/talks/haddad.md": post, "content/talks/huge.md": b"x" * 1_100_000})
    page = upload(ada, raw).get_data(as_text=True)
    assert "content/talks/huge.md" in page and "larger than 1024 KB" in page
    assert "Emphatic Consonants Across Dialects" in page and "Import 1 talk" in page


def test_the_import_page_offers_both_ways_in(ada: FlaskClient) -> None:
    page = ada.get("/organize/import").get_data(as_text=True)
    assert "A whole site" in page and "One post" in page
    assert 'name="archive"' in page and 'name="post"' in page
    assert page.count('id="site_url"') == 1, "each field has an id of its own"
