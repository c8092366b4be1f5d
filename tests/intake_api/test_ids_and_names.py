"""Ids that requests refer to are shown where those objects are listed (departments, teams, members
and their staff ids), handling answers carry names beside the ids, and the list filters take them."""

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from services.models import Member
from shared.db import get_engine
from tests.factories import at_grid, bearer, make_handling_setup, make_staff
from tests.kit import create_request, drain

GRID = "330203001001001"
_serial = itertools.count(1)
HB_NAME = "市生态环境局"


@pytest.fixture
async def setup(session) -> dict[str, Any]:
    data = await make_handling_setup(session)
    admin = await make_staff(session, "city_admin", "admin", data["units"]["3302"])
    data["hb_staff"].display_name = "环保局王科长"
    for n, staff in enumerate(data["handlers"][GRID], start=1):
        staff.display_name = f"网格员{n}号"
    await session.commit()
    data["admin"] = bearer(admin)
    return data


async def _create(client, setup, body) -> int:
    # Distinct texts, so that no request is a duplicate of another (same phone, same text).
    body = {**body, "description": f"{body['description']} #{next(_serial)}"}
    return int((await create_request(client, setup["key"], body))["id"])


async def _departments(client, setup) -> dict[str, dict[str, Any]]:
    r = await client.get("/v1/admin/departments", headers=setup["admin"])
    assert r.status_code == 200, r.text
    return {d["code"]: d for d in r.json()}


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements the engine runs inside the block."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_departments_show_their_ids(session, intake_client, setup):
    departments = await _departments(intake_client, setup)
    assert departments["HB"]["id"] == setup["hb"].id
    r = await intake_client.post(
        "/v1/admin/departments", json={"code": "CG", "name": "市城管局", "scope_code": "3302"}, headers=setup["admin"]
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert isinstance(created["id"], int) and created["id"] != setup["hb"].id
    r = await intake_client.get("/v1/admin/departments/CG", headers=setup["admin"])
    assert r.json()["id"] == created["id"]
    r = await intake_client.patch(
        "/v1/admin/departments/CG", json={"name": "市综合执法局", "version": 1}, headers=setup["admin"]
    )
    assert r.status_code == 200, r.text
    assert r.json()["id"] == created["id"]
    assert (await _departments(intake_client, setup))["CG"] == r.json()


async def test_members_show_the_member_id_and_the_staff_id(session, intake_client, setup):
    # Staff accounts made before the membership, so staff ids and member ids differ.
    for n in range(5):
        await make_staff(session, f"spare{n}", "handler", setup["units"]["3302"])
    newcomer = await make_staff(session, "newcomer", "handler", setup["units"][GRID])
    await session.commit()
    team = setup["teams"][GRID]
    r = await intake_client.post(
        f"/v1/admin/teams/{team.id}/members",
        json={"username": "newcomer", "team_role": "volunteer"},
        headers=setup["admin"],
    )
    assert r.status_code == 201, r.text
    added = r.json()
    stored = await session.scalar(select(Member).where(Member.staff_id == newcomer.id))
    assert stored is not None and stored.id != newcomer.id
    assert (added["id"], added["staff_id"], added["team_id"], added["department_id"]) == (
        stored.id,
        newcomer.id,
        team.id,
        None,
    )
    # The staff id opens the staff account; the member id changes the membership.
    r = await intake_client.get(f"/v1/admin/staff/{added['staff_id']}", headers=setup["admin"])
    assert r.status_code == 200 and r.json()["username"] == "newcomer"
    r = await intake_client.patch(
        f"/v1/admin/members/{added['id']}", json={"on_duty": False, "version": 1}, headers=setup["admin"]
    )
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["staff_id"], r.json()["on_duty"]) == (stored.id, newcomer.id, False)

    r = await intake_client.get(f"/v1/admin/teams/{team.id}", headers=setup["admin"])
    members = {m["username"]: m for m in r.json()["members"]}
    for staff in setup["handlers"][GRID]:
        row = await session.scalar(select(Member).where(Member.staff_id == staff.id))
        assert row is not None
        assert (members[staff.username]["id"], members[staff.username]["staff_id"]) == (row.id, staff.id)
    r = await intake_client.get("/v1/admin/teams", params={"under_code": GRID}, headers=setup["admin"])
    [listed] = r.json()["items"]
    assert {m["staff_id"] for m in listed["members"]} == {*(s.id for s in setup["handlers"][GRID]), newcomer.id}

    r = await intake_client.get("/v1/admin/departments/HB/members", headers=setup["admin"])
    [hb_member] = r.json()
    row = await session.scalar(select(Member).where(Member.staff_id == setup["hb_staff"].id))
    assert row is not None
    assert hb_member["id"] == row.id
    assert hb_member["staff_id"] == setup["hb_staff"].id
    assert (hb_member["department_id"], hb_member["department_code"], hb_member["team_id"]) == (
        setup["hb"].id,
        "HB",
        None,
    )


