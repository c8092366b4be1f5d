"""The administration audit trail (SPEC §12): logins, staff, keys, SLA policies, the calendar and the
settings are recorded with who, when and what changed, never a secret; the trail is append-only and
readable by admins and auditors at `GET /v1/admin/audit`."""

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.models import AdminAuditEntry
from tests.factories import PASSWORD, bearer, make_city_admin, make_staff
from tests.kit import count_rows, problem
from tests.settings import set_setting

AUDIT = "/v1/admin/audit"


async def _trail(client, auth, **params: Any) -> list[dict[str, Any]]:
    r = await client.get(AUDIT, params=params, headers=auth)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def _no_secret_in(entries: list[dict[str, Any]], *secrets: str) -> None:
    dumped = json.dumps(entries, ensure_ascii=False)
    for secret in secrets:
        assert secret not in dumped


async def test_logins_are_recorded_and_a_failure_survives_the_failed_request(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.post("/v1/auth/token", data={"username": "city_admin", "password": PASSWORD})
    assert r.status_code == 200, r.text
    wrong = "not-the-password-123"
    r = await intake_client.post("/v1/auth/token", data={"username": "city_admin", "password": wrong})
    problem(r, 401)
    r = await intake_client.post("/v1/auth/token", data={"username": "nobody", "password": wrong})
    problem(r, 401)

    entries = await _trail(intake_client, auth, action="login.")
    assert [e["action"] for e in entries] == ["login.failed", "login.failed", "login.succeeded"]
    nobody, failed, succeeded = entries
    assert succeeded["actor"].startswith("staff:") and succeeded["actor_name"] == "city_admin"
    assert succeeded["target_kind"] == "staff"
    assert failed["actor"] == "anonymous" and failed["actor_name"] == "city_admin"
    assert failed["after"] == {"username": "city_admin", "reason": "wrong_credentials"}
    assert nobody["actor_name"] == "nobody"
    assert all(e["client_ip"] for e in entries)
    _no_secret_in(entries, PASSWORD, wrong)
    assert await _trail(intake_client, auth, action="login.failed") == [nobody, failed]


async def test_staff_changes_are_recorded_with_before_and_after_and_never_the_password(session, intake_client):
    _, auth = await make_city_admin(session)
    password = "a-long-passphrase-for-the-test"
    body = {"username": "disp", "display_name": "调度员", "password": password, "role": "dispatcher"}
    r = await intake_client.post("/v1/admin/staff", json=body | {"scope_code": "330203"}, headers=auth)
    assert r.status_code == 201, r.text
    staff_id = r.json()["id"]
    changes = [
        ({"role": "supervisor", "version": 1}, "staff.role_changed"),
        ({"password": "another-long-passphrase-1", "version": 2}, "staff.updated"),
        ({"active": False, "version": 3}, "staff.deactivated"),
    ]
    for change, _ in changes:
        r = await intake_client.patch(f"/v1/admin/staff/{staff_id}", json=change, headers=auth)
        assert r.status_code == 200, r.text

    entries = await _trail(intake_client, auth, target_kind="staff", target_id=str(staff_id))
    assert [e["action"] for e in entries] == [
        "staff.deactivated",
        "staff.updated",
        "staff.role_changed",
        "staff.created",
    ]
    deactivated, password_changed, role_changed, created = entries
    assert created["after"]["username"] == "disp"
    assert created["after"]["role"] == "dispatcher"
    assert created["after"]["scope_code"] == "330203"
    assert role_changed["before"] == {"role": "dispatcher", "version": 1}
    assert role_changed["after"] == {"role": "supervisor", "version": 2}
    assert password_changed["after"]["password"] == "***"
    assert deactivated["before"]["active"] is True and deactivated["after"]["active"] is False
    _no_secret_in(entries, password, "another-long-passphrase-1", "$argon2")


async def test_api_keys_are_recorded_without_the_key(session, intake_client):
    _, auth = await make_city_admin(session)
    body = {"name": "81890 hotline", "channels": ["hotline"], "rights": ["requests:create"]}
    r = await intake_client.post("/v1/admin/api-keys", json=body, headers=auth)
    assert r.status_code == 201, r.text
    key, key_id = r.json()["key"], r.json()["id"]
    r = await intake_client.post(f"/v1/admin/api-keys/{key_id}/revoke", headers=auth)
    assert r.status_code == 200, r.text
    entries = await _trail(intake_client, auth, action="api_key")
    assert [e["action"] for e in entries] == ["api_key.revoked", "api_key.created"]
    assert entries[1]["after"]["name"] == "81890 hotline"
    assert entries[1]["after"]["prefix"] == r.json()["prefix"]
    assert entries[0]["after"]["revoked_at"] is not None
    _no_secret_in(entries, key, key.split("_", 2)[2])  # the secret may itself hold "_"


async def test_sla_policies_calendar_and_settings_are_recorded(session, intake_client):
    _, auth = await make_city_admin(session)
    policy = {
        "name": "一般诉求",
        "category_prefix": "*",
        "respond_amount": 2,
        "respond_unit": "working_hours",
        "resolve_amount": 7,
        "resolve_unit": "working_days",
    }
    r = await intake_client.post("/v1/admin/sla-policies", json=policy, headers=auth)
    assert r.status_code == 201, r.text
    policy_id = r.json()["id"]
    r = await intake_client.patch(
        f"/v1/admin/sla-policies/{policy_id}", json={"resolve_amount": 5, "version": 1}, headers=auth
    )
    assert r.status_code == 200, r.text
    r = await intake_client.put(
        "/v1/admin/calendar/2027-01-01", json={"is_workday": False, "note": "元旦"}, headers=auth
    )
    assert r.status_code == 200, r.text
    r = await intake_client.patch(
        "/v1/admin/settings", json={"handling": {"returns_before_dispatch": 2}}, headers=auth | {"If-Match": "1"}
    )
    assert r.status_code == 200, r.text

    entries = await _trail(intake_client, auth)
    assert [e["action"] for e in entries] == [
        "settings.updated",
        "calendar.day_set",
        "sla_policy.updated",
        "sla_policy.created",
    ]
    settings, day, updated, created = entries
    assert settings["before"] == {"handling": {"returns_before_dispatch": 1}, "version": 1}
    assert settings["after"] == {"handling": {"returns_before_dispatch": 2}, "version": 2}
    assert day["target_id"] == "2027-01-01" and day["before"] is None
    assert day["after"] == {"day": "2027-01-01", "is_workday": False, "note": "元旦"}
    assert updated["before"] == {"resolve_amount": 7.0, "version": 1}
    assert updated["after"] == {"resolve_amount": 5.0, "version": 2}
    assert created["after"]["category_prefix"] == "*"
    assert {e["actor"] for e in entries} == {settings["actor"]} and settings["actor"].startswith("staff:")


async def test_a_refused_change_leaves_no_entry(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.patch(
        "/v1/admin/settings", json={"sla": {"warning_share": 0.5}}, headers=auth | {"If-Match": "7"}
    )
    problem(r, 409)
    assert await count_rows(session, AdminAuditEntry) == 0


async def test_the_trail_is_append_only(session, intake_client):
    _, auth = await make_city_admin(session)
    await intake_client.patch(
        "/v1/admin/settings", json={"sla": {"warning_share": 0.5}}, headers=auth | {"If-Match": "1"}
    )
    assert await count_rows(session, AdminAuditEntry) == 1
    for statement in ("UPDATE admin_audit SET actor = 'staff:999'", "DELETE FROM admin_audit"):
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text(statement))
        await session.rollback()
    assert await count_rows(session, AdminAuditEntry) == 1


async def test_who_may_read_the_trail_and_what_they_see(session, intake_client):
    units, admin_auth = await make_city_admin(session)
    auditor = await make_staff(session, "auditor", "auditor", units["3302"])
    handler = await make_staff(session, "handler", "handler", units["3302"])
    district_admin = await make_staff(session, "district_admin", "admin", units["330203"])
    other_district_admin = await make_staff(session, "other_admin", "admin", units["330205"])
    await session.commit()
    for staff, scope in ((district_admin, "330203"), (other_district_admin, "330205")):
        body = {
            "username": f"w_{scope}",
            "display_name": "网格员",
            "password": "a-long-passphrase-x",
            "role": "handler",
        }
        r = await intake_client.post("/v1/admin/staff", json=body | {"scope_code": scope}, headers=bearer(staff))
        assert r.status_code == 201, r.text
    problem(await intake_client.post("/v1/auth/token", data={"username": "x", "password": "y"}), 401)

    everything = await _trail(intake_client, bearer(auditor))
    assert len(everything) == 3
    assert await _trail(intake_client, admin_auth) == everything
    mine = await _trail(intake_client, bearer(district_admin))
    assert [e["actor"] for e in mine] == [f"staff:{district_admin.id}"]
    assert [e["after"]["username"] for e in mine] == ["w_330203"]
    problem(await intake_client.get(AUDIT, headers=bearer(handler)), 403)
    problem(await intake_client.get(AUDIT), 401)


async def test_filters_and_pages(session, intake_client):
    _, auth = await make_city_admin(session)
    for n in range(5):
        r = await intake_client.patch(
            "/v1/admin/settings", json={"hotspots": {"min_count": 10 + n}}, headers=auth | {"If-Match": str(n + 1)}
        )
        assert r.status_code == 200, r.text
    problem(await intake_client.post("/v1/auth/token", data={"username": "x", "password": "y"}), 401)

    first = await intake_client.get(AUDIT, params={"limit": 2, "action": "settings."}, headers=auth)
    assert first.status_code == 200, first.text
    assert len(first.json()["items"]) == 2 and first.json()["next_cursor"]
    seen = [e["id"] for e in first.json()["items"]]
    cursor = first.json()["next_cursor"]
    while cursor:
        page = await intake_client.get(
            AUDIT, params={"limit": 2, "action": "settings.", "cursor": cursor}, headers=auth
        )
        assert page.status_code == 200, page.text
        seen += [e["id"] for e in page.json()["items"]]
        cursor = page.json()["next_cursor"]
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)

    assert [e["actor"] for e in await _trail(intake_client, auth, actor="anonymous")] == ["anonymous"]
    newest = datetime.fromisoformat((await _trail(intake_client, auth))[0]["occurred_at"])
    local = (newest + timedelta(seconds=1)).replace(tzinfo=None).isoformat()  # city time, no offset
    assert len(await _trail(intake_client, auth, until=local)) == 6
    assert await _trail(intake_client, auth, since=local) == []
    for params in ({"action": "Login!"}, {"actor": "bob"}, {"since": "yesterday"}, {"cursor": "nonsense"}):
        r = await intake_client.get(AUDIT, params=params, headers=auth)
        assert {e["field"] for e in problem(r, 422)["errors"]} == {f"query.{next(iter(params))}"}, params


