"""Returns (退单) through the API: a return excludes the returning *unit* from re-routing, says why, may
propose where the request belongs, and (when the setting asks for it) waits for a dispatcher's review."""

import pytest
from sqlalchemy import select

from services.models import Request, RequestEvent, RequestReturn
from tests.factories import at_grid, bearer, make_staff
from tests.kit import drain, handler_of, problem, routed_request

GRID0, GRID1 = "330203001001001", "330203002001001"


async def _fresh(session, request_id: int) -> Request:
    return await session.get(Request, request_id, populate_existing=True)


async def test_a_units_return_never_comes_back_to_it(session, intake_client, setup):
    # `env` goes to the HB department; HB returns it, and the next rule (`*`: the grid's team) takes it.
    request = await routed_request(intake_client, session, setup, at_grid(0, category="env"))
    assert request.lead_department_id == setup["hb"].id
    r = await intake_client.post(
        f"/v1/requests/{request.id}/return",
        json={"reason": "not_ours", "note": "属网格职责"},
        headers=bearer(setup["hb_staff"]),
    )
    assert r.status_code == 200, r.text
    await drain()
    request = await _fresh(session, request.id)
    assert (request.status, request.lead_department_id) == ("assigned", None)
    assert request.lead_team_id == setup["teams"][GRID0].id
    routed = await session.scalar(
        select(RequestEvent)
        .where(RequestEvent.request_id == request.id, RequestEvent.kind == "routed")
        .order_by(RequestEvent.seq.desc())
    )
    assert routed.data["excluded_units"] == {"grids": [], "departments": [setup["hb"].id]}
    # The grid's team returns it too: every unit the rules name has returned it, so a dispatcher decides
    # (the second return goes to a dispatcher in any case).
    r = await intake_client.post(
        f"/v1/requests/{request.id}/return",
        json={"reason": "not_ours", "note": "不归本网格"},
        headers=bearer(handler_of(setup, request)),
    )
    assert r.json()["status"] == "needs_dispatch"


async def test_a_returned_grid_team_is_skipped_even_with_other_members_on_duty(session, intake_client, setup):
    request = await routed_request(intake_client, session, setup, at_grid(0))
    team = setup["teams"][GRID0]
    r = await intake_client.post(
        f"/v1/requests/{request.id}/return",
        json={"reason": "not_ours", "note": "不是本网格"},
        headers=bearer(handler_of(setup, request)),
    )
    assert r.status_code == 200, r.text
    await drain()
    request = await _fresh(session, request.id)
    members = {s.id for s in setup["handlers"][GRID0]}
    assert request.lead_team_id != team.id and request.handler_id not in members


async def test_the_re_route_takes_the_proposed_unit(session, intake_client, setup):
    request = await routed_request(intake_client, session, setup, at_grid(0))
    target = setup["teams"][GRID1]
    r = await intake_client.post(
        f"/v1/requests/{request.id}/return",
        json={"reason": "wrong_location", "note": "地址在隔壁街道", "proposed_team_id": target.id},
        headers=bearer(handler_of(setup, request)),
    )
    assert r.status_code == 200, r.text
    await drain()
    request = await _fresh(session, request.id)
    assert (request.status, request.lead_team_id) == ("assigned", target.id)
    assert request.handler_id in {s.id for s in setup["handlers"][GRID1]}
    assert request.unit_path == setup["units"][GRID1].path
    stored = await session.scalar(select(RequestReturn).where(RequestReturn.request_id == request.id))
    assert (stored.reason, stored.proposed_team_id, stored.status) == ("wrong_location", target.id, "applied")


async def test_a_proposed_category_changes_the_category_and_its_deadlines(session, intake_client, setup):
    request = await routed_request(intake_client, session, setup, at_grid(0))
    before = request.resolve_by
    r = await intake_client.post(
        f"/v1/requests/{request.id}/return",
        json={"reason": "wrong_category", "note": "实为供水问题", "proposed_category": "utilities"},
        headers=bearer(handler_of(setup, request)),
    )
    assert r.status_code == 200, r.text
    assert r.json()["category"] == "utilities"
    request = await _fresh(session, request.id)
    assert request.resolve_by < before  # utilities: 24 clock hours instead of 7 working days
    await drain()
    request = await _fresh(session, request.id)
    # Utilities go to the grid's team by the `*` rule, and that team returned it: a dispatcher decides.
    assert request.status == "needs_dispatch"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "wrong_category", "note": "x"}, "proposed_category"),
        (
            {"reason": "not_ours", "note": "x", "proposed_team_id": 1, "proposed_department_id": 1},
            "proposed_department_id",
        ),
        ({"reason": "other", "note": "x"}, "reason"),
        ({"reason": "not_ours"}, "note"),
        ({"reason": "wrong_category", "note": "x", "proposed_category": "nope"}, "proposed_category"),
        ({"reason": "not_ours", "note": "x", "proposed_department_id": 999999}, "proposed_department_id"),
    ],
)
async def test_a_return_must_say_why_and_propose_only_what_exists(session, intake_client, setup, body, field):
    request = await routed_request(intake_client, session, setup, at_grid(0))
    answer = problem(
        await intake_client.post(
            f"/v1/requests/{request.id}/return", json=body, headers=bearer(handler_of(setup, request))
        ),
        422,
    )
    assert field in [e["field"] for e in answer["errors"]], answer
    assert (await _fresh(session, request.id)).status == "assigned"


