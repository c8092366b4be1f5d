"""Admin: the holiday table (and the readiness warning it feeds), and leaders' links."""

from datetime import date, timedelta

from services.sla.calendar_admin import COVERAGE_DAYS, coverage_warnings
from tests.factories import bearer, make_small_city, make_staff


async def test_admin_sets_and_removes_a_holiday(session, intake_client):
    units = await make_small_city(session)
    admin = await make_staff(session, "admin", "admin", units["3302"])
    district_admin = await make_staff(session, "dadmin", "admin", units["330203"])
    await session.commit()
    auth = bearer(admin)
    r = await intake_client.put(
        "/v1/admin/calendar/2027-01-01", json={"is_workday": False, "note": "元旦"}, headers=auth
    )
    assert r.status_code == 200, r.text
    r = await intake_client.get("/v1/admin/calendar", params={"from": "2027-01-01", "to": "2027-12-31"}, headers=auth)
    assert r.json() == [{"day": "2027-01-01", "is_workday": False, "note": "元旦"}]
    r = await intake_client.put(
        "/v1/admin/calendar/2027-01-02", json={"is_workday": True}, headers=bearer(district_admin)
    )
    assert r.status_code == 403
    assert (
        await intake_client.put("/v1/admin/calendar/2027-02-30", json={"is_workday": True}, headers=auth)
    ).status_code == 422
    assert (await intake_client.delete("/v1/admin/calendar/2027-01-01", headers=auth)).status_code == 204
    assert (await intake_client.delete("/v1/admin/calendar/2027-01-01", headers=auth)).status_code == 404


async def test_readiness_warns_when_the_next_60_days_are_not_covered(session):
    # chinese-calendar 1.11.0 knows 2004-2026: from mid-December 2026 the next 60 days reach 2027.
    warnings = await coverage_warnings(session, today=date(2026, 12, 15))
    assert len(warnings) == 1 and "2027-01-01" in warnings[0]
    assert await coverage_warnings(session, today=date(2026, 6, 1)) == []


async def test_table_entries_cover_the_gap(session, intake_client):
    units = await make_small_city(session)
    admin = await make_staff(session, "admin", "admin", units["3302"])
    await session.commit()
    start = date(2026, 12, 15)
    day = date(2027, 1, 1)
    while day < start + timedelta(days=COVERAGE_DAYS):
        r = await intake_client.put(
            f"/v1/admin/calendar/{day}", json={"is_workday": day.weekday() < 5}, headers=bearer(admin)
        )
        assert r.status_code == 200
        day += timedelta(days=1)
    assert await coverage_warnings(session, today=start) == []


async def test_leader_links_with_quotas_and_scope(session, intake_client):
    units = await make_small_city(session)
    admin = await make_staff(session, "admin", "admin", units["3302"])
    street_admin = await make_staff(session, "sadmin", "admin", units["330203002"])
    await make_staff(session, "leader", "supervisor", units["330203"])
    await session.commit()
    body = {
        "leader_username": "leader",
        "post": "区委书记",
        "org_unit_code": "330203001",
        "quota_month": 1,
        "quota_year": 12,
    }
    r = await intake_client.post("/v1/admin/leader-links", json=body, headers=bearer(admin))
    assert r.status_code == 201, r.text
    assert r.json()["quota_year"] == 12
    assert (await intake_client.post("/v1/admin/leader-links", json=body, headers=bearer(admin))).status_code == 409
    both = {**body, "department_code": "HB"}
    assert (await intake_client.post("/v1/admin/leader-links", json=both, headers=bearer(admin))).status_code == 422
    assert (await intake_client.get("/v1/admin/leader-links", headers=bearer(street_admin))).json() == []
    link_id = r.json()["id"]
    assert (
        await intake_client.delete(f"/v1/admin/leader-links/{link_id}", headers=bearer(street_admin))
    ).status_code == 404
    assert (await intake_client.delete(f"/v1/admin/leader-links/{link_id}", headers=bearer(admin))).status_code == 204
