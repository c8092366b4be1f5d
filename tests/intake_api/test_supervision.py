"""Supervision that reaches people: red and yellow cards as webhooks, escalation up the org tree on the
SLA clock (a fake one: `now` passed in), the supervisors' inbox, 督办 and 催办."""

from datetime import UTC, datetime, timedelta

from services.lifecycle.escalation import DEFAULT_ESCALATION_DELAY
from services.lifecycle.sweep import climb, sla_clock, sweep
from services.models import Escalation, Request
from services.webhooks.signing import verify
from tests.factories import at_grid, bearer, make_leader_link, make_staff
from tests.intake_api.supervision_kit import add_supervisors, deliver, events_of, hooked_integration, received
from tests.kit import accept_and_resolve, create_request, drain, handler_of, problem, routed_request

GRID0_COMMUNITY = "/3302/330203/330203001/330203001001/"
GRID0_STREET = "/3302/330203/330203001/"


async def _routed(client, session, headers, body):
    created = await create_request(client, headers, body)
    await drain()
    request = await session.get(Request, created["id"], populate_existing=True)
    assert request.status == "assigned"
    return request


async def _overdue(session, request, now):
    """Push the response deadline into the past and run the clock at `now`."""
    request.respond_by = now - timedelta(minutes=1)
    request.respond_warn_at = now - timedelta(minutes=30)
    await session.commit()
    counts = await sla_clock(session, now)
    await session.commit()
    return counts


async def test_an_overdue_request_is_announced_and_lands_in_the_supervisors_inbox(
    session, intake_client, setup, webhook_receiver, monkeypatch
):
    supervisors = await add_supervisors(session, setup)
    hotline = await hooked_integration(session, webhook_receiver, monkeypatch)
    await session.commit()
    request = await _routed(intake_client, session, hotline, at_grid(0, external_id="12345-0001"))
    now = datetime.now(UTC)

    assert await _overdue(session, request, now) == {
        "warning": 0,
        "overdue": 1,
        "closed_no_evaluation": 0,
        "escalated": 0,
    }
    await deliver()

    [overdue] = received(webhook_receiver, "request.sla_overdue")
    assert overdue["request_id"] == request.id
    assert overdue["tracking_no"] == request.tracking_no and overdue["external_id"] == "12345-0001"
    assert overdue["sla_state"] == "overdue" and overdue["phase"] == "response"
    assert overdue["from"] == overdue["to"] == "assigned"
    assert overdue["escalation_level"] == 1
    [escalated] = received(webhook_receiver, "request.escalated")
    assert escalated["reason"] == "overdue" and escalated["escalation_level"] == 1
    assert escalated["escalated_to"]["path"] == GRID0_COMMUNITY
    assert escalated["supervisor_ids"] == [supervisors["330203001001"].id]
    assert escalated["version"] == overdue["version"] + 1 == request.version  # sla_overdue, then escalated
    # Signed like every delivery, and the status webhooks now carry the public numbers too.
    hook = next(r for r in webhook_receiver.requests if r.headers["x-minqing-event"] == "request.escalated")
    assert verify(hook.body, "s" * 32, hook.headers["x-minqing-signature"])
    [routed] = received(webhook_receiver, "request.status_changed")
    assert routed["tracking_no"] == request.tracking_no and routed["external_id"] == "12345-0001"

    # The trail: the red card, then the step.
    kinds = [e.kind for e in await events_of(session, request.id)]
    assert kinds[-2:] == ["sla_overdue", "escalated"]

    # The community's supervisor (and those above) see it; the other district's does not.
    for code in ("330203001001", "330203001", "3302"):
        r = await intake_client.get("/v1/supervision", headers=bearer(supervisors[code]))
        assert r.status_code == 200, r.text
        [item] = r.json()["items"]
        assert item["request_id"] == request.id and item["tracking_no"] == request.tracking_no
        assert item["reasons"] == ["overdue", "escalated"]
        assert item["escalation"]["level"] == 1 and item["escalation"]["to_path"] == GRID0_COMMUNITY
        assert item["escalation"]["to_unit_code"] == "330203001001"
        assert item["handling"]["lead_team_name"] and item["handling"]["handler_name"]
        assert item["phase"] == "response" and item["sla_state"] == "overdue"
    r = await intake_client.get("/v1/supervision", headers=bearer(supervisors["330205"]))
    assert r.json() == {"items": [], "next_cursor": None}
    # Dispatchers see it too; handlers have no inbox.
    r = await intake_client.get("/v1/supervision", headers=bearer(setup["dispatcher"]))
    assert [i["request_id"] for i in r.json()["items"]] == [request.id]
    problem(await intake_client.get("/v1/supervision", headers=bearer(handler_of(setup, request))), 403)
    problem(await intake_client.get("/v1/supervision", headers=hotline), 403)
    problem(
        await intake_client.get("/v1/supervision", params={"state": "late"}, headers=bearer(setup["dispatcher"])), 422
    )

    # Once resolved it leaves the open inbox but stays in `all`.
    await accept_and_resolve(intake_client, request, bearer(handler_of(setup, request)))
    sup = bearer(supervisors["330203001"])
    assert (await intake_client.get("/v1/supervision", headers=sup)).json()["items"] == []
    r = await intake_client.get("/v1/supervision", params={"state": "all", "reason": "escalated"}, headers=sup)
    assert [i["request_id"] for i in r.json()["items"]] == [request.id]


