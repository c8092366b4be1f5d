"""Deadline extensions (延期申请): the handler applies, a dispatcher or supervisor decides; an approved one
moves the resolution deadline and its warning time, lifts a card it no longer earns, and is in the trail."""

from datetime import UTC, datetime, timedelta

from services.lifecycle.escalation import DEFAULT_ESCALATION_DELAY
from services.lifecycle.sweep import climb, sweep
from services.models import Request
from tests.factories import at_grid, bearer
from tests.intake_api.supervision_kit import add_supervisors, events_of
from tests.kit import handler_of, problem, routed_request


async def _accepted(client, session, setup, **body):
    request = await routed_request(client, session, setup, at_grid(0, **body))
    auth = bearer(handler_of(setup, request))
    r = await client.post(f"/v1/requests/{request.id}/accept", json={}, headers=auth)
    assert r.status_code == 200, r.text
    return await session.get(Request, request.id, populate_existing=True), auth


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


async def test_an_approved_extension_moves_the_deadline(session, intake_client, setup):
    request, handler = await _accepted(intake_client, session, setup)
    base = f"/v1/requests/{request.id}"
    old_resolve_by, old_warn = request.resolve_by, request.resolve_warn_at
    proposed = (old_resolve_by + timedelta(days=5)).replace(microsecond=0)

    r = await intake_client.post(
        f"{base}/extensions",
        json={"reason": "需协调供电公司迁移线杆", "proposed_resolve_by": _iso(proposed)},
        headers={**handler, "If-Match": str(request.version)},
    )
    assert r.status_code == 201, r.text
    extension = r.json()
    assert extension["status"] == "pending" and extension["version"] == 1
    assert datetime.fromisoformat(extension["resolve_by_before"]) == old_resolve_by
    # One pending at a time.
    again = {"reason": "再次申请", "proposed_resolve_by": _iso(proposed)}
    problem(await intake_client.post(f"{base}/extensions", json=again, headers=handler), 409)

    r = await intake_client.post(
        f"{base}/extensions/{extension['id']}/approve",
        json={"note": "同意"},
        headers={**bearer(setup["dispatcher"]), "If-Match": "1"},
    )
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["status"] == "approved" and decided["version"] == 2
    assert decided["decided_by_id"] == setup["dispatcher"].id and decided["decision_note"] == "同意"
    assert datetime.fromisoformat(decided["resolve_by_after"]) == proposed

    moved = await session.get(Request, request.id, populate_existing=True)
    assert moved.resolve_by == proposed
    assert moved.resolve_warn_at > old_warn and moved.resolve_warn_at < proposed
    r = await intake_client.get(base, headers=handler)
    assert datetime.fromisoformat(r.json()["due"]["resolve_by"]) == proposed
    # The trail has both steps.
    requested = await events_of(session, request.id, "extension_requested")
    approved = await events_of(session, request.id, "extension_approved")
    assert requested[0].note == "需协调供电公司迁移线杆"
    assert approved[0].data["resolve_by_before"] and approved[0].data["extension_id"] == extension["id"]
    # Listed, newest first.
    r = await intake_client.get(f"{base}/extensions", headers=bearer(setup["dispatcher"]))
    assert [e["id"] for e in r.json()["items"]] == [extension["id"]]
    # Decided once.
    problem(
        await intake_client.post(
            f"{base}/extensions/{extension['id']}/reject", json={"note": "x"}, headers=bearer(setup["dispatcher"])
        ),
        409,
    )

    # Resolved after the first deadline but by the extended one: on time (scoring judges by resolve_by).
    r = await intake_client.post(f"{base}/resolve", json={"outcome": "resolved", "reply": "已迁移"}, headers=handler)
    assert r.status_code == 200
    [resolved] = await events_of(session, request.id, "resolved")
    assert resolved.data["on_time"] is True


async def test_an_approved_extension_lifts_the_red_card_and_stops_the_climb(session, intake_client, setup):
    supervisors = await add_supervisors(session, setup)
    await session.commit()
    request, handler = await _accepted(intake_client, session, setup)
    t0 = datetime.now(UTC)
    request.resolve_by = t0 - timedelta(minutes=5)
    request.resolve_warn_at = t0 - timedelta(hours=1)
    await session.commit()
    await sweep(session, t0)
    await session.commit()
    request = await session.get(Request, request.id, populate_existing=True)
    assert request.sla_state == "overdue"

    base = f"/v1/requests/{request.id}"
    proposed = t0 + timedelta(days=3)
    r = await intake_client.post(
        f"{base}/extensions", json={"reason": "需等待检测结果", "proposed_resolve_by": _iso(proposed)}, headers=handler
    )
    assert r.status_code == 201, r.text
    ext = r.json()
    # The supervisor in scope decides; and may set another deadline than the one proposed.
    other = (t0 + timedelta(days=2)).replace(microsecond=0)
    street = bearer(supervisors["330203001"])
    r = await intake_client.post(
        f"{base}/extensions/{ext['id']}/approve", json={"resolve_by": _iso(other)}, headers=street
    )
    assert r.status_code == 200, r.text
    request = await session.get(Request, request.id, populate_existing=True)
    assert request.resolve_by == other
    assert request.sla_state in ("ok", "warning")
    [approved] = await events_of(session, request.id, "extension_approved")
    assert approved.data["sla_state_before"] == "overdue"
    # No longer overdue: it does not climb.
    assert await climb(session, t0 + 3 * DEFAULT_ESCALATION_DELAY) == {"escalated": 0}


