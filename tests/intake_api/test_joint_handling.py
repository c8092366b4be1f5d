"""Joint handling (民情会办) through the API: co-units (departments and grid teams) see the request and its
trail, work their own tasks, and the lead resolves only once every co-unit replied or was waived."""

from typing import Any

import pytest
from sqlalchemy import select

from services.models import CoTask, Request, ResponsibilityRule
from services.routing import geodata
from tests.factories import at_grid, bearer, make_department, make_member, make_staff
from tests.kit import drain, handler_of, problem, routed_request

FAR_GRID = "330205001001001"  # another district's grid: its team cannot see grid 0's requests
NEAR_GRID = "330203002001001"


@pytest.fixture
async def joint_setup(session, setup) -> dict[str, Any]:
    """The handling setup plus a city department CG with one member."""
    cg = await make_department(session, "CG", setup["units"]["3302"], name="市城管局")
    cg_staff = await make_staff(session, "cg_1", "handler", setup["units"]["3302"])
    await make_member(session, cg_staff, department=cg)
    await session.commit()
    return {**setup, "cg": cg, "cg_staff": cg_staff}


async def _joint_request(client, session, setup) -> tuple[Request, dict[str, Any]]:
    """A request at grid 0 with co-units CG and the far grid's team; the dispatcher's answer."""
    request = await routed_request(client, session, setup, at_grid(0))
    far_team = setup["teams"][FAR_GRID]
    r = await client.post(
        f"/v1/requests/{request.id}/joint",
        json={"department_codes": ["CG"], "team_ids": [far_team.id], "note": "请城管局与相邻网格协助"},
        headers=bearer(setup["dispatcher"]),
    )
    assert r.status_code == 200, r.text
    return request, r.json()


