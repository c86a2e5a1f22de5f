"""The organizer area: talks, rooms, imports, settings, co-organizers, audit log, and who may see it."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from extensions import db
from models import AuditEntry, Organizer, OutboxMessage, Room, Series, Talk, TalkStatus
from services import chats, signups
from tests.blueprints.conftest import ADA, EVE, logged_in, talk_form
from tests.conftest import CORPUS


def one_talk(slug: str) -> Talk:
    return db.session.scalars(select(Talk).where(Talk.slug == slug)).one()


# Talks ----------------------------------------------------------------------------------


def test_talk_list_puts_upcoming_first(ada: FlaskClient) -> None:
    page = ada.get("/organize/").get_data(as_text=True)
    assert page.index("What Quiet Benchmarks Hide") < page.index("Reading the Tide Tables")
    assert page.index("Upcoming") < page.index("Past")


def test_create_a_talk_in_the_series_time_zone(seeded: Flask, ada: FlaskClient) -> None:
    response = ada.post("/organize/talks/new", data=talk_form())
    assert response.status_code == 302
    with seeded.app_context():
        talk = one_talk("tidy-datasets-messy-worlds")
        # 11:30 in Montreal on March 14, 2031 is daylight time (UTC-4).
        assert talk.starts_at.isoformat() == "2031-03-14T15:30:00+00:00"
        assert talk.speakers[0].affiliation == "Northern Institute"
        assert talk.semester.slug == "winter-2031"
    public = ada.get("/talks/tidy-datasets-messy-worlds").get_data(as_text=True)
    assert "11:30 AM – 12:30 PM EDT" in public and "Rosa Lindqvist" in public
    edit = ada.get(response.headers["Location"]).get_data(as_text=True)
    assert 'value="2031-03-14"' in edit and 'value="11:30"' in edit, "shown back in the series' zone"


def test_invalid_talk_is_refused_with_messages_and_nothing_saved(seeded: Flask, ada: FlaskClient) -> None:
    response = ada.post(
        "/organize/talks/new",
        data=talk_form(title="", day="not a date", paper_url="ftp:/x", **{"parts-0-speakers": "A | B | C | D"}),
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This field is required." in page
    assert "Give a full address" in page
    with seeded.app_context():
        assert db.session.scalars(select(Talk).where(Talk.title == "")).first() is None


def test_a_talk_needs_a_room_or_a_platform(ada: FlaskClient) -> None:
    response = ada.post("/organize/talks/new", data=talk_form(online_platform=""))
    assert response.status_code == 400
    assert "Give a room, an online platform, or both." in response.get_data(as_text=True)


def test_taken_address_is_refused(ada: FlaskClient) -> None:
    response = ada.post("/organize/talks/new", data=talk_form(slug="what-quiet-benchmarks-hide"))
    assert response.status_code == 400
    assert "already has the address" in response.get_data(as_text=True)


def test_preview_renders_the_page_and_saves_nothing(seeded: Flask, ada: FlaskClient) -> None:
    response = ada.post("/organize/talks/new", data=talk_form(save="", preview="Preview"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Preview: nothing is saved yet" in page
    assert "Why data gets <em>messy</em>." in page
    with seeded.app_context():
        assert db.session.scalars(select(Talk).where(Talk.slug == "tidy-datasets-messy-worlds")).first() is None


def test_add_a_part_for_a_multi_part_session(seeded: Flask, ada: FlaskClient) -> None:
    page = ada.post("/organize/talks/new", data=talk_form(save="", add_part="Add a part")).get_data(as_text=True)
    assert 'name="parts-1-speakers"' in page
    form = talk_form(
        **{
            "parts-0-title": "First",
            "parts-1-title": "Second",
            "parts-1-speakers": "Omar Haddad",
            "parts-1-abstract_md": "",
        }
    )
    assert ada.post("/organize/talks/new", data=form).status_code == 302
    with seeded.app_context():
        assert [p.title for p in one_talk("tidy-datasets-messy-worlds").parts] == ["First", "Second"]


def test_edit_records_before_and_after_in_the_audit_log(seeded: Flask, ada: FlaskClient) -> None:
    with seeded.app_context():
        talk_id = one_talk("what-quiet-benchmarks-hide").id
    form = ada.get(f"/organize/talks/{talk_id}/edit").get_data(as_text=True)
    assert "Tomasz Ilunga-Berg | University of the Northern Plains | https://example.org/~tomasz" in form
    data = talk_form(title="What Loud Benchmarks Hide", slug="what-quiet-benchmarks-hide")
    assert ada.post(f"/organize/talks/{talk_id}/edit", data=data).status_code == 302
    with seeded.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "talk.update")).one()
        assert entry.actor == "ada@example.edu"
        assert entry.before["title"] == "What Quiet Benchmarks Hide"
        assert entry.after["title"] == "What Loud Benchmarks Hide"
        assert one_talk("what-quiet-benchmarks-hide").sequence == 1, "a new date matters to attendees"
    log = ada.get("/organize/audit").get_data(as_text=True)
    assert "talk.update" in log and "What Loud Benchmarks Hide" in log


def test_unpublished_talk_disappears_from_public_pages(seeded: Flask, ada: FlaskClient) -> None:
    with seeded.app_context():
        talk_id = one_talk("what-quiet-benchmarks-hide").id
    assert ada.get("/talks/what-quiet-benchmarks-hide").status_code == 200
    assert ada.post(f"/organize/talks/{talk_id}/unpublish").status_code == 302
    assert ada.get("/talks/what-quiet-benchmarks-hide").status_code == 404
    for url in ("/", "/calendar.ics", "/feed.atom", "/semesters"):
        assert "Quiet Benchmarks" not in ada.get(url).get_data(as_text=True)
    assert ada.post(f"/organize/talks/{talk_id}/publish").status_code == 302
    assert ada.get("/talks/what-quiet-benchmarks-hide").status_code == 200


def test_mark_cancelled_shows_on_the_public_page(seeded: Flask, ada: FlaskClient) -> None:
    with seeded.app_context():
        talk_id = one_talk("what-quiet-benchmarks-hide").id
    ada.post(f"/organize/talks/{talk_id}/cancel")
    assert "This talk is cancelled" in ada.get("/talks/what-quiet-benchmarks-hide").get_data(as_text=True)
    with seeded.app_context():
        assert one_talk("what-quiet-benchmarks-hide").status == TalkStatus.CANCELLED


def test_delete_asks_first_then_removes(seeded: Flask, ada: FlaskClient) -> None:
    with seeded.app_context():
        talk_id = one_talk("what-quiet-benchmarks-hide").id
    assert "Delete “What Quiet Benchmarks Hide”?" in ada.get(f"/organize/talks/{talk_id}/delete").get_data(as_text=True)
    assert ada.post(f"/organize/talks/{talk_id}/delete").status_code == 302
    assert ada.get("/talks/what-quiet-benchmarks-hide").status_code == 404
    with seeded.app_context():
        assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "talk.delete")).one().before


# Rooms, import, settings, organizers ----------------------------------------------------------


def test_rooms_are_added_edited_and_kept_while_used(seeded: Flask, ada: FlaskClient) -> None:
    response = ada.post("/organize/rooms", data={"name": "Room C3", "capacity": "24", "directions": "Third floor."})
    assert response.status_code == 302
    assert ada.post("/organize/rooms", data={"name": "room c3"}).status_code == 400, "names are unique"
    with seeded.app_context():
        room = db.session.scalars(select(Room).where(Room.name == "Room C3")).one()
        used = db.session.scalars(select(Room).where(Room.name == "Auditorium 2")).one()
        room_id, used_id = room.id, used.id
    ada.post(f"/organize/rooms/{room_id}/edit", data={"name": "Room C3", "capacity": "30", "directions": "Lift to 3."})
    ada.post(f"/organize/rooms/{used_id}/delete")
    page = ada.get("/organize/rooms").get_data(as_text=True)
    assert "Auditorium 2" in page, "a room with talks is not removed"
    with seeded.app_context():
        assert db.session.get(Room, room_id).capacity == 30


def test_upload_a_post_to_import_it(seeded: Flask, ada: FlaskClient) -> None:
    post = CORPUS / "_posts/reading-group/summer-2024/2024-07-29-ivan-vulic.md"
    data = {"post": (io.BytesIO(post.read_bytes()), post.name), "site_url": ""}
    response = ada.post("/organize/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "2024-07-29-ivan-vulic.md: imported" in page
    assert ada.get("/talks/2024-07-29-ivan-vulic").status_code == 200
    broken = {"post": (io.BytesIO(b"---\ntitle: [oops\n---\n"), "2030-01-01-x.md")}
    response = ada.post("/organize/import", data=broken, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "failed" in response.get_data(as_text=True)


def test_upload_of_a_post_nested_a_thousand_deep_shows_why_it_failed(seeded: Flask, ada: FlaskClient) -> None:
    deep = b"---\ntitle: Deep\nnames: " + b"{a: " * 1000 + b"b" + b"}" * 1000 + b"\n---\n\nText.\n"
    response = ada.post(
        "/organize/import", data={"post": (io.BytesIO(deep), "2030-01-01-deep.md")}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "2030-01-01-deep.md: failed" in page
    assert "front matter is nested more than" in page
    assert ada.get("/organize/import").status_code == 200, "the organizer can go on importing"


def test_changing_the_time_zone_keeps_talks_at_their_instants(seeded: Flask, ada: FlaskClient) -> None:
    with seeded.app_context():
        before = one_talk("what-quiet-benchmarks-hide").starts_at
    settings = {"name": "Test Series", "timezone": "Europe/Paris", "default_minutes": "90", "default_room": "0"}
    assert ada.post("/organize/settings", data=settings).status_code == 302
    with seeded.app_context():
        assert one_talk("what-quiet-benchmarks-hide").starts_at == before
        assert db.session.scalars(select(Series)).one().timezone == "Europe/Paris"
    page = ada.get("/talks/what-quiet-benchmarks-hide").get_data(as_text=True)
    assert "CET" in page
    bad = ada.post("/organize/settings", data={**settings, "timezone": "Mars/Olympus"})
    assert bad.status_code == 400 and "is not a time zone" in bad.get_data(as_text=True)


def test_invite_a_co_organizer_who_can_then_log_in(seeded: Flask, ada: FlaskClient) -> None:
    assert ada.post("/organize/organizers", data={"email": "eve@example.edu"}).status_code == 302
    eve = logged_in(seeded, EVE)
    assert eve.get("/organize/").status_code == 200
    with seeded.app_context():
        assert db.session.scalars(select(Organizer).where(Organizer.email == "eve@example.edu")).one().invited_by == (
            "ada@example.edu"
        )


# Who may see what ---------------------------------------------------------------------------


def organize_routes(app: Flask) -> list[tuple[str, str]]:
    """Every route under /organize with every method it accepts, from the URL map itself."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/organize"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((method, rule.rule))
    return found


