"""The handler workflow and the citizen's feedback, through the API, with the routing worker in burst mode."""

from sqlalchemy import select

from services.models import Request, RequestEvent
from tests.factories import at_grid, bearer
from tests.kit import drain, handler_of, routed_request, routed_to_handler


async def test_full_lifecycle_from_accept_to_satisfied_close(session, intake_client, setup):
    request, auth = await routed_to_handler(intake_client, session, setup, at_grid(0))
    base = f"/v1/requests/{request.id}"
    r = await intake_client.post(f"{base}/accept", json={"note": "已受理"}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted"
    r = await intake_client.post(f"{base}/note", json={"text": "已联系施工方", "public": True}, headers=auth)
    assert r.status_code == 200
    r = await intake_client.post(f"{base}/resolve", json={"outcome": "resolved", "reply": "已停工"}, headers=auth)
    assert r.json()["status"] == "resolved"
    r = await intake_client.get(f"/v1/track/{request.tracking_no}", params={"phone_last4": "1234"})
    assert [n["note"] for n in r.json()["public_notes"]] == ["已联系施工方", "已停工"]
    r = await intake_client.post(
        f"/v1/track/{request.tracking_no}/feedback",
        json={"phone_last4": "1234", "resolved": True, "satisfaction": "satisfied"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"request_id": request.id, "resolution_no": 1, "status": "closed", "reopened": False}
    r = await intake_client.post(
        f"/v1/track/{request.tracking_no}/feedback",
        json={"phone_last4": "1234", "resolved": True, "satisfaction": "satisfied"},
    )
    assert r.status_code == 409
    events = (await intake_client.get(f"{base}/events", headers=auth)).json()
    assert events["chain_intact"]
    assert [e["kind"] for e in events["items"]] == ["received", "routed", "accepted", "note", "resolved", "closed"]


async def test_illegal_transition_is_409(session, intake_client, setup):
    request, auth = await routed_to_handler(intake_client, session, setup, at_grid(0))
    r = await intake_client.post(
        f"/v1/requests/{request.id}/resolve", json={"outcome": "resolved", "reply": "x"}, headers=auth
    )
    assert r.status_code == 409
    r = await intake_client.post(f"/v1/requests/{request.id}/resume", json={}, headers=auth)
    assert r.status_code == 409


async def test_only_the_handler_or_a_dispatcher_acts(session, intake_client, setup):
    request = await routed_request(intake_client, session, setup, at_grid(0))
    other = next(s for s in setup["handlers"]["330203001001001"] if s.id != request.handler_id)
    far = setup["handlers"]["330205001001001"][0]
    r = await intake_client.post(f"/v1/requests/{request.id}/accept", json={}, headers=bearer(other))
    assert r.status_code == 403
    r = await intake_client.post(f"/v1/requests/{request.id}/accept", json={}, headers=bearer(far))
    assert r.status_code == 404
    r = await intake_client.post(f"/v1/requests/{request.id}/accept", json={}, headers=bearer(setup["dispatcher"]))
    assert r.status_code == 200
    r = await intake_client.post(
        f"/v1/requests/{request.id}/reassign",
        json={"department_code": "HB"},
        headers=bearer(handler_of(setup, request)),
    )
    assert r.status_code == 403


async def test_stale_version_in_if_match_is_409(session, intake_client, setup):
    request, auth = await routed_to_handler(intake_client, session, setup, at_grid(0))
    r = await intake_client.post(
        f"/v1/requests/{request.id}/accept", json={}, headers={**auth, "If-Match": str(request.version - 1)}
    )
    assert r.status_code == 409


async def test_returned_request_reroutes_without_that_handler_and_second_return_goes_to_dispatcher(
    session, intake_client, setup
):
    request = await routed_request(intake_client, session, setup, at_grid(0))
    first = request.handler_id
    r = await intake_client.post(
        f"/v1/requests/{request.id}/return",
        json={"reason": "not_ours", "note": "不是本网格"},
        headers=bearer(handler_of(setup, request)),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "received"
    await drain()
    request = await session.get(Request, request.id, populate_existing=True)
    # The returning unit (the grid's team), not just its handler, is excluded: the next rule's unit has it.
    assert request.status == "assigned" and request.handler_id != first
    assert (request.lead_team_id, request.lead_department_id) == (None, setup["hb"].id)
    r = await intake_client.post(
        f"/v1/requests/{request.id}/return",
        json={"reason": "wrong_location", "note": "位置不对"},
        headers=bearer(setup["hb_staff"]),
    )
    assert r.json()["status"] == "needs_dispatch"
    await drain()
    request = await session.get(Request, request.id, populate_existing=True)
    assert request.status == "needs_dispatch" and request.handler_id is None


async def test_department_member_claims_from_the_queue(session, intake_client, setup):
    request = await routed_request(intake_client, session, setup, at_grid(0, category="env"))
    assert request.handler_id is None
    r = await intake_client.post(f"/v1/requests/{request.id}/accept", json={}, headers=bearer(setup["hb_staff"]))
    assert r.status_code == 200, r.text
    assert r.json()["handling"]["handler_id"] == setup["hb_staff"].id


async def test_dispatcher_classifies_an_unknown_request_which_reroutes(session, intake_client, setup):
    request = await routed_request(intake_client, session, setup, at_grid(2, category="unknown"))
    assert request.status == "needs_dispatch"
    auth = bearer(setup["district_dispatcher"])
    r = await intake_client.post(f"/v1/requests/{request.id}/classify", json={"category": "utilities"}, headers=auth)
    assert r.status_code == 200, r.text
    await drain()
    request = await session.get(Request, request.id, populate_existing=True)
    assert (request.status, request.category_code) == ("assigned", "utilities")
    assert request.lead_team_id == setup["teams"]["330205001001001"].id


async def test_suspension_moves_the_resolution_deadline(session, intake_client, setup):
    request, auth = await routed_to_handler(intake_client, session, setup, at_grid(0, category="utilities"))
    await intake_client.post(f"/v1/requests/{request.id}/accept", json={}, headers=auth)
    before = (await session.get(Request, request.id, populate_existing=True)).resolve_by
    r = await intake_client.post(f"/v1/requests/{request.id}/suspend", json={"reason": "等群众补材料"}, headers=auth)
    assert r.json()["status"] == "suspended"
    r = await intake_client.post(f"/v1/requests/{request.id}/resume", json={}, headers=auth)
    assert r.json()["status"] == "accepted"
    after = (await session.get(Request, request.id, populate_existing=True)).resolve_by
    assert after >= before  # utilities run on clock time: the pause (a few ms) is added


async def test_negative_feedback_reopens_once_then_closes(session, intake_client, setup):
    request = await routed_request(intake_client, session, setup, at_grid(0))
    handler = handler_of(setup, request)
    auth = bearer(handler)
    base = f"/v1/requests/{request.id}"
    for round_no in (1, 2):
        await intake_client.post(f"{base}/accept", json={}, headers=auth)
        await intake_client.post(f"{base}/resolve", json={"outcome": "explained", "reply": "已解释"}, headers=auth)
        r = await intake_client.post(
            f"{base}/feedback", json={"resolved": False, "satisfaction": "dissatisfied"}, headers=setup["key"]
        )
        assert r.status_code == 200, r.text
        if round_no == 1:
            assert r.json()["reopened"] is True and r.json()["status"] == "assigned"
            again = await session.get(Request, request.id, populate_existing=True)
            assert again.handler_id == handler.id
        else:
            assert r.json() == {"request_id": request.id, "resolution_no": 2, "status": "closed", "reopened": False}
    closed = await session.get(Request, request.id, populate_existing=True)
    assert closed.close_reason == "unsatisfied"


async def test_sweep_warns_escalates_and_closes_unevaluated(session, intake_client, setup):
    from datetime import UTC, datetime, timedelta

    from services.lifecycle.sweep import sweep

    a = await routed_request(intake_client, session, setup, at_grid(0, description="甲"))
    b = await routed_request(
        intake_client, session, setup, at_grid(1, description="乙", citizen={"phone": "13600000001"})
    )
    now = datetime.now(UTC)
    a.respond_warn_at = now - timedelta(minutes=1)
    b.respond_by = now - timedelta(minutes=1)
    await session.commit()
    counts = await sweep(session, now)
    await session.commit()
    assert counts == {"warning": 1, "overdue": 1, "closed_no_evaluation": 0}
    assert (await session.get(Request, a.id, populate_existing=True)).sla_state == "warning"
    assert (await session.get(Request, b.id, populate_existing=True)).sla_state == "overdue"
    escalation = await session.scalar(
        select(RequestEvent).where(RequestEvent.request_id == b.id, RequestEvent.kind == "sla_overdue")
    )
    assert escalation.data["escalated_to"] == "/3302/330203/330203002/330203002001/"
    assert await sweep(session, now) == {"warning": 0, "overdue": 0, "closed_no_evaluation": 0}