async def test_a_routed_request_shows_names_beside_ids(session, intake_client, setup):
    team = setup["teams"][GRID]
    request_id = await _create(intake_client, setup, at_grid(0))
    await drain()
    r = await intake_client.get(f"/v1/requests/{request_id}", headers=bearer(setup["dispatcher"]))
    assert r.status_code == 200, r.text
    handling = r.json()["handling"]
    names = {s.id: s.display_name for s in setup["handlers"][GRID]}
    assert handling["handler_id"] in names
    assert handling == {
        "lead_team_id": team.id,
        "lead_team_name": team.name,
        "lead_department_id": None,
        "lead_department_code": None,
        "lead_department_name": None,
        "handler_id": handling["handler_id"],
        "handler_name": names[handling["handler_id"]],
        "co_departments": [],
    }
    # The integration that submitted it sees the handling unit, not the handler's name.
    r = await intake_client.get(f"/v1/requests/{request_id}", headers=setup["key"])
    assert r.status_code == 200, r.text
    seen = r.json()["handling"]
    assert (seen["lead_team_id"], seen["lead_team_name"]) == (team.id, team.name)
    assert (seen["handler_id"], seen["handler_name"]) == (handling["handler_id"], None)


async def test_handling_answers_carry_names_beside_ids(session, intake_client, setup):
    hb = (await _departments(intake_client, setup))["HB"]
    r = await intake_client.post(
        "/v1/admin/departments", json={"code": "CG", "name": "市城管局", "scope_code": "3302"}, headers=setup["admin"]
    )
    cg = r.json()
    # `env` goes to the HB department's queue: no handler until a member claims it.
    request_id = await _create(intake_client, setup, at_grid(0, category="env"))
    await drain()
    r = await intake_client.get(f"/v1/requests/{request_id}", headers=bearer(setup["dispatcher"]))
    handling = r.json()["handling"]
    assert (handling["lead_department_id"], handling["lead_department_code"], handling["lead_department_name"]) == (
        hb["id"],
        "HB",
        HB_NAME,
    )
    assert (handling["lead_team_id"], handling["lead_team_name"], handling["handler_id"]) == (None, None, None)

    base = f"/v1/requests/{request_id}"
    r = await intake_client.post(f"{base}/accept", json={}, headers=bearer(setup["hb_staff"]))
    assert r.status_code == 200, r.text
    handling = r.json()["handling"]
    assert (handling["handler_id"], handling["handler_name"]) == (setup["hb_staff"].id, "环保局王科长")
    assert handling["lead_department_name"] == HB_NAME

    r = await intake_client.post(
        f"{base}/joint", json={"department_codes": ["CG"]}, headers=bearer(setup["dispatcher"])
    )
    assert r.status_code == 200, r.text
    assert r.json()["handling"]["co_departments"] == [{"id": cg["id"], "code": "CG", "name": "市城管局"}]

    team = setup["teams"][GRID]
    r = await intake_client.post(f"{base}/reassign", json={"team_id": team.id}, headers=bearer(setup["dispatcher"]))
    assert r.status_code == 200, r.text
    handling = r.json()["handling"]
    assert (handling["lead_team_id"], handling["lead_team_name"]) == (team.id, team.name)
    assert (handling["lead_department_id"], handling["lead_department_code"], handling["handler_name"]) == (
        None,
        None,
        None,
    )

    r = await intake_client.post(
        f"{base}/reassign", json={"department_code": "CG"}, headers=bearer(setup["dispatcher"])
    )
    handling = r.json()["handling"]
    assert (handling["lead_department_id"], handling["lead_department_code"], handling["lead_department_name"]) == (
        cg["id"],
        "CG",
        "市城管局",
    )

    worker = setup["handlers"][GRID][0]
    r = await intake_client.post(
        f"{base}/reassign", json={"handler_id": worker.id}, headers=bearer(setup["dispatcher"])
    )
    handling = r.json()["handling"]
    assert (handling["handler_id"], handling["handler_name"]) == (worker.id, "网格员1号")
    assert (handling["lead_team_id"], handling["lead_team_name"]) == (team.id, team.name)

    r = await intake_client.post(
        f"{base}/return", json={"reason": "not_ours", "note": "不归本网格"}, headers=bearer(worker)
    )
    assert r.status_code == 200, r.text
    assert r.json()["handling"] == {
        "lead_team_id": None,
        "lead_team_name": None,
        "lead_department_id": None,
        "lead_department_code": None,
        "lead_department_name": None,
        "handler_id": None,
        "handler_name": None,
        "co_departments": [],
    }