def concrete(rule: str, ids: dict[str, int]) -> str:
    return re.sub(r"<int:(\w+)>", lambda m: str(ids[m.group(1)]), rule)


@pytest.fixture
def ids(seeded: Flask) -> dict[str, int]:
    with seeded.app_context():
        talk = one_talk("what-quiet-benchmarks-hide")
        signed = signups.sign_up(
            db.session, talk.id, name="Mo", email="mo@example.org", mode="room", now=datetime.now(UTC)
        )
        now = datetime.now(UTC)
        slot = chats.add_slots(
            db.session, talk.id, first_starts_at=None, count=2, minutes=15, capacity=1, place=None, now=now
        )[0]
        chats.choose_slot(db.session, signed.rsvp.id, slot.id, now, by_organizer=True)
        db.session.commit()
        return {
            "rsvp_id": signed.rsvp.id,
            "slot_id": slot.id,
            "talk_id": talk.id,
            "room_id": db.session.scalars(select(Room)).first().id,
            "organizer_id": db.session.scalars(select(Organizer)).first().id,
            "message_id": db.session.scalars(select(OutboxMessage)).first().id,
        }


def test_the_matrix_covers_every_organizer_route(app: Flask) -> None:
    routes = organize_routes(app)
    assert ("GET", "/organize/") in routes
    assert ("POST", "/organize/talks/<int:talk_id>/delete") in routes
    assert len(routes) >= 20