async def test_catalog_changes_are_recorded(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.post("/v1/admin/categories", json={"code": "env", "name": "生态环境"}, headers=auth)
    assert r.status_code == 201, r.text
    r = await intake_client.patch("/v1/admin/categories/env", json={"key_group": True, "version": 1}, headers=auth)
    assert r.status_code == 200, r.text
    updated, created = await _trail(intake_client, auth, target_kind="category", target_id="env")
    assert (updated["action"], created["action"]) == ("category.updated", "category.created")
    assert created["after"]["name"] == "生态环境"
    assert updated["before"] == {"key_group": False, "version": 1}
    assert updated["after"] == {"key_group": True, "version": 2}


async def test_refusals_while_locked_out_are_recorded_once_per_window(session, intake_client, monkeypatch):
    _, auth = await make_city_admin(session)
    set_setting(monkeypatch, "login_failures_per_user", 2)
    for _ in range(2):
        problem(await intake_client.post("/v1/auth/token", data={"username": "city_admin", "password": "x"}), 401)
    for _ in range(3):
        r = await intake_client.post("/v1/auth/token", data={"username": "city_admin", "password": PASSWORD})
        problem(r, 429)
    reasons = [e["after"]["reason"] for e in await _trail(intake_client, auth, action="login.failed")]
    assert reasons == ["locked", "wrong_credentials", "wrong_credentials"]