async def test_a_yellow_card_is_announced(session, intake_client, setup, webhook_receiver, monkeypatch):
    hotline = await hooked_integration(session, webhook_receiver, monkeypatch)
    await session.commit()
    request = await _routed(intake_client, session, hotline, at_grid(0))
    now = datetime.now(UTC)
    request.respond_warn_at = now - timedelta(minutes=1)
    await session.commit()
    assert (await sweep(session, now))["warning"] == 1
    await session.commit()
    await deliver()
    [warning] = received(webhook_receiver, "request.sla_warning")
    assert warning["sla_state"] == "warning" and warning["tracking_no"] == request.tracking_no
    assert warning["escalation_level"] == 0 and warning["phase"] == "response"
    assert received(webhook_receiver, "request.escalated") == []


async def test_escalation_climbs_the_tree_on_the_clock_and_tells_the_key_group_leader(session, intake_client, setup):
    supervisors = await add_supervisors(session, setup)
    leader = await make_staff(session, "leader_street", "supervisor", setup["units"]["3302"])
    await make_leader_link(session, leader, org_unit_id=setup["units"]["330203001"].id, post="街道党工委书记")
    await session.commit()
    request = await routed_request(intake_client, session, setup, at_grid(0, category="land.acquisition"))
    t0 = datetime.now(UTC)
    await _overdue(session, request, t0)

    # Not yet: the delay has not passed.
    assert await climb(session, t0 + DEFAULT_ESCALATION_DELAY - timedelta(minutes=1)) == {"escalated": 0}
    await session.commit()
    # Still overdue a delay later: the street; another delay: the district.
    assert await climb(session, t0 + DEFAULT_ESCALATION_DELAY) == {"escalated": 1}
    await session.commit()
    assert await climb(session, t0 + DEFAULT_ESCALATION_DELAY + timedelta(hours=1)) == {"escalated": 0}
    await session.commit()
    assert await climb(session, t0 + 2 * DEFAULT_ESCALATION_DELAY) == {"escalated": 1}
    await session.commit()

    steps = await events_of(session, request.id, "escalated")
    assert [(e.data["level"], e.data["reason"], e.data["to_unit_path"]) for e in steps] == [
        (1, "overdue", GRID0_COMMUNITY),
        (2, "timed", GRID0_STREET),
        (3, "timed", "/3302/330203/"),
    ]
    assert [e.data["supervisor_ids"] for e in steps] == [
        [supervisors["330203001001"].id],
        [supervisors["330203001"].id],
        [supervisors["330203"].id],
    ]
    # Key-group (征地补偿): the leader linked to the street is told when it reaches the street.
    assert [e.data["leader_ids"] for e in steps] == [[], [leader.id], []]
    row = await session.get(Escalation, request.id, populate_existing=True)
    assert (row.level, row.to_path) == (3, "/3302/330203/")

    # Then the city, and no higher.
    assert await climb(session, t0 + 3 * DEFAULT_ESCALATION_DELAY) == {"escalated": 1}
    await session.commit()
    assert await climb(session, t0 + 10 * DEFAULT_ESCALATION_DELAY) == {"escalated": 0}
    await session.commit()
    row = await session.get(Escalation, request.id, populate_existing=True)
    assert (row.level, row.to_path) == (4, "/3302/")

    # The inbox says why: overdue, escalated and a key-group matter.
    r = await intake_client.get("/v1/supervision", headers=bearer(supervisors["3302"]))
    [item] = r.json()["items"]
    assert item["reasons"] == ["overdue", "escalated", "key_group"] and item["escalation"]["level"] == 4
    assert item["key_group"] is True