def _task(answer: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(t for t in answer["co_tasks"] if t["unit_kind"] == kind)


async def test_a_co_unit_reads_and_replies_and_a_unit_outside_the_joint_set_gets_404(
    session, intake_client, joint_setup
):
    setup = joint_setup
    request, answer = await _joint_request(intake_client, session, setup)
    far_team = setup["teams"][FAR_GRID]
    team_task, department_task = _task(answer, "team"), _task(answer, "department")
    assert (team_task["unit_id"], team_task["unit_name"], team_task["status"]) == (
        far_team.id,
        far_team.name,
        "assigned",
    )
    assert (department_task["unit_id"], department_task["unit_code"], department_task["unit_name"]) == (
        setup["cg"].id,
        "CG",
        "市城管局",
    )
    assert team_task["respond_by"] and team_task["replied_at"] is None
    assert answer["handling"]["co_departments"] == [{"id": setup["cg"].id, "code": "CG", "name": "市城管局"}]

    co_member = setup["handlers"][FAR_GRID][0]
    outsider = setup["handlers"][NEAR_GRID][0]
    base = f"/v1/requests/{request.id}"
    # The co-team's member (scoped to another district) reads the request, its trail and its queue.
    r = await intake_client.get(base, headers=bearer(co_member))
    assert r.status_code == 200, r.text
    assert r.json()["citizen"]["phone"] != "13800001234"  # masked: a co-unit is not the handler
    assert (await intake_client.get(f"{base}/events", headers=bearer(co_member))).status_code == 200
    listed = await intake_client.get("/v1/requests", params={"queue": "co_units"}, headers=bearer(co_member))
    assert [item["id"] for item in listed.json()["items"]] == [request.id]
    everything = await intake_client.get("/v1/requests", headers=bearer(co_member))
    assert request.id in [item["id"] for item in everything.json()["items"]]
    # A unit outside the joint set: as if the request did not exist.
    for path in (base, f"{base}/events"):
        problem(await intake_client.get(path, headers=bearer(outsider)), 404)
    problem(
        await intake_client.post(
            f"{base}/co-tasks/{team_task['id']}/reply", json={"reply": "x"}, headers=bearer(outsider)
        ),
        404,
    )
    assert (await intake_client.get("/v1/requests", params={"queue": "co_units"}, headers=bearer(outsider))).json()[
        "items"
    ] == []

    # The lead accepts but cannot resolve while co-units have not replied; the 409 names the open tasks.
    lead = bearer(handler_of(setup, request))
    assert (await intake_client.post(f"{base}/accept", json={}, headers=lead)).status_code == 200
    body = problem(
        await intake_client.post(f"{base}/resolve", json={"outcome": "resolved", "reply": "已处理"}, headers=lead), 409
    )
    assert {e["field"] for e in body["errors"]} == {f"co_tasks.{team_task['id']}", f"co_tasks.{department_task['id']}"}
    # Roles hold: the lead does not reply for a co-unit, a co-unit does not act for the lead.
    problem(
        await intake_client.post(f"{base}/co-tasks/{team_task['id']}/reply", json={"reply": "x"}, headers=lead), 403
    )
    problem(await intake_client.post(f"{base}/note", json={"text": "x"}, headers=bearer(co_member)), 403)
    problem(
        await intake_client.post(f"{base}/co-tasks/{department_task['id']}/accept", json={}, headers=bearer(co_member)),
        403,
    )

    r = await intake_client.post(
        f"{base}/co-tasks/{team_task['id']}/accept", json={"note": "收到"}, headers=bearer(co_member)
    )
    assert r.status_code == 200, r.text
    assert _task(r.json(), "team")["status"] == "accepted"
    version = r.json()["version"]
    problem(
        await intake_client.post(
            f"{base}/co-tasks/{team_task['id']}/reply",
            json={"reply": "x"},
            headers={**bearer(co_member), "If-Match": str(version - 1)},
        ),
        409,
    )
    r = await intake_client.post(
        f"{base}/co-tasks/{team_task['id']}/reply",
        json={"reply": "相邻网格已协助疏导车辆", "public": True},
        headers={**bearer(co_member), "If-Match": str(version)},
    )
    assert r.status_code == 200, r.text
    replied = _task(r.json(), "team")
    assert replied["status"] == "replied" and replied["replied_at"] and replied["reply"] == "相邻网格已协助疏导车辆"
    problem(
        await intake_client.post(
            f"{base}/co-tasks/{team_task['id']}/reply", json={"reply": "again"}, headers=bearer(co_member)
        ),
        409,
    )
    r = await intake_client.post(
        f"{base}/co-tasks/{department_task['id']}/reply",
        json={"reply": "内部：执法队已到场"},
        headers=bearer(setup["cg_staff"]),
    )
    assert r.status_code == 200, r.text

    r = await intake_client.post(f"{base}/resolve", json={"outcome": "resolved", "reply": "已办结"}, headers=lead)
    assert r.status_code == 200, r.text
    # The trail holds every step; the citizen sees the public reply under the co-unit's name only.
    kinds = [e["kind"] for e in (await intake_client.get(f"{base}/events", headers=lead)).json()["items"]]
    assert kinds == [
        "received",
        "routed",
        "joint",
        "accepted",
        "co_task_accepted",
        "co_task_replied",
        "co_task_replied",
        "resolved",
    ]
    track = await intake_client.get(f"/v1/track/{request.tracking_no}", params={"phone_last4": "1234"})
    notes = track.json()["public_notes"]
    assert [(n["note"], n["unit_name"]) for n in notes] == [("相邻网格已协助疏导车辆", far_team.name), ("已办结", None)]
    assert "执法队" not in track.text and co_member.display_name not in track.text


async def test_a_dispatcher_waives_a_co_unit_so_the_lead_can_resolve(session, intake_client, joint_setup):
    setup = joint_setup
    request, answer = await _joint_request(intake_client, session, setup)
    base = f"/v1/requests/{request.id}"
    lead = bearer(handler_of(setup, request))
    await intake_client.post(f"{base}/accept", json={}, headers=lead)
    for task in answer["co_tasks"]:
        problem(
            await intake_client.post(f"{base}/co-tasks/{task['id']}/waive", json={"reason": "x"}, headers=lead), 403
        )
        r = await intake_client.post(
            f"{base}/co-tasks/{task['id']}/waive",
            json={"reason": "不涉及该单位职责"},
            headers=bearer(setup["dispatcher"]),
        )
        assert r.status_code == 200, r.text
    assert {t["status"] for t in r.json()["co_tasks"]} == {"waived"}
    problem(
        await intake_client.post(
            f"{base}/co-tasks/{answer['co_tasks'][0]['id']}/reply",
            json={"reply": "迟到的答复"},
            headers=bearer(setup["cg_staff"]),
        ),
        409,
    )
    r = await intake_client.post(f"{base}/resolve", json={"outcome": "explained", "reply": "已解释"}, headers=lead)
    assert r.status_code == 200, r.text
    problem(await intake_client.post(f"{base}/co-tasks/999999/accept", json={}, headers=bearer(setup["cg_staff"])), 404)


async def test_joint_names_each_unknown_unit_and_keeps_the_old_shape(session, intake_client, joint_setup):
    setup = joint_setup
    request = await routed_request(intake_client, session, setup, at_grid(0))
    base = f"/v1/requests/{request.id}"
    auth = bearer(setup["dispatcher"])
    for body, field in (
        ({"team_ids": [999999]}, "team_ids.0"),
        ({"department_ids": [setup["cg"].id, 999999]}, "department_ids.1"),
        ({"department_codes": ["NOPE"]}, "department_codes.0"),
        ({"department_codes": ["CG"], "respond_by": "2020-01-01T08:00:00+08:00"}, "respond_by"),
    ):
        answer = problem(await intake_client.post(f"{base}/joint", json=body, headers=auth), 422)
        assert field in [e["field"] for e in answer["errors"]], answer
    problem(await intake_client.post(f"{base}/joint", json={}, headers=auth), 422)
    problem(
        await intake_client.post(
            f"{base}/joint", json={"department_codes": ["CG"]}, headers={**auth, "If-Match": str(request.version - 1)}
        ),
        409,
    )
    # The lead's own unit and a unit already in the set are left as they are (the call may be repeated).
    lead_team = request.lead_team_id
    for _ in range(2):
        r = await intake_client.post(
            f"{base}/joint", json={"department_codes": ["CG"], "team_ids": [lead_team]}, headers=auth
        )
        assert r.status_code == 200, r.text
    assert [(t["unit_kind"], t["unit_id"]) for t in r.json()["co_tasks"]] == [("department", setup["cg"].id)]
    assert await session.scalar(select(CoTask.id).where(CoTask.team_id == lead_team)) is None


async def test_a_joint_rule_opens_co_tasks_when_routing(session, intake_client, joint_setup):
    setup = joint_setup
    session.add(
        ResponsibilityRule(
            category_prefix="utilities",
            org_unit_id=setup["units"]["3302"].id,
            handler_kind="joint",
            lead_department_id=setup["hb"].id,
            co_department_ids=[setup["cg"].id],
        )
    )
    await session.commit()
    geodata.forget()  # the worker's matrix cache may hold an earlier test's rules for a second or two
    created = await intake_client.post("/v1/requests", json=at_grid(0, category="utilities"), headers=setup["key"])
    await drain()
    r = await intake_client.get(f"/v1/requests/{created.json()['id']}", headers=bearer(setup["cg_staff"]))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["handling"]["lead_department_id"] == setup["hb"].id
    assert [(t["unit_kind"], t["unit_id"], t["status"]) for t in answer["co_tasks"]] == [
        ("department", setup["cg"].id, "assigned")
    ]
    task = await session.scalar(select(CoTask).where(CoTask.request_id == answer["id"]))
    assert task.created_by == "system:routing"