@pytest.mark.parametrize("who", ["anonymous", "stranger", "organizer"])
def test_authorization_matrix(seeded: Flask, ids: dict[str, int], who: str) -> None:
    if who == "anonymous":
        client = seeded.test_client()
    elif who == "stranger":
        client = logged_in(seeded, EVE)
    else:
        client = logged_in(seeded, ADA)
    for method, rule in organize_routes(seeded):
        url = concrete(rule, ids)
        response = client.open(url, method=method)
        if who == "anonymous":
            assert response.status_code == 302, (method, url)
            assert response.headers["Location"].startswith("/login?next="), (method, url)
        elif who == "stranger":
            assert response.status_code == 403, (method, url)
        else:
            assert response.status_code not in (302, 401, 403) or "/login" not in response.headers.get(
                "Location", ""
            ), (
                method,
                url,
            )
            assert response.status_code < 500 and response.status_code not in (401, 403), (method, url)


def test_preview_of_an_existing_talk_changes_nothing(seeded: Flask, ada: FlaskClient) -> None:
    with seeded.app_context():
        talk_id = one_talk("what-quiet-benchmarks-hide").id
    data = talk_form(title="Not Saved Yet", slug="what-quiet-benchmarks-hide", save="", preview="Preview")
    page = ada.post(f"/organize/talks/{talk_id}/edit", data=data).get_data(as_text=True)
    assert "Not Saved Yet" in page
    with seeded.app_context():
        assert one_talk("what-quiet-benchmarks-hide").title == "What Quiet Benchmarks Hide"
    assert "Not Saved Yet" not in ada.get("/talks/what-quiet-benchmarks-hide").get_data(as_text=True)


def test_every_button_on_the_organizer_pages_carries_its_csrf_token(seeded: Flask) -> None:
    """With CSRF on as in production, each form a page shows is accepted when a browser submits it."""
    seeded.config["WTF_CSRF_ENABLED"] = True
    ada = logged_in(seeded, ADA)
    with seeded.app_context():
        talk_id = one_talk("what-quiet-benchmarks-hide").id
    pages = ["/organize/", "/organize/rooms", "/organize/organizers", f"/organize/talks/{talk_id}/attendees"]
    checked = 0
    for page in pages:
        html = ada.get(page).get_data(as_text=True)
        for action, body in re.findall(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', html, re.S):
            token = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', body)
            assert token, f"a form on {page} posting to {action} has no CSRF token"
            checked += 1
    assert checked >= 10
    html = ada.get("/organize/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)[1]
    response = ada.post(f"/organize/talks/{talk_id}/cancel", data={"csrf_token": token})
    assert response.status_code == 302
    with seeded.app_context():
        assert one_talk("what-quiet-benchmarks-hide").status == TalkStatus.CANCELLED