async def test_an_accepted_or_suspended_request_stops_climbing(session, intake_client, setup):
    await add_supervisors(session, setup)
    await session.commit()
    a = await routed_request(intake_client, session, setup, at_grid(0, description="甲"))
    b = await routed_request(
        intake_client, session, setup, at_grid(1, description="乙", citizen={"phone": "13600000001"})
    )
    t0 = datetime.now(UTC)
    for request in (a, b):
        request.respond_by = t0 - timedelta(minutes=1)
    await session.commit()
    await sweep(session, t0)
    await session.commit()
    # a is accepted: the response is in, the standing follows the resolution deadline (not overdue).
    r = await intake_client.post(f"/v1/requests/{a.id}/accept", json={}, headers=bearer(handler_of(setup, a)))
    assert r.status_code == 200 and r.json()["sla_state"] == "ok"
    # b is suspended while overdue: its clock is paused, so it does not climb either.
    b = await session.get(Request, b.id, populate_existing=True)
    b.status = "suspended"
    await session.commit()
    assert await climb(session, t0 + 5 * DEFAULT_ESCALATION_DELAY) == {"escalated": 0}


async def test_the_manual_escalation_takes_the_same_step(session, intake_client, setup, webhook_receiver, monkeypatch):
    supervisors = await add_supervisors(session, setup)
    hotline = await hooked_integration(session, webhook_receiver, monkeypatch)
    await session.commit()
    request = await _routed(intake_client, session, hotline, at_grid(0))
    auth = bearer(handler_of(setup, request))
    r = await intake_client.post(f"/v1/requests/{request.id}/escalate", json={"note": "需街道协调"}, headers=auth)
    assert r.status_code == 200, r.text
    r = await intake_client.post(
        f"/v1/requests/{request.id}/escalate",
        json={"note": "仍需上级协调"},
        headers={**bearer(setup["dispatcher"]), "If-Match": str(r.json()["version"])},
    )
    assert r.status_code == 200, r.text
    steps = await events_of(session, request.id, "escalated")
    assert [(e.data["level"], e.data["reason"], e.note) for e in steps] == [
        (1, "manual", "需街道协调"),
        (2, "manual", "仍需上级协调"),
    ]
    assert steps[1].data["supervisor_ids"] == [supervisors["330203001"].id]
    await deliver()
    assert [(e["escalation_level"], e["note"]) for e in received(webhook_receiver, "request.escalated")] == [
        (1, "需街道协调"),
        (2, "仍需上级协调"),
    ]
    # Escalated by hand but not overdue: the timed climb is for overdue requests only.
    assert await climb(session, datetime.now(UTC) + 3 * DEFAULT_ESCALATION_DELAY) == {"escalated": 0}


