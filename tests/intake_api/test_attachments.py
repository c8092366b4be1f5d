"""Attachments over HTTP: multipart uploads by integrations and staff, limits, content checks, EXIF removal,
thumbnails, the trail, signed downloads scoped like the request, Open311's public `media_url`; and the same
on a real S3-compatible server (moto's)."""

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from services.attachments import links
from services.attachments.storage import LocalStorage, use_storage
from services.models import Request
from services.models.attachments import Attachment
from shared.settings import get_settings
from tests.factories import at_grid, bearer, make_api_key, make_staff
from tests.kit import accept_and_resolve, count_rows, create_request, problem, routed_to_handler
from tests.services.attachments.kit import (
    PDF,
    has_location_or_camera,
    jpeg_with_exif,
    moto_s3,
    noisy_png,
    opened,
    png,
    s3_storage,
)

JPEG = "image/jpeg"


@pytest.fixture(autouse=True)
def local_store(tmp_path: Path) -> Iterator[Path]:
    """Every test keeps its files in a folder of its own (not the repository's `.data/`)."""
    use_storage(LocalStorage(tmp_path / "attachments"))
    yield tmp_path / "attachments"
    use_storage(None)


def url(request_id: int) -> str:
    return f"/v1/requests/{request_id}/attachments"


def photo(name: str = "现场.jpg", data: bytes | None = None, mime: str = JPEG) -> tuple[str, tuple[str, bytes, str]]:
    return ("files", (name, data if data is not None else jpeg_with_exif(), mime))


async def upload(client: Any, request_id: int, headers: dict[str, str], *files: Any, **form: Any) -> Any:
    return await client.post(
        url(request_id), files=list(files) or [photo()], data={k: str(v) for k, v in form.items()}, headers=headers
    )


async def fetch(client: Any, link: str) -> Any:
    return await client.get(link)


