"""POST/GET /v1/requests: creation from every channel, idempotency, validation, PII, scope, audit trail."""

import asyncio
from datetime import datetime

import pytest
from sqlalchemy import select, text

from services.models import OutboxEntry, Request
from services.sla.calendar import WorkCalendar
from shared.queue import DEFAULT_QUEUE, get_queue
from tests.factories import bearer, make_api_key, make_catalog, make_small_city, make_staff, request_body
from tests.kit import count_rows, create_request


@pytest.fixture
async def city(session):
    units = await make_small_city(session)
    await make_catalog(session)
    _, key = await make_api_key(session, channels=("hotline", "app", "web"))
    await session.commit()
    return {"units": units, "key": {"X-API-Key": key}}


async def test_hotline_request_is_committed_with_outbox_and_job(session, intake_client, city):
    r = await intake_client.post("/v1/requests", json=request_body(), headers=city["key"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"/v1/requests/{body['id']}"
    assert body["status"] == "received"
    assert body["priority"] == "normal"
    assert len(body["tracking_no"]) == 15 and body["tracking_no"].isdigit()
    # General policy: respond within 2 working hours, resolve within 7 working days, on the official calendar.
    received = datetime.fromisoformat(body["received_at"])
    calendar = WorkCalendar()
    assert datetime.fromisoformat(body["due"]["resolve_by"]) == calendar.deadline(received, 7, "working_days").replace(
        microsecond=datetime.fromisoformat(body["due"]["resolve_by"]).microsecond
    )
    outbox = (await session.scalars(select(OutboxEntry))).all()
    assert [(o.topic, o.request_id, o.job_id) for o in outbox] == [("route", body["id"], f"route:{body['id']}:1")]
    queued = await (await get_queue()).queued_jobs(queue_name=DEFAULT_QUEUE)
    assert [(j.function, j.args, j.job_id) for j in queued] == [
        ("route_request", (body["id"], 1), f"route:{body['id']}:1")
    ]


async def test_deadlines_follow_the_policy_for_the_priority(session, intake_client, city):
    r = await intake_client.post("/v1/requests", json=request_body(priority="emergency"), headers=city["key"])
    body = r.json()
    received = datetime.fromisoformat(body["received_at"])
    resolve_by = datetime.fromisoformat(body["due"]["resolve_by"])
    assert (resolve_by - received).total_seconds() == pytest.approx(2 * 3600, abs=1)
    r = await intake_client.post(
        "/v1/requests", json=request_body(category="utilities", description="停水了"), headers=city["key"]
    )
    body = r.json()
    received = datetime.fromisoformat(body["received_at"])
    assert (datetime.fromisoformat(body["due"]["resolve_by"]) - received).total_seconds() == pytest.approx(86400, abs=1)
    assert datetime.fromisoformat(body["due"]["respond_by"]) <= datetime.fromisoformat(body["due"]["resolve_by"])


async def test_key_group_category_is_high_priority_at_intake(intake_client, city):
    r = await intake_client.post(
        "/v1/requests", json=request_body(category="land.acquisition", priority="normal"), headers=city["key"]
    )
    assert r.status_code == 201, r.text
    assert r.json()["priority"] == "high"


async def test_same_idempotency_key_and_body_returns_the_first_answer(session, intake_client, city):
    headers = {**city["key"], "Idempotency-Key": "call-0001"}
    first = await intake_client.post("/v1/requests", json=request_body(), headers=headers)
    again = await intake_client.post("/v1/requests", json=request_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert await count_rows(session, Request) == 1
    other = await intake_client.post("/v1/requests", json=request_body(description="另一件事"), headers=headers)
    assert other.status_code == 409
    assert await count_rows(session, Request) == 1


async def test_concurrent_repeats_with_one_key_make_one_request(session, intake_client, city):
    headers = {**city["key"], "Idempotency-Key": "burst-7"}
    answers = await asyncio.gather(
        *(intake_client.post("/v1/requests", json=request_body(), headers=headers) for _ in range(8))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert await count_rows(session, Request) == 1


async def test_idempotency_keys_are_per_caller(session, intake_client, city):
    _, other_key = await make_api_key(session, channels=("hotline",))
    await session.commit()
    a = await intake_client.post("/v1/requests", json=request_body(), headers={**city["key"], "Idempotency-Key": "k"})
    b = await intake_client.post(
        "/v1/requests", json=request_body(), headers={"X-API-Key": other_key, "Idempotency-Key": "k"}
    )
    assert a.json()["id"] != b.json()["id"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": "no.such"}, "category"),
        ({"channel": "fax"}, "channel"),
        ({"category": "unknown", "channel": "app"}, "category"),
        ({"location": {"lat": 91, "lon": 121.5}}, "location.lat"),
        ({"location": {"lat": 39.9, "lon": 116.4}}, "location"),
        ({"location": {"lat": 29.8}}, "location"),
        ({"location": {}}, "location"),
        ({"location": {"org_unit_code": "330203001"}}, "location.org_unit_code"),
        ({"description": "x" * 4001}, "description"),
        ({"description": "   "}, "description"),
        ({"media_urls": ["https://example.org/a.jpg"] * 11}, "media_urls"),
        ({"media_urls": ["javascript:alert(1)"]}, "media_urls"),
        ({"media_urls": ["file:///etc/passwd"]}, "media_urls"),
        ({"citizen": {"phone": "12345"}}, "citizen.phone"),
        ({"attributes": {"noise_source": "aliens"}}, "attributes.noise_source"),
        ({"attributes": {"colour": "red"}}, "attributes.colour"),
        ({"status": "closed"}, "status"),
        ({"media_urls": ["https://a.org/x\u0000y"]}, "media_urls.0"),
        ({"external_id": "abc\u0000"}, "external_id"),
        ({"attributes": {"noise_source": "shop\u0000"}}, "attributes"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(session, intake_client, city, change, field):
    r = await intake_client.post("/v1/requests", json=request_body(**change), headers=city["key"])
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in r.json()["errors"]}
    assert await count_rows(session, Request) == 0
    assert await count_rows(session, OutboxEntry) == 0


async def test_hotline_may_file_unknown_category(intake_client, city):
    r = await intake_client.post("/v1/requests", json=request_body(category="unknown"), headers=city["key"])
    assert r.status_code == 201


async def test_channel_outside_the_keys_channels_is_forbidden(intake_client, city):
    r = await intake_client.post("/v1/requests", json=request_body(channel="window"), headers=city["key"])
    assert r.status_code == 403


async def test_gcj02_coordinates_are_converted_and_kept(session, intake_client, city):
    location = {"lat": 29.8030, "lon": 121.5095, "coord_system": "gcj02"}
    r = await intake_client.post("/v1/requests", json=request_body(location=location), headers=city["key"])
    assert r.status_code == 201, r.text
    stored = await session.get(Request, r.json()["id"])
    assert (stored.source_lat, stored.source_lon, stored.coord_system) == (29.8030, 121.5095, "gcj02")
    # GCJ-02 is offset from WGS84 by a few hundred metres around Ningbo.
    assert 0.001 < abs(stored.lon - 121.5095) < 0.01


async def test_nearby_same_category_request_is_linked_as_duplicate(intake_client, city):
    first = (await intake_client.post("/v1/requests", json=request_body(), headers=city["key"])).json()
    near = request_body(location={"lat": 29.8052, "lon": 121.5051}, citizen={"phone": "13900000000"})
    second = (await intake_client.post("/v1/requests", json=near, headers=city["key"])).json()
    assert second["status"] == "duplicate"
    assert second["duplicate_of"] == {"id": first["id"], "tracking_no": first["tracking_no"]}
    far = request_body(location={"lat": 29.8055, "lon": 121.5060}, citizen={"phone": "13900000001"})
    third = (await intake_client.post("/v1/requests", json=far, headers=city["key"])).json()
    assert third["duplicate_of"] is None


async def test_same_phone_with_near_identical_text_is_a_duplicate(intake_client, city):
    text_a = "我家楼下的路灯已经坏了三天了，晚上出行很不方便，请尽快派人修理。"
    a = request_body(category="utilities", description=text_a, location={"address": "南门街道"})
    b = request_body(category="env.noise", description=text_a + "！", location={"address": "另一个地方"})
    first = (await intake_client.post("/v1/requests", json=a, headers=city["key"])).json()
    second = (await intake_client.post("/v1/requests", json=b, headers=city["key"])).json()
    assert second["duplicate_of"]["id"] == first["id"]


async def test_citizen_data_is_encrypted_at_rest_and_masked(session, intake_client, city):
    r = await intake_client.post("/v1/requests", json=request_body(), headers=city["key"])
    request_id = r.json()["id"]
    raw = (
        await session.execute(
            text("SELECT citizen_name_enc, citizen_phone_enc, citizen_phone_hash FROM requests WHERE id = :id"),
            {"id": request_id},
        )
    ).one()
    assert b"13800001234" not in raw[1] and "张三".encode() not in raw[0]
    assert "13800001234" not in raw[2]
    r = await intake_client.get(f"/v1/requests/{request_id}", headers=city["key"])
    assert r.json()["citizen"] == {"name": "张*", "phone": "138****1234", "anonymous": False, "masked": True}


async def test_dispatcher_reveals_pii_and_the_reading_is_audited(session, intake_client, city):
    units = city["units"]
    dispatcher = await make_staff(session, "disp", "dispatcher", units["3302"])
    clerk = await make_staff(session, "clerk", "clerk", units["3302"])
    await session.commit()
    body = request_body(location={"org_unit_code": "330203001001"})
    request_id = (await create_request(intake_client, city["key"], body))["id"]
    r = await intake_client.get(f"/v1/requests/{request_id}?reveal_pii=true", headers=bearer(dispatcher))
    assert r.status_code == 200
    assert r.json()["citizen"]["phone"] == "13800001234"
    r = await intake_client.get(f"/v1/requests/{request_id}?reveal_pii=true", headers=bearer(clerk))
    assert r.status_code == 403
    events = (await intake_client.get(f"/v1/requests/{request_id}/events", headers=bearer(dispatcher))).json()
    assert [e["kind"] for e in events["items"]] == ["received", "pii_viewed"]
    assert events["items"][1]["actor"] == f"staff:{dispatcher.id}"


async def test_anonymous_citizen_is_hidden_from_all_but_dispatchers(session, intake_client, city):
    units = city["units"]
    dispatcher = await make_staff(session, "disp", "dispatcher", units["3302"])
    supervisor = await make_staff(session, "sup", "supervisor", units["3302"])
    await session.commit()
    body = request_body(citizen={"name": "李四", "phone": "13800005678", "anonymous": True})
    request_id = (await create_request(intake_client, city["key"], body))["id"]
    r = await intake_client.get(f"/v1/requests/{request_id}", headers=bearer(supervisor))
    assert r.status_code == 200, r.text
    seen = r.json()["citizen"]
    assert seen == {"name": None, "phone": None, "anonymous": True, "masked": True}
    seen = (await intake_client.get(f"/v1/requests/{request_id}", headers=bearer(dispatcher))).json()["citizen"]
    assert seen["phone"] == "138****5678"


async def test_staff_of_another_street_cannot_read_the_request(session, intake_client, city):
    units = city["units"]
    here = await make_staff(session, "here", "supervisor", units["330203001"])
    there = await make_staff(session, "there", "supervisor", units["330203002"])
    await session.commit()
    body = request_body(location={"org_unit_code": "330203001001"})
    request_id = (await create_request(intake_client, city["key"], body))["id"]
    assert (await intake_client.get(f"/v1/requests/{request_id}", headers=bearer(here))).status_code == 200
    assert (await intake_client.get(f"/v1/requests/{request_id}", headers=bearer(there))).status_code == 404
    assert (await intake_client.get(f"/v1/requests/{request_id}/events", headers=bearer(there))).status_code == 404
    listed = (await intake_client.get("/v1/requests", headers=bearer(there))).json()
    assert listed["items"] == []


async def test_an_integration_reads_only_what_it_submitted(session, intake_client, city):
    _, other = await make_api_key(session, channels=("app",))
    await session.commit()
    request_id = (await intake_client.post("/v1/requests", json=request_body(), headers=city["key"])).json()["id"]
    assert (await intake_client.get(f"/v1/requests/{request_id}", headers={"X-API-Key": other})).status_code == 404
    listed = (await intake_client.get("/v1/requests", headers=city["key"])).json()
    assert [i["id"] for i in listed["items"]] == [request_id]


async def test_listing_filters_and_pages(session, intake_client, city):
    ids = []
    for n in range(5):
        body = request_body(
            channel="app" if n % 2 else "hotline",
            location={"address": f"地址{n}"},
            citizen={"phone": f"1380000000{n}"},
            description=f"第{n}件事情",
        )
        ids.append((await create_request(intake_client, city["key"], body))["id"])
    r = await intake_client.get("/v1/requests", params={"channel": "app"}, headers=city["key"])
    assert [i["id"] for i in r.json()["items"]] == [ids[3], ids[1]]
    page1 = (await intake_client.get("/v1/requests", params={"limit": 3}, headers=city["key"])).json()
    page2 = (
        await intake_client.get(
            "/v1/requests", params={"limit": 3, "cursor": page1["next_cursor"]}, headers=city["key"]
        )
    ).json()
    assert [i["id"] for i in page1["items"] + page2["items"]] == ids[::-1]
    assert page2["next_cursor"] is None
    r = await intake_client.get("/v1/requests", params={"category": "env"}, headers=city["key"])
    assert len(r.json()["items"]) == 5
    r = await intake_client.get("/v1/requests", params={"status": "closed"}, headers=city["key"])
    assert r.json()["items"] == []


async def test_audit_trail_is_hash_chained_and_append_only(session, intake_client, city):
    units = city["units"]
    dispatcher = await make_staff(session, "disp", "dispatcher", units["3302"])
    await session.commit()
    request_id = (await intake_client.post("/v1/requests", json=request_body(), headers=city["key"])).json()["id"]
    await intake_client.get(f"/v1/requests/{request_id}?reveal_pii=true", headers=bearer(dispatcher))
    events = (await intake_client.get(f"/v1/requests/{request_id}/events", headers=bearer(dispatcher))).json()
    assert events["chain_intact"] is True
    assert events["items"][1]["prev_hash"] == events["items"][0]["hash"]
    with pytest.raises(Exception, match="append-only"):
        await session.execute(
            text("UPDATE request_events SET note = 'tampered' WHERE request_id = :id"), {"id": request_id}
        )
    await session.rollback()


async def test_window_clerk_files_a_request_in_scope(session, intake_client, city):
    clerk = await make_staff(session, "clerk", "clerk", city["units"]["330203001"])
    await session.commit()
    body = request_body(channel="window", location={"org_unit_code": "330203001001"})
    r = await intake_client.post("/v1/requests", json=body, headers=bearer(clerk))
    assert r.status_code == 201, r.text
    other = request_body(channel="window", location={"org_unit_code": "330205001001"})
    r = await intake_client.post("/v1/requests", json=other, headers=bearer(clerk))
    assert r.status_code == 422


async def test_auditor_may_not_create_requests(session, intake_client, city):
    auditor = await make_staff(session, "aud", "auditor", city["units"]["3302"])
    await session.commit()
    r = await intake_client.post("/v1/requests", json=request_body(channel="window"), headers=bearer(auditor))
    assert r.status_code == 403
