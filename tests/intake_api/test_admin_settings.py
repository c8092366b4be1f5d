"""The rule settings through the admin API (SPEC §12): read, changed with the version check and
validation, audited, and applied without a restart: changing office hours changes the next deadlines."""

from datetime import datetime, time
from typing import Any

from sqlalchemy import select

from services.models import AdminAuditEntry, Request
from services.sla.calendar import OfficeHours, WorkCalendar
from tests.factories import bearer, make_city_admin, make_staff
from tests.kit import problem

SETTINGS = "/v1/admin/settings"
NINE_TO_FIVE = [["09:00", "12:00"], ["13:00", "17:00"]]


def _fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


async def _version(client, auth) -> int:
    r = await client.get(SETTINGS, headers=auth)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == f'"{r.json()["version"]}"'
    return int(r.json()["version"])


async def test_the_defaults_are_in_force_until_an_admin_changes_them(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.get(SETTINGS, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 1
    assert body["updated_at"] is None and body["updated_by"] is None
    rules = body["rules"]
    assert rules["sla"] == {"office_hours": [["08:30", "12:00"], ["13:30", "17:30"]], "warning_share": 0.8}
    assert rules["duplicates"] == {
        "nearby_metres": 50.0,
        "nearby_window_hours": 72.0,
        "same_phone_window_hours": 24.0,
        "same_phone_similarity": 0.9,
        "same_unit_similarity": 0.5,
    }
    assert rules["hotspots"] == {
        "min_count": 5,
        "key_group_min_count": 3,
        "p_value": 0.001,
        "baseline_days": 28,
        "window_hours": 24,
    }
    assert rules["feedback"] == {"no_evaluation_close_days": 7.0}
    assert rules["handling"] == {
        "returns_before_dispatch": 1,
        "return_review_required": False,
        "escalation_delay_hours": 24.0,
        "extension_max_days": 30.0,
        "extensions_per_request": 2,
        "supervision_order_max_days": 90.0,
    }


async def test_a_put_changes_the_settings_bumps_the_version_and_is_audited(session, intake_client):
    _, auth = await make_city_admin(session)
    body = {"sla": {"office_hours": NINE_TO_FIVE, "warning_share": 0.75}, "hotspots": {"min_count": 8}}
    r = await intake_client.put(SETTINGS, json=body, headers=auth | {"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    assert r.headers["ETag"] == '"2"'
    assert r.json()["updated_by"].startswith("staff:")
    assert r.json()["rules"]["sla"]["office_hours"] == NINE_TO_FIVE
    assert r.json()["rules"]["hotspots"]["min_count"] == 8
    assert r.json()["rules"]["duplicates"]["nearby_metres"] == 50  # left out: its default
    read = (await intake_client.get(SETTINGS, headers=auth)).json()
    assert read["rules"] == r.json()["rules"] and read["version"] == 2

    entries = list(await session.scalars(select(AdminAuditEntry).where(AdminAuditEntry.action == "settings.updated")))
    assert len(entries) == 1
    entry = entries[0]
    assert entry.actor == r.json()["updated_by"]
    assert entry.before == {
        "sla": {"office_hours": [["08:30", "12:00"], ["13:30", "17:30"]], "warning_share": 0.8},
        "hotspots": {"min_count": 5},
        "version": 1,
    }
    assert entry.after == {
        "sla": {"office_hours": NINE_TO_FIVE, "warning_share": 0.75},
        "hotspots": {"min_count": 8},
        "version": 2,
    }


async def test_a_patch_changes_only_the_fields_sent(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.patch(
        SETTINGS, json={"duplicates": {"nearby_metres": 80}}, headers=auth | {"If-Match": "1"}
    )
    assert r.status_code == 200, r.text
    r = await intake_client.patch(SETTINGS, json={"sla": {"warning_share": 0.6}}, headers=auth | {"If-Match": "2"})
    assert r.status_code == 200, r.text
    rules = r.json()["rules"]
    assert r.json()["version"] == 3
    assert rules["duplicates"]["nearby_metres"] == 80
    assert rules["duplicates"]["nearby_window_hours"] == 72
    assert rules["sla"] == {"office_hours": [["08:30", "12:00"], ["13:30", "17:30"]], "warning_share": 0.6}


async def test_a_change_that_changes_nothing_keeps_the_version_and_writes_no_audit_entry(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.patch(SETTINGS, json={"sla": {"warning_share": 0.8}}, headers=auth | {"If-Match": "1"})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1
    assert list(await session.scalars(select(AdminAuditEntry))) == []


async def test_the_version_check_refuses_stale_and_missing_versions(session, intake_client):
    _, auth = await make_city_admin(session)
    change = {"feedback": {"no_evaluation_close_days": 10}}
    assert (await intake_client.patch(SETTINGS, json=change, headers=auth | {"If-Match": "1"})).status_code == 200
    problem(await intake_client.patch(SETTINGS, json=change, headers=auth | {"If-Match": "1"}), 409)
    problem(await intake_client.put(SETTINGS, json={}, headers=auth | {"If-Match": "1"}), 409)
    problem(await intake_client.put(SETTINGS, json={}, headers=auth), 428)
    assert await _version(intake_client, auth) == 2


async def test_invalid_values_are_a_422_naming_the_field_and_change_nothing(session, intake_client):
    _, auth = await make_city_admin(session)
    headers = auth | {"If-Match": "1"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"sla": {"warning_share": 1}}, "sla.warning_share"),
        ({"sla": {"warning_share": 0}}, "sla.warning_share"),
        ({"sla": {"warning_share": "0.8"}}, "sla.warning_share"),
        ({"sla": {"office_hours": [["08:30", "12:00"], ["11:00", "13:00"]]}}, "sla.office_hours"),
        ({"sla": {"office_hours": [["13:30", "17:30"], ["08:30", "12:00"]]}}, "sla.office_hours"),
        ({"sla": {"office_hours": [["12:00", "08:30"]]}}, "sla.office_hours"),
        ({"sla": {"office_hours": []}}, "sla.office_hours"),
        ({"sla": {"office_hours": [["8:30", "12:00"]]}}, "sla.office_hours.0.0"),
        ({"sla": {"office_hours": [["08:30", "24:00"]]}}, "sla.office_hours.0.1"),
        ({"sla": {"office_hours": [["08:30"]]}}, "sla.office_hours.0"),
        ({"duplicates": {"nearby_metres": -1}}, "duplicates.nearby_metres"),
        ({"duplicates": {"same_phone_similarity": 1.5}}, "duplicates.same_phone_similarity"),
        ({"hotspots": {"min_count": 0}}, "hotspots.min_count"),
        ({"hotspots": {"min_count": 2.5}}, "hotspots.min_count"),
        ({"hotspots": {"p_value": 0}}, "hotspots.p_value"),
        ({"feedback": {"no_evaluation_close_days": 0}}, "feedback.no_evaluation_close_days"),
        ({"handling": {"returns_before_dispatch": -1}}, "handling.returns_before_dispatch"),
        ({"handling": {"return_review_required": "yes"}}, "handling.return_review_required"),
        ({"handling": {"escalation_delay_hours": 1e9}}, "handling.escalation_delay_hours"),
        ({"duplicates": {"nearby_meters": 50}}, "duplicates.nearby_meters"),
        ({"colour": "red"}, "colour"),
    ]
    for body, field in cases:
        for method in (intake_client.put, intake_client.patch):
            r = await method(SETTINGS, json=body, headers=headers)
            assert field in _fields(problem(r, 422)), (body, r.text)
    assert await _version(intake_client, auth) == 1


async def test_who_may_read_and_who_may_change(session, intake_client):
    units, admin_auth = await make_city_admin(session)
    auditor = await make_staff(session, "auditor", "auditor", units["3302"])
    handler = await make_staff(session, "handler", "handler", units["3302"])
    district_admin = await make_staff(session, "district_admin", "admin", units["330203"])
    await session.commit()
    assert (await intake_client.get(SETTINGS, headers=bearer(auditor))).status_code == 200
    problem(await intake_client.get(SETTINGS, headers=bearer(handler)), 403)
    problem(await intake_client.get(SETTINGS), 401)
    change = {"hotspots": {"min_count": 6}}
    problem(await intake_client.patch(SETTINGS, json=change, headers=bearer(auditor) | {"If-Match": "1"}), 403)
    problem(await intake_client.patch(SETTINGS, json=change, headers=bearer(district_admin) | {"If-Match": "1"}), 403)
    assert await _version(intake_client, admin_auth) == 1


def _local(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_changing_office_hours_changes_the_next_deadlines(session, intake_client, setup):
    admin = await make_staff(session, "city_admin", "admin", setup["units"]["3302"])
    await session.commit()
    auth = bearer(admin)

    before = await intake_client.post("/v1/requests", json=_body("第一件"), headers=setup["key"])
    assert before.status_code == 201, before.text
    r = await intake_client.patch(
        SETTINGS,
        json={"sla": {"office_hours": [["09:00", "10:00"]], "warning_share": 0.5}},
        headers=auth | {"If-Match": "1"},
    )
    assert r.status_code == 200, r.text
    after = await intake_client.post("/v1/requests", json=_body("第二件"), headers=setup["key"])
    assert after.status_code == 201, after.text

    default = WorkCalendar()
    one_hour = WorkCalendar(office_hours=OfficeHours(((time(9), time(10)),)), warning_share=0.5)
    for answer, calendar in ((before.json(), default), (after.json(), one_hour)):
        received = _local(answer["received_at"])
        # The general policy of the setup: response in 2 working hours, resolution in 7 working days.
        assert _local(answer["due"]["respond_by"]) == calendar.deadline(received, 2, "working_hours")
        assert _local(answer["due"]["resolve_by"]) == calendar.deadline(received, 7, "working_days")
    due = {name: _local(after.json()["due"][name]) for name in ("respond_by", "resolve_by")}
    assert all(time(9) <= moment.astimezone(one_hour.tz).time() <= time(10) for moment in due.values())
    # Two working hours now span two one-hour days: later than under the default hours, whenever it is now.
    assert due["respond_by"] > default.deadline(_local(after.json()["received_at"]), 2, "working_hours")

    # The warning share applies too: the yellow card at half the time allowed.
    row = await session.scalar(select(Request).where(Request.id == after.json()["id"]))
    assert row is not None
    received = _local(after.json()["received_at"])
    allowed = one_hour.working_minutes_between(received, row.resolve_by)
    assert row.resolve_warn_at == one_hour.add_working_minutes(received, allowed * 0.5)


def _body(description: str) -> dict[str, Any]:
    # No coordinates and no phone: no duplicate of the other request.
    return {
        "channel": "hotline",
        "category": "env.noise",
        "description": description,
        "location": {"org_unit_code": "330203001001001"},
        "citizen": {"anonymous": True},
    }