async def test_an_integration_attaches_a_photo_stripped_of_location_with_a_thumbnail_and_a_trail_entry(
    intake_client, session, setup, local_store
):
    created = await create_request(intake_client, setup["key"])
    original = jpeg_with_exif(64, 32)
    answer = await upload(intake_client, created["id"], setup["key"], photo("IMG_0001.JPG", original))
    assert answer.status_code == 201, answer.text
    [item] = answer.json()["items"]
    assert item["target"] == "request" and item["content_type"] == JPEG
    assert item["metadata_kept"] is False and item["public"] is True
    assert item["uploaded_by"].startswith("key:") and item["filename"] == "IMG_0001.JPG"
    assert (item["width"], item["height"]) == (32, 64)  # turned upright by its EXIF orientation

    stored = await fetch(intake_client, item["links"]["download"])
    assert stored.status_code == 200 and stored.headers["content-type"] == JPEG
    assert stored.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert not has_location_or_camera(stored.content)
    assert hashlib.sha256(stored.content).hexdigest() == item["sha256"] and len(stored.content) == item["size_bytes"]

    thumb = await fetch(intake_client, item["links"]["thumbnail"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == JPEG
    assert max(opened(thumb.content).size) <= get_settings().attachment_thumbnail_px

    events = (await intake_client.get(f"/v1/requests/{created['id']}/events", headers=setup["key"])).json()
    entry = events["items"][-1]
    assert entry["kind"] == "attachments_added" and events["chain_intact"]
    assert entry["data"]["files"] == [
        {"attachment_id": item["id"], "content_type": JPEG, "size_bytes": item["size_bytes"], "sha256": item["sha256"]}
    ]
    # Attaching is not a state change: the version (which the routing job checks) did not move.
    request = await session.get(Request, created["id"])
    assert request.version == 1
    assert sorted(p.name for p in local_store.rglob("*") if p.is_file()) == ["original", "public", "thumbnail"]


async def test_the_after_photos_go_on_the_resolution_by_its_author_only(intake_client, session, setup):
    request, handler = await routed_to_handler(intake_client, session, setup)
    await accept_and_resolve(intake_client, request, handler)
    events = (await intake_client.get(f"/v1/requests/{request.id}/events", headers=handler)).json()["items"]
    resolved = next(e["seq"] for e in events if e["kind"] == "resolved")
    accepted = next(e["seq"] for e in events if e["kind"] == "accepted")

    after = await upload(
        intake_client, request.id, handler, photo("整改后.jpg"), target="resolution", event_seq=resolved
    )
    assert after.status_code == 201, after.text
    assert after.json()["items"][0]["event_seq"] == resolved

    wrong_kind = problem(await upload(intake_client, request.id, handler, target="resolution", event_seq=accepted), 422)
    assert wrong_kind["errors"][0]["field"] == "event_seq"
    missing = problem(await upload(intake_client, request.id, handler, target="note"), 422)
    assert missing["errors"][0]["field"] == "event_seq"
    problem(
        await upload(intake_client, request.id, bearer(setup["dispatcher"]), target="resolution", event_seq=resolved),
        403,
    )
    # The integration attaches to the request itself only.
    problem(await upload(intake_client, request.id, setup["key"], target="resolution", event_seq=resolved), 403)


async def test_a_clerk_may_keep_the_metadata_an_integration_may_not(intake_client, session, setup):
    created = await create_request(intake_client, setup["key"])
    clerk = await make_staff(session, "window_clerk", "clerk", setup["units"]["3302"])
    await session.commit()
    kept = await upload(intake_client, created["id"], bearer(clerk), keep_metadata="true")
    assert kept.status_code == 201, kept.text
    [item] = kept.json()["items"]
    assert item["metadata_kept"] is True
    assert has_location_or_camera((await fetch(intake_client, item["links"]["download"])).content)
    # The thumbnail never carries it.
    assert not has_location_or_camera((await fetch(intake_client, item["links"]["thumbnail"])).content)

    refused = problem(await upload(intake_client, created["id"], setup["key"], keep_metadata="true"), 422)
    assert refused["errors"][0]["field"] == "keep_metadata"


async def test_types_are_checked_by_content_and_the_answer_names_the_file(intake_client, setup):
    created = await create_request(intake_client, setup["key"])
    disguised = ("files", ("photo.jpg", b"<html><script>alert(1)</script></html>", JPEG))
    body = problem(await upload(intake_client, created["id"], setup["key"], photo(), disguised), 415)
    assert body["errors"][0]["field"] == "files.1"
    broken = ("files", ("broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 100, JPEG))
    assert (
        problem(await upload(intake_client, created["id"], setup["key"], broken), 422)["errors"][0]["field"]
        == "files.0"
    )
    # A PNG named .pdf and sent as a PDF is a PNG; a PDF is accepted by its magic bytes.
    answer = await upload(
        intake_client,
        created["id"],
        setup["key"],
        ("files", ("scan.pdf", png(), "application/pdf")),
        ("files", ("证明.bin", PDF, "application/octet-stream")),
    )
    assert answer.status_code == 201, answer.text
    assert [i["content_type"] for i in answer.json()["items"]] == ["image/png", "application/pdf"]
    assert answer.json()["items"][1]["links"]["thumbnail"] is None
    pdf = await fetch(intake_client, answer.json()["items"][1]["links"]["download"])
    assert pdf.content == PDF and pdf.headers["content-disposition"].startswith("attachment;")
    # Nothing of a refused upload was kept: only the two accepted files.
    listed = (await intake_client.get(url(created["id"]), headers=setup["key"])).json()["items"]
    assert len(listed) == 2


async def test_size_and_count_limits(intake_client, session, setup, monkeypatch):
    created = await create_request(intake_client, setup["key"])
    settings = get_settings()
    monkeypatch.setattr(settings, "attachment_max_bytes", 2_000)
    big = problem(await upload(intake_client, created["id"], setup["key"], photo(data=noisy_png())), 413)
    assert big["errors"][0]["field"] == "files.0"
    monkeypatch.setattr(settings, "attachment_max_bytes", 10_000_000)
    monkeypatch.setattr(settings, "attachment_max_files", 2)
    three = [photo(), photo(), photo()]
    assert (
        problem(await upload(intake_client, created["id"], setup["key"], *three), 422)["errors"][0]["field"] == "files"
    )
    monkeypatch.setattr(settings, "attachment_max_per_request", 3)
    assert (await upload(intake_client, created["id"], setup["key"], photo(), photo())).status_code == 201
    body = problem(await upload(intake_client, created["id"], setup["key"], photo(), photo()), 422)
    assert "1 more" in body["errors"][0]["msg"]
    assert await count_rows(session, Attachment) == 2


async def test_attachments_are_read_like_the_request(intake_client, session, setup):
    created = await create_request(intake_client, setup["key"])
    assert (await upload(intake_client, created["id"], setup["key"])).status_code == 201
    elsewhere = await make_staff(session, "other_district", "dispatcher", setup["units"]["330205"])
    _, other_key = await make_api_key(session, rights=("requests:create", "requests:read"))
    await session.commit()
    for headers in (bearer(elsewhere), {"X-API-Key": other_key}):
        problem(await intake_client.get(url(created["id"]), headers=headers), 404)
        problem(await upload(intake_client, created["id"], headers), 404)
    problem(await intake_client.get(url(created["id"])), 401)
    listed = await intake_client.get(url(created["id"]), headers=bearer(setup["dispatcher"]))
    assert listed.status_code == 200 and len(listed.json()["items"]) == 1
    item = listed.json()["items"][0]
    one = await intake_client.get(f"{url(created['id'])}/{item['id']}", headers=bearer(setup["dispatcher"]))
    assert one.status_code == 200 and one.json()["sha256"] == item["sha256"]
    problem(
        await intake_client.get(f"{url(created['id'])}/{item['id'] + 99}", headers=bearer(setup["dispatcher"])), 404
    )
    # A supervisor reads but does not attach.
    supervisor = await make_staff(session, "supervisor", "supervisor", setup["units"]["3302"])
    await session.commit()
    problem(await upload(intake_client, created["id"], bearer(supervisor)), 403)


async def test_signed_links_refuse_tampering_expiry_and_no_signature(intake_client, setup):
    created = await create_request(intake_client, setup["key"])
    item = (await upload(intake_client, created["id"], setup["key"])).json()["items"][0]
    link = item["links"]["download"]
    query = parse_qs(urlsplit(link).query)
    base = urlsplit(link).path
    problem(await intake_client.get(f"{base}?variant=original&expires={query['expires'][0]}"), 401)
    problem(await intake_client.get(link.replace("variant=original", "variant=thumbnail")), 403)
    problem(await intake_client.get(link.replace(f"/{item['id']}/", f"/{item['id'] + 1}/")), 403)
    later = int(query["expires"][0]) + 3600
    problem(await intake_client.get(f"{base}?variant=original&expires={later}&signature={query['signature'][0]}"), 403)
    key = links.link_key(get_settings().secret_key.get_secret_value())
    past = int(time.time()) - 1
    expired = links.download_path(key, item["id"], "original", past)
    assert "expired" in problem(await intake_client.get(expired), 403)["detail"]
    assert (await intake_client.get(link)).status_code == 200


async def test_open311_shows_the_public_copy_of_a_public_requests_photo(intake_client, session, setup):
    created = await create_request(intake_client, setup["key"])
    assert (await upload(intake_client, created["id"], setup["key"])).status_code == 201
    [public] = (await intake_client.get(f"/open311/v2/requests/{created['id']}.json")).json()
    media_url = public["media_url"]
    assert media_url.startswith("http://intake.test/open311/v2/media/") and media_url.endswith(".jpg")
    copy = await intake_client.get(urlsplit(media_url).path)
    assert copy.status_code == 200 and copy.headers["content-type"] == JPEG
    assert not has_location_or_camera(copy.content)
    assert max(opened(copy.content).size) <= get_settings().attachment_public_px
    listed = (await intake_client.get("/open311/v2/requests.json")).json()
    assert [r["media_url"] for r in listed if r["service_request_id"] == str(created["id"])] == [media_url]

    # Once the request is no longer public (anonymous here), its photo is not served either.
    await session.execute(update(Request).where(Request.id == created["id"]).values(anonymous=True))
    await session.commit()
    gone = await intake_client.get(urlsplit(media_url).path)
    assert gone.status_code == 404 and gone.headers["content-type"].startswith("application/json")
    assert (await intake_client.get("/open311/v2/media/not-a-token.jpg")).status_code == 404


async def test_a_photo_on_a_private_note_gets_no_public_copy(intake_client, session, setup):
    request, handler = await routed_to_handler(intake_client, session, setup)
    noted = await intake_client.post(f"/v1/requests/{request.id}/note", json={"text": "内部记录"}, headers=handler)
    assert noted.status_code == 200, noted.text
    seq = (await intake_client.get(f"/v1/requests/{request.id}/events", headers=handler)).json()["items"][-1]["seq"]
    answer = await upload(intake_client, request.id, handler, target="note", event_seq=seq)
    assert answer.status_code == 201, answer.text
    assert answer.json()["items"][0]["public"] is False
    [public] = (await intake_client.get(f"/open311/v2/requests/{request.id}.json")).json()
    assert public["media_url"] is None


async def test_upload_and_download_on_a_real_s3_server(intake_client, session, setup):
    with moto_s3() as (endpoint, client, bucket):
        use_storage(s3_storage(endpoint, bucket, prefix="minqing"))
        created = await create_request(intake_client, setup["key"], at_grid(1))
        answer = await upload(intake_client, created["id"], setup["key"], photo(), ("files", ("a.pdf", PDF, "x/y")))
        assert answer.status_code == 201, answer.text
        jpeg, pdf = answer.json()["items"]
        keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
        assert len(keys) == 4 and all(k.startswith(f"minqing/{created['id']}/") for k in keys)
        downloaded = await fetch(intake_client, jpeg["links"]["download"])
        assert hashlib.sha256(downloaded.content).hexdigest() == jpeg["sha256"]
        assert not has_location_or_camera(downloaded.content)
        assert (await fetch(intake_client, jpeg["links"]["thumbnail"])).status_code == 200
        assert (await fetch(intake_client, pdf["links"]["download"])).content == PDF
        [public] = (await intake_client.get(f"/open311/v2/requests/{created['id']}.json")).json()
        assert (await intake_client.get(urlsplit(public["media_url"]).path)).status_code == 200