async def test_supervision_orders_and_reminders(session, intake_client, setup, webhook_receiver, monkeypatch):
    supervisors = await add_supervisors(session, setup)
    hotline = await hooked_integration(session, webhook_receiver, monkeypatch)
    await session.commit()
    request = await _routed(intake_client, session, hotline, at_grid(0))
    base = f"/v1/requests/{request.id}"
    street = bearer(supervisors["330203001"])
    due_by = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    resolve_by = request.resolve_by

    r = await intake_client.post(
        f"{base}/supervise", json={"note": "请三日内办结并报告", "due_by": due_by.isoformat()}, headers=street
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["kind"] == "order" and order["open"] is True and order["overdue"] is False
    assert datetime.fromisoformat(order["due_by"]) == due_by
    assert order["team_id"] == request.lead_team_id and order["handler_id"] == request.handler_id
    r = await intake_client.post(
        f"{base}/remind",
        json={"note": "请加快办理"},
        headers={**street, "If-Match": str(order["request_version"])},
    )
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "reminder" and r.json()["due_by"] is None

    # In the trail, as webhooks, in the inbox; the order does not move the resolution deadline.
    supervised = await events_of(session, request.id, "supervised")
    reminded = await events_of(session, request.id, "reminded")
    assert [e.note for e in supervised + reminded] == ["请三日内办结并报告", "请加快办理"]
    assert supervised[0].data["order_id"] == order["id"]
    await deliver()
    assert [(e["kind"], e["note"]) for e in received(webhook_receiver, "request.supervised")] == [
        ("order", "请三日内办结并报告"),
        ("reminder", "请加快办理"),
    ]
    again = await session.get(Request, request.id, populate_existing=True)
    assert again.resolve_by == resolve_by
    r = await intake_client.get("/v1/supervision", headers=street)
    [item] = r.json()["items"]
    assert item["reasons"] == ["supervised"] and [o["id"] for o in item["orders"]] == [order["id"]]
    assert item["reminders"] == 1 and item["last_reminded_at"]
    # The handler reads the orders on the request.
    r = await intake_client.get(f"{base}/supervision", headers=bearer(handler_of(setup, request)))
    assert r.status_code == 200 and [o["kind"] for o in r.json()["orders"]] == ["order", "reminder"]

    # Who may: supervisors in scope only.
    body = {"note": "x"}
    problem(await intake_client.post(f"{base}/remind", json=body, headers=bearer(setup["dispatcher"])), 403)
    problem(await intake_client.post(f"{base}/remind", json=body, headers=bearer(handler_of(setup, request))), 403)
    problem(await intake_client.post(f"{base}/remind", json=body, headers=bearer(supervisors["330205"])), 404)
    problem(await intake_client.post(f"{base}/remind", json=body, headers=hotline), 403)
    problem(await intake_client.post("/v1/requests/999999/remind", json=body, headers=street), 404)
    # Input: the order's deadline in the future; a stale version; unknown fields.
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    bad = problem(
        await intake_client.post(f"{base}/supervise", json={"note": "x", "due_by": past}, headers=street), 422
    )
    assert bad["errors"][0]["field"] == "due_by"
    far = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    bad = problem(await intake_client.post(f"{base}/supervise", json={"note": "x", "due_by": far}, headers=street), 422)
    assert bad["errors"][0]["field"] == "due_by"
    problem(await intake_client.post(f"{base}/supervise", json={"note": "x"}, headers=street), 422)
    problem(await intake_client.post(f"{base}/remind", json={"note": "x", "level": 9}, headers=street), 422)
    problem(await intake_client.post(f"{base}/remind", json=body, headers={**street, "If-Match": "1"}), 409)
    # A closed request is not supervised.
    closed = await session.get(Request, request.id, populate_existing=True)
    closed.status = "closed"
    await session.commit()
    problem(await intake_client.post(f"{base}/remind", json=body, headers=street), 409)


async def test_the_escalation_delay_is_the_rule_setting(session, intake_client, setup):
    await add_supervisors(session, setup)
    admin = await make_staff(session, "city_admin", "admin", setup["units"]["3302"])
    await session.commit()
    r = await intake_client.patch(
        "/v1/admin/settings",
        json={"handling": {"escalation_delay_hours": 2}},
        headers=bearer(admin) | {"If-Match": "1"},
    )
    assert r.status_code == 200, r.text
    request = await routed_request(intake_client, session, setup, at_grid(0))
    t0 = datetime.now(UTC)
    await _overdue(session, request, t0)
    assert await climb(session, t0 + timedelta(hours=1, minutes=59)) == {"escalated": 0}
    await session.commit()
    assert await climb(session, t0 + timedelta(hours=2)) == {"escalated": 1}
    await session.commit()