async def test_who_may_apply_and_decide_and_what_is_refused(session, intake_client, setup):
    supervisors = await add_supervisors(session, setup)
    await session.commit()
    request, handler = await _accepted(intake_client, session, setup)
    base = f"/v1/requests/{request.id}"
    later = _iso(request.resolve_by + timedelta(days=3))
    body = {"reason": "原因", "proposed_resolve_by": later}
    colleague = next(s for s in setup["handlers"]["330203001001001"] if s.id != request.handler_id)
    far = setup["handlers"]["330205001001001"][0]

    problem(await intake_client.post(f"{base}/extensions", json=body, headers=bearer(colleague)), 403)
    problem(await intake_client.post(f"{base}/extensions", json=body, headers=bearer(far)), 404)
    problem(await intake_client.post(f"{base}/extensions", json=body, headers=bearer(setup["dispatcher"])), 403)
    problem(await intake_client.post(f"{base}/extensions", json=body, headers=setup["key"]), 403)
    problem(await intake_client.post("/v1/requests/999999/extensions", json=body, headers=handler), 404)
    # The proposal: after the current deadline, not too far; the fields named.
    for proposed in (_iso(request.resolve_by - timedelta(hours=1)), _iso(request.resolve_by + timedelta(days=90))):
        bad = problem(
            await intake_client.post(
                f"{base}/extensions", json={"reason": "x", "proposed_resolve_by": proposed}, headers=handler
            ),
            422,
        )
        assert bad["errors"][0]["field"] == "proposed_resolve_by"
    bad = problem(await intake_client.post(f"{base}/extensions", json={"reason": "x"}, headers=handler), 422)
    assert "proposed_resolve_by" in bad["errors"][0]["field"]
    problem(await intake_client.post(f"{base}/extensions", json=body, headers={**handler, "If-Match": "1"}), 409)

    r = await intake_client.post(f"{base}/extensions", json=body, headers=handler)
    assert r.status_code == 201, r.text
    ext = r.json()
    decide = f"{base}/extensions/{ext['id']}"
    problem(await intake_client.post(f"{decide}/approve", json={}, headers=handler), 403)
    problem(await intake_client.post(f"{decide}/approve", json={}, headers=bearer(supervisors["330205"])), 404)
    problem(await intake_client.post(f"{decide}/approve", json={}, headers=bearer(setup["district_dispatcher"])), 404)
    problem(
        await intake_client.post(f"{base}/extensions/999999/approve", json={}, headers=bearer(setup["dispatcher"])), 404
    )
    problem(
        await intake_client.post(
            f"{decide}/approve", json={}, headers={**bearer(setup["dispatcher"]), "If-Match": "7"}
        ),
        409,
    )
    bad = problem(
        await intake_client.post(
            f"{decide}/approve", json={"resolve_by": _iso(request.resolve_by)}, headers=bearer(setup["dispatcher"])
        ),
        422,
    )
    assert bad["errors"][0]["field"] == "resolve_by"
    problem(await intake_client.post(f"{decide}/reject", json={}, headers=bearer(setup["dispatcher"])), 422)

    # Rejected: the deadline stays, and the handler may apply again.
    r = await intake_client.post(f"{decide}/reject", json={"note": "理由不充分"}, headers=bearer(setup["dispatcher"]))
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    unchanged = await session.get(Request, request.id, populate_existing=True)
    assert unchanged.resolve_by == request.resolve_by
    assert [e.kind for e in await events_of(session, request.id, "extension_rejected")] == ["extension_rejected"]
    r = await intake_client.post(f"{base}/extensions", json=body, headers=handler)
    assert r.status_code == 201, r.text
    second = r.json()["id"]
    # Only requests being worked on are extended: once resolved, a pending application cannot be approved.
    r = await intake_client.post(f"{base}/resolve", json={"outcome": "resolved", "reply": "已办"}, headers=handler)
    assert r.status_code == 200
    late = await intake_client.post(f"{base}/extensions/{second}/approve", json={}, headers=bearer(setup["dispatcher"]))
    assert problem(late, 409)["title"] == "Extension not allowed"
    problem(await intake_client.post(f"{base}/extensions", json=body, headers=handler), 409)


async def test_at_most_two_extensions_are_approved(session, intake_client, setup):
    request, handler = await _accepted(intake_client, session, setup)
    base = f"/v1/requests/{request.id}"
    dispatcher = bearer(setup["dispatcher"])
    deadline = request.resolve_by
    for _ in range(2):
        deadline += timedelta(days=2)
        r = await intake_client.post(
            f"{base}/extensions", json={"reason": "续延", "proposed_resolve_by": _iso(deadline)}, headers=handler
        )
        assert r.status_code == 201, r.text
        r = await intake_client.post(f"{base}/extensions/{r.json()['id']}/approve", json={}, headers=dispatcher)
        assert r.status_code == 200, r.text
    r = await intake_client.post(
        f"{base}/extensions",
        json={"reason": "第三次", "proposed_resolve_by": _iso(deadline + timedelta(days=2))},
        headers=handler,
    )
    problem(r, 409)