async def test_list_filters_take_the_ids_the_api_shows(session, intake_client, setup):
    auth = bearer(setup["dispatcher"])
    r = await intake_client.post(
        "/v1/admin/departments", json={"code": "CG", "name": "市城管局", "scope_code": "3302"}, headers=setup["admin"]
    )
    assert r.status_code == 201, r.text
    departments = await _departments(intake_client, setup)
    to_department = await _create(intake_client, setup, at_grid(0, category="env"))
    to_team = await _create(intake_client, setup, at_grid(0))
    await drain()

    async def ids(**params: Any) -> list[int]:
        r = await intake_client.get("/v1/requests", params=params, headers=auth)
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    assert await ids(lead_department_id=departments["HB"]["id"]) == [to_department]
    assert await ids(lead_department_id=departments["CG"]["id"]) == []
    # The integration that submitted them filters the same way.
    r = await intake_client.get(
        "/v1/requests", params={"lead_department_id": departments["HB"]["id"]}, headers=setup["key"]
    )
    assert [item["id"] for item in r.json()["items"]] == [to_department]

    r = await intake_client.get("/v1/admin/teams", params={"under_code": GRID}, headers=setup["admin"])
    [team] = r.json()["items"]
    assert await ids(lead_team_id=team["id"]) == [to_team]
    r = await intake_client.get(f"/v1/requests/{to_team}", headers=auth)
    handler_id = r.json()["handling"]["handler_id"]
    member = next(m for m in team["members"] if m["staff_id"] == handler_id)
    assert await ids(handler_id=member["staff_id"]) == [to_team]
    other = next(m for m in team["members"] if m["staff_id"] != handler_id)
    assert await ids(handler_id=other["staff_id"]) == []


async def test_names_in_a_list_cost_one_query_for_the_whole_page(session, intake_client, setup):
    auth = bearer(setup["dispatcher"])
    for grid in (0, 1, 2):
        await _create(intake_client, setup, at_grid(grid))
    await _create(intake_client, setup, at_grid(1, category="env"))
    await drain()
    counts = {}
    for limit in (1, 4):
        with statements() as seen:
            r = await intake_client.get("/v1/requests", params={"limit": limit}, headers=auth)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert len(items) == limit
        counts[limit] = len(seen)
    assert 0 < counts[1] == counts[4], counts
    page = {item["id"]: item["handling"] for item in items}
    assert all(h["lead_team_name"] or h["lead_department_name"] for h in page.values()), page
    assert all(h["handler_name"] for h in page.values() if h["handler_id"] is not None), page
