"""Household visits with the requests raised during them, and assessments of units."""

from sqlalchemy import func, select

from services.models import Assessment, Request, Visit
from tests.factories import bearer, make_catalog, make_small_city, make_staff


def visit_body(**overrides):
    body = {
        "kind": "household",
        "org_unit_code": "330203001001001",
        "visited_at": "2026-01-05T10:00:00+08:00",
        "households": 3,
        "notes": "走访三户",
        "requests": [
            {
                "channel": "visit",
                "category": "env.noise",
                "description": "楼下商铺音响太吵",
                "location": {"org_unit_code": "330203001001001"},
            }
        ],
    }
    body.update(overrides)
    return body


async def test_grid_worker_logs_a_visit_with_a_request(session, intake_client):
    units = await make_small_city(session)
    await make_catalog(session)
    worker = await make_staff(session, "gw", "handler", units["330203001001001"])
    await session.commit()
    r = await intake_client.post("/v1/visits", json=visit_body(), headers=bearer(worker))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["staff_id"] == worker.id
    assert len(body["requests"]) == 1
    stored = await session.get(Request, body["requests"][0]["id"])
    assert stored.visit_id == body["id"] and stored.channel == "visit"


async def test_a_bad_request_inside_a_visit_writes_nothing(session, intake_client):
    units = await make_small_city(session)
    await make_catalog(session)
    worker = await make_staff(session, "gw", "handler", units["330203001001001"])
    await session.commit()
    body = visit_body()
    body["requests"].append({**body["requests"][0], "category": "no.such"})
    r = await intake_client.post("/v1/visits", json=body, headers=bearer(worker))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "requests.1.category"
    assert await session.scalar(select(func.count()).select_from(Visit)) == 0
    assert await session.scalar(select(func.count()).select_from(Request)) == 0


async def test_visit_outside_scope_or_in_the_future_is_refused(session, intake_client):
    units = await make_small_city(session)
    await make_catalog(session)
    worker = await make_staff(session, "gw", "handler", units["330203001001001"])
    await session.commit()
    r = await intake_client.post(
        "/v1/visits", json=visit_body(org_unit_code="330205001001001", requests=[]), headers=bearer(worker)
    )
    assert r.status_code == 422
    r = await intake_client.post(
        "/v1/visits", json=visit_body(visited_at="2999-01-01T00:00:00+08:00", requests=[]), headers=bearer(worker)
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "visited_at"


async def test_supervisor_records_assessments_once_per_assessor(session, intake_client):
    units = await make_small_city(session)
    supervisor = await make_staff(session, "sup", "supervisor", units["330203"])
    handler = await make_staff(session, "h", "handler", units["330203"])
    await session.commit()
    body = {
        "org_unit_code": "330203001",
        "period": "2026-Q3",
        "source": "resident_organisation",
        "assessor": "宁波银行海曙支行",
        "score": 92.5,
    }
    r = await intake_client.post("/v1/assessments", json=body, headers=bearer(supervisor))
    assert r.status_code == 201, r.text
    assert r.json()["score"] == 92.5
    assert (await intake_client.post("/v1/assessments", json=body, headers=bearer(supervisor))).status_code == 409
    assert (await intake_client.post("/v1/assessments", json=body, headers=bearer(handler))).status_code == 403
    for bad in ({"score": 101}, {"period": "2026-13"}, {"period": "2026-Q5"}, {"source": "gossip"}):
        r = await intake_client.post("/v1/assessments", json={**body, **bad}, headers=bearer(supervisor))
        assert r.status_code == 422, bad
    r = await intake_client.post(
        "/v1/assessments", json={**body, "org_unit_code": "330205001"}, headers=bearer(supervisor)
    )
    assert r.status_code == 422
    assert await session.scalar(select(func.count()).select_from(Assessment)) == 1