async def test_a_unit_cannot_propose_itself(session, intake_client, setup):
    request = await routed_request(intake_client, session, setup, at_grid(0))
    answer = problem(
        await intake_client.post(
            f"/v1/requests/{request.id}/return",
            json={"reason": "not_ours", "note": "x", "proposed_team_id": request.lead_team_id},
            headers=bearer(handler_of(setup, request)),
        ),
        422,
    )
    assert [e["field"] for e in answer["errors"]] == ["proposed_team_id"]


async def test_with_review_required_the_first_return_waits_for_a_dispatcher(session, intake_client, setup):
    admin = await make_staff(session, "city_admin", "admin", setup["units"]["3302"])
    await session.commit()
    r = await intake_client.patch(
        "/v1/admin/settings",
        json={"handling": {"return_review_required": True}},
        headers=bearer(admin) | {"If-Match": "1"},
    )
    assert r.status_code == 200, r.text
    request = await routed_request(intake_client, session, setup, at_grid(0))
    handler = handler_of(setup, request)
    auth, dispatcher = bearer(handler), bearer(setup["dispatcher"])
    base = f"/v1/requests/{request.id}"
    await intake_client.post(f"{base}/accept", json={}, headers=auth)
    r = await intake_client.post(f"{base}/return", json={"reason": "not_ours", "note": "非本网格"}, headers=auth)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["handling"]["handler_id"]) == ("return_review", handler.id)
    # While it waits: the unit still sees it, cannot work on it or return it again, nor review it.
    problem(await intake_client.post(f"{base}/resolve", json={"outcome": "resolved", "reply": "x"}, headers=auth), 409)
    problem(await intake_client.post(f"{base}/return", json={"reason": "not_ours", "note": "x"}, headers=auth), 409)
    problem(
        await intake_client.post(f"{base}/return-review", json={"decision": "confirm", "note": "x"}, headers=auth), 403
    )
    listed = await intake_client.get("/v1/requests", params={"status": "return_review"}, headers=dispatcher)
    assert [i["id"] for i in listed.json()["items"]] == [request.id]

    # Rejected: back to the unit, in the status it had.
    r = await intake_client.post(
        f"{base}/return-review", json={"decision": "reject", "note": "属本网格职责"}, headers=dispatcher
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["handling"]["handler_id"]) == ("accepted", handler.id)
    problem(
        await intake_client.post(f"{base}/return-review", json={"decision": "reject", "note": "x"}, headers=dispatcher),
        409,
    )

    # Returned again and confirmed: it takes effect, re-routed without the unit.
    r = await intake_client.post(f"{base}/return", json={"reason": "not_ours", "note": "确非本网格"}, headers=auth)
    assert r.json()["status"] == "return_review"
    r = await intake_client.post(
        f"{base}/return-review",
        json={"decision": "confirm", "note": "同意退回"},
        headers={**dispatcher, "If-Match": str(r.json()["version"])},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "received"
    await drain()
    request = await _fresh(session, request.id)
    assert request.status == "assigned" and request.lead_team_id != setup["teams"][GRID0].id
    kinds = [e["kind"] for e in (await intake_client.get(f"{base}/events", headers=dispatcher)).json()["items"]]
    assert kinds[2:] == [
        "accepted",
        "return_requested",
        "return_rejected",
        "return_requested",
        "return_confirmed",
        "routed",
    ]
    stored = list(await session.scalars(select(RequestReturn.status).order_by(RequestReturn.id)))
    assert stored == ["rejected", "applied"]


async def test_with_no_returns_before_dispatch_the_first_return_goes_to_a_dispatcher(session, intake_client, setup):
    admin = await make_staff(session, "city_admin", "admin", setup["units"]["3302"])
    await session.commit()
    r = await intake_client.patch(
        "/v1/admin/settings",
        json={"handling": {"returns_before_dispatch": 0}},
        headers=bearer(admin) | {"If-Match": "1"},
    )
    assert r.status_code == 200, r.text
    request = await routed_request(intake_client, session, setup, at_grid(0))
    r = await intake_client.post(
        f"/v1/requests/{request.id}/return",
        json={"reason": "not_ours", "note": "非本网格"},
        headers=bearer(handler_of(setup, request)),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "needs_dispatch"


async def test_a_request_waiting_for_review_stays_on_its_units_clock(session, setup):
    """In `return_review` the deadline that ran before keeps running: red card when it passes."""
    from datetime import UTC, datetime, timedelta

    from services.lifecycle.sweep import sweep
    from tests.factories import make_request

    now = datetime.now(UTC)
    grid = setup["units"]["330203001001001"]
    not_accepted = await make_request(session, unit=grid, status="return_review", respond_by=now - timedelta(minutes=5))
    accepted = await make_request(
        session,
        unit=grid,
        status="return_review",
        accepted_at=now - timedelta(days=1),
        respond_by=now - timedelta(days=1),
        resolve_by=now + timedelta(days=3),
    )
    await session.commit()
    assert (await sweep(session, now))["overdue"] == 1
    await session.commit()
    await session.refresh(not_accepted)
    await session.refresh(accepted)
    assert (not_accepted.sla_state, accepted.sla_state) == ("overdue", "ok")
