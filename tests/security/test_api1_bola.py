"""API1:2023 Broken Object Level Authorization: every id-taking endpoint answers 404 (as if absent) to
callers outside the object's scope, never its data, and changes nothing."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import LeaderLink, Member, Request, ResponsibilityRule, Team, WebhookSubscription
from tests.factories import at_grid, bearer, make_api_key, make_leader_link, make_staff
from tests.kit import PROBLEM, accept_and_resolve, create_request, routed_to_handler
from tests.security.helpers import GRIDS, routed
from tests.services.scoring.helpers import PERIOD, A, build_small_fixture

ACTIONS: dict[str, dict[str, Any]] = {
    "accept": {},
    "return": {"reason": "not_ours", "note": "不是本网格"},
    "note": {"text": "越权备注", "public": True},
    "suspend": {"reason": "越权挂起"},
    "resume": {},
    "resolve": {"outcome": "resolved", "reply": "越权办结"},
    "reassign": {"department_code": "HB"},
    "escalate": {"note": "越权上报"},
    "joint": {"department_codes": ["HB"]},
    "classify": {"category": "env.noise"},
}


def assert_hidden(answer: Any, *secrets: str) -> None:
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"] == PROBLEM
    for secret in secrets:
        assert secret not in answer.text


async def test_staff_of_another_street_or_district_get_404_on_every_request_endpoint(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    request = await routed(intake_client, session, setup)
    units = setup["units"]
    outsiders = [
        await make_staff(session, "clerk_other_street", "clerk", units["330203002"]),
        await make_staff(session, "sup_other_district", "supervisor", units["330205"]),
        await make_staff(session, "admin_other_street", "admin", units["330203002"]),
        setup["handlers"][GRIDS[2]][0],
        setup["district_dispatcher"],
    ]
    await session.commit()
    secrets = (request.tracking_no, request.description)
    for staff in outsiders:
        auth = bearer(staff)
        assert_hidden(await intake_client.get(f"/v1/requests/{request.id}", headers=auth), *secrets)
        assert_hidden(
            await intake_client.get(f"/v1/requests/{request.id}", params={"reveal_pii": True}, headers=auth), *secrets
        )
        assert_hidden(await intake_client.get(f"/v1/requests/{request.id}/events", headers=auth), *secrets)
        for action, body in ACTIONS.items():
            answer = await intake_client.post(f"/v1/requests/{request.id}/{action}", json=body, headers=auth)
            assert_hidden(answer, *secrets)
        listed = await intake_client.get("/v1/requests", headers=auth)
        assert listed.status_code == 200 and listed.json()["items"] == []
        filtered = await intake_client.get("/v1/requests", params={"org_unit_code": GRIDS[0]}, headers=auth)
        assert_hidden(filtered, *secrets)
    stored = await session.get(Request, request.id, populate_existing=True)
    assert (stored.status, stored.version, stored.handler_id) == ("assigned", request.version, request.handler_id)


async def test_another_handler_in_scope_may_read_masked_but_not_act_or_reveal(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    request = await routed(intake_client, session, setup)
    other = next(s for s in setup["handlers"][GRIDS[0]] if s.id != request.handler_id)
    auth = bearer(other)
    read = await intake_client.get(f"/v1/requests/{request.id}", headers=auth)
    assert read.status_code == 200
    assert "13800001234" not in read.text and "张三" not in read.text
    assert (
        await intake_client.get(f"/v1/requests/{request.id}", params={"reveal_pii": True}, headers=auth)
    ).status_code == 403
    for action, body in ACTIONS.items():
        answer = await intake_client.post(f"/v1/requests/{request.id}/{action}", json=body, headers=auth)
        assert answer.status_code == 403, (action, answer.text)
    stored = await session.get(Request, request.id, populate_existing=True)
    assert (stored.status, stored.version) == ("assigned", request.version)


async def test_an_integration_sees_only_the_requests_it_submitted(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    request = await routed(intake_client, session, setup)
    _, key = await make_api_key(session, rights=("requests:create", "requests:read", "feedback:create"))
    await session.commit()
    theirs = {"X-API-Key": key}
    secrets = (request.tracking_no, request.description)
    assert_hidden(await intake_client.get(f"/v1/requests/{request.id}", headers=theirs), *secrets)
    assert_hidden(await intake_client.get(f"/v1/requests/{request.id}/events", headers=theirs), *secrets)
    assert (await intake_client.get("/v1/requests", headers=theirs)).json()["items"] == []
    for action, body in ACTIONS.items():
        answer = await intake_client.post(f"/v1/requests/{request.id}/{action}", json=body, headers=theirs)
        assert_hidden(answer, *secrets)


async def test_an_integration_may_not_evaluate_a_request_another_integration_submitted(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    request, auth = await routed_to_handler(intake_client, session, setup)
    base = f"/v1/requests/{request.id}"
    await accept_and_resolve(intake_client, request, auth, "已办结")
    _, key = await make_api_key(session, rights=("requests:create", "requests:read", "feedback:create"))
    await session.commit()
    answer = await intake_client.post(
        f"{base}/feedback", json={"resolved": False, "satisfaction": "dissatisfied"}, headers={"X-API-Key": key}
    )
    assert_hidden(answer, request.tracking_no)
    stored = await session.get(Request, request.id, populate_existing=True)
    assert stored.status == "resolved" and stored.reopen_count == 0


async def test_a_citizen_cannot_track_or_evaluate_another_citizens_request(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    mine = await create_request(intake_client, setup["key"])
    theirs = await create_request(
        intake_client,
        setup["key"],
        at_grid(1, citizen={"name": "李四", "phone": "13900005678"}, description="另一位市民的诉求"),
    )
    number = theirs["tracking_no"]
    for params in ({"phone_last4": "1234"}, {"citizen_token": mine["citizen_token"]}):
        answer = await intake_client.get(f"/v1/track/{number}", params=params)
        assert_hidden(answer, "另一位市民的诉求", "李四")
        feedback = await intake_client.post(
            f"/v1/track/{number}/feedback", json={**params, "resolved": False, "satisfaction": "dissatisfied"}
        )
        assert_hidden(feedback)
    assert (await intake_client.get(f"/v1/track/{number}", params={"phone_last4": "5678"})).status_code == 200


async def test_admin_objects_outside_a_street_admins_subtree_are_404(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    units = setup["units"]
    admin = await make_staff(session, "admin_street", "admin", units["330203001"])
    far = setup["handlers"][GRIDS[2]][0]
    team = await session.scalar(select(Team).where(Team.grid_unit_id == units[GRIDS[2]].id))
    member = await session.scalar(select(Member).where(Member.staff_id == far.id))
    rule = await session.scalar(select(ResponsibilityRule).limit(1))
    link = await make_leader_link(session, setup["dispatcher"], org_unit_id=units["330205"].id)
    await session.commit()
    auth = bearer(admin)
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("get", f"/v1/admin/staff/{far.id}", None),
        ("patch", f"/v1/admin/staff/{far.id}", {"role": "admin", "version": 1}),
        ("get", f"/v1/admin/teams/{team.id}", None),
        ("patch", f"/v1/admin/teams/{team.id}", {"name": "改名", "version": 1}),
        ("post", f"/v1/admin/teams/{team.id}/members", {"username": admin.username, "team_role": "grid_worker"}),
        ("patch", f"/v1/admin/members/{member.id}", {"on_duty": False, "version": 1}),
        ("delete", f"/v1/admin/members/{member.id}", None),
        ("get", "/v1/admin/org-units/330205", None),
        ("patch", "/v1/admin/org-units/330205", {"name": "改名", "version": 1}),
        ("delete", "/v1/admin/org-units/330205001001001", None),
        ("get", f"/v1/admin/responsibility-rules/{rule.id}", None),
        ("delete", f"/v1/admin/responsibility-rules/{rule.id}", None),
        ("get", "/v1/admin/departments/HB", None),
        ("patch", "/v1/admin/departments/HB", {"name": "改名", "version": 1}),
        ("get", "/v1/admin/departments/HB/members", None),
        ("delete", f"/v1/admin/leader-links/{link.id}", None),
    ]
    for method, path, body in attempts:
        answer = await intake_client.request(method, path, json=body, headers=auth)
        assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
    for staff in (setup["handlers"][GRIDS[2]][0], admin):
        assert (await intake_client.get("/v1/org-units/330205", headers=bearer(staff))).status_code == 404
    assert await session.get(Member, member.id, populate_existing=True) is not None
    assert await session.get(LeaderLink, link.id, populate_existing=True) is not None
    far_now = await session.get(type(far), far.id, populate_existing=True)
    assert far_now.role == "handler"


async def test_another_integrations_webhook_subscription_is_404(session: AsyncSession, intake_client: Any) -> None:
    _, mine = await make_api_key(session, rights=("webhooks:manage",))
    _, theirs = await make_api_key(session, rights=("webhooks:manage",))
    await session.commit()
    hook = {"url": "https://hooks.example.cn/minqing", "event_types": ["request.status_changed"]}
    their_id = (await intake_client.post("/v1/webhooks", json=hook, headers={"X-API-Key": theirs})).json()["id"]
    own = {"X-API-Key": mine}
    assert_hidden(await intake_client.get(f"/v1/webhooks/{their_id}/deliveries", headers=own))
    assert_hidden(await intake_client.delete(f"/v1/webhooks/{their_id}", headers=own))
    assert (await intake_client.get("/v1/webhooks", headers=own)).json() == []
    assert await session.get(WebhookSubscription, their_id) is not None


async def test_scores_and_appeals_outside_scope_are_404(session: AsyncSession, scoring_client: Any) -> None:
    s, _, facts = await build_small_fixture(session)
    units = s["units"]
    city = await make_staff(session, "sup_city", "supervisor", units["3302"])
    district = await make_staff(session, "sup_330205", "supervisor", units["330205"])
    await session.commit()
    run = await scoring_client.post(
        "/v1/scores/runs", json={"period": PERIOD, "as_of": "2026-11-20T08:00:00+08:00"}, headers=bearer(city)
    )
    assert run.status_code == 201, run.text
    handler_a = s["handlers"][A][0]
    appeal = await scoring_client.post(
        "/v1/scores/appeals",
        json={
            "request_id": facts["r4"].id,
            "unit": {"kind": "grid_team", "code": A},
            "reason": "not_responsible",
            "explanation": "非网格职责",
        },
        headers=bearer(handler_a),
    )
    assert appeal.status_code == 201, appeal.text
    auth = bearer(district)
    for path in (
        f"/v1/scores/units/{A}?period={PERIOD}",
        f"/v1/scores/departments/HB?period={PERIOD}",
        f"/v1/scores/cadres/handler/{handler_a.id}?period={PERIOD}",
        f"/v1/scores/appeals/{appeal.json()['id']}",
    ):
        assert_hidden(await scoring_client.get(path, headers=auth), "非网格职责", handler_a.username)
    decided = await scoring_client.post(
        f"/v1/scores/appeals/{appeal.json()['id']}/decision",
        json={"decision": "approved", "version": 1},
        headers=auth,
    )
    assert_hidden(decided)
