"""API5:2023 Broken Function Level Authorization: admin, dispatcher, supervisor and integration-only
functions answer 403 to every other role and to integrations, and change nothing."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import ApiKey, Category, Request, StaffAccount
from tests.factories import at_grid, bearer, make_api_key, make_staff
from tests.kit import PROBLEM, routed_to_handler
from tests.security.helpers import GRIDS, routed

ADMIN_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("get", "/v1/admin/staff", None),
    (
        "post",
        "/v1/admin/staff",
        {"username": "intruder", "display_name": "x", "password": "p" * 12, "role": "admin", "scope_code": "3302"},
    ),
    ("patch", "/v1/admin/staff/1", {"role": "admin", "version": 1}),
    ("get", "/v1/admin/api-keys", None),
    ("post", "/v1/admin/api-keys", {"name": "x", "channels": ["app"], "rights": ["requests:create"]}),
    ("post", "/v1/admin/api-keys/1/revoke", None),
    ("get", "/v1/admin/org-units", None),
    (
        "post",
        "/v1/admin/org-units",
        {"code": "330203003", "name": "新街道", "level": "street", "parent_code": "330203"},
    ),
    ("delete", "/v1/admin/org-units/330205001001001", None),
    ("post", "/v1/admin/grids/import", {"type": "FeatureCollection", "features": []}),
    ("get", "/v1/admin/categories", None),
    ("post", "/v1/admin/categories", {"code": "evil", "name": "恶意", "default_priority": "normal"}),
    ("patch", "/v1/admin/categories/env.noise", {"active": False, "version": 1}),
    ("get", "/v1/admin/responsibility-rules", None),
    (
        "post",
        "/v1/admin/responsibility-rules",
        {"category_prefix": "land", "org_unit_code": "3302", "handler_kind": "grid_team"},
    ),
    ("delete", "/v1/admin/responsibility-rules/1", None),
    ("get", "/v1/admin/sla-policies", None),
    ("delete", "/v1/admin/sla-policies/1", None),
    ("get", "/v1/admin/departments", None),
    ("post", "/v1/admin/departments", {"code": "ZZ", "name": "部门", "scope_code": "3302"}),
    ("get", "/v1/admin/teams", None),
    ("delete", "/v1/admin/members/1", None),
    ("get", "/v1/admin/calendar", None),
    ("put", "/v1/admin/calendar/2026-12-01", {"kind": "holiday", "name": "假"}),
    ("get", "/v1/admin/leader-links", None),
    ("post", "/v1/admin/leader-links", {"leader_username": "dispatcher", "post": "书记", "org_unit_code": "3302"}),
]
SCORING_ADMIN_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("get", "/v1/admin/scoring-schemes", None),
    ("post", "/v1/admin/scoring-schemes", {"note": "x"}),
    ("get", "/v1/admin/scoring-schemes/1", None),
]


async def test_admin_functions_are_403_to_every_other_role_and_to_integrations(
    session: AsyncSession, intake_client: Any, scoring_client: Any, setup: dict[str, Any]
) -> None:
    units = setup["units"]
    others = [
        setup["handlers"][GRIDS[0]][0],
        setup["dispatcher"],
        await make_staff(session, "clerk", "clerk", units["3302"]),
        await make_staff(session, "supervisor", "supervisor", units["3302"]),
        await make_staff(session, "auditor", "auditor", units["3302"]),
    ]
    _, all_rights = await make_api_key(
        session,
        rights=("requests:create", "requests:read", "feedback:create", "webhooks:manage"),
        channels=("hotline", "web", "app", "window", "station", "visit"),
    )
    await session.commit()
    callers = [bearer(s) for s in others] + [{"X-API-Key": all_rights}]
    before = (
        await session.scalar(select(func.count()).select_from(StaffAccount)),
        await session.scalar(select(func.count()).select_from(ApiKey)),
    )
    for headers in callers:
        for client, calls in ((intake_client, ADMIN_CALLS), (scoring_client, SCORING_ADMIN_CALLS)):
            for method, path, body in calls:
                answer = await client.request(method, path, json=body, headers=headers)
                assert answer.status_code == 403, (headers, method, path, answer.text)
                assert answer.headers["content-type"] == PROBLEM
    after = (
        await session.scalar(select(func.count()).select_from(StaffAccount)),
        await session.scalar(select(func.count()).select_from(ApiKey)),
    )
    assert before == after
    assert await session.scalar(select(Category.active).where(Category.code == "env.noise"))


async def test_city_wide_configuration_needs_a_city_admin(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    district_admin = await make_staff(session, "admin_330205", "admin", setup["units"]["330205"])
    await session.commit()
    auth = bearer(district_admin)
    for method, path, body in (
        ("post", "/v1/admin/api-keys", {"name": "x", "channels": ["app"], "rights": ["requests:create"]}),
        ("get", "/v1/admin/api-keys", None),
        ("post", "/v1/admin/categories", {"code": "evil", "name": "恶意", "default_priority": "normal"}),
    ):
        answer = await intake_client.request(method, path, json=body, headers=auth)
        assert answer.status_code == 403, (path, answer.text)
    # Nor can a district admin lift an account out of its own subtree or mint a city-wide account.
    create = await intake_client.post(
        "/v1/admin/staff",
        json={"username": "intruder", "display_name": "x", "password": "p" * 12, "role": "admin", "scope_code": "3302"},
        headers=auth,
    )
    assert create.status_code == 404, create.text
    own = setup["handlers"][GRIDS[2]][0]
    lift = await intake_client.patch(
        f"/v1/admin/staff/{own.id}", json={"scope_code": "3302", "version": 1}, headers=auth
    )
    assert lift.status_code == 404, lift.text


async def test_dispatcher_actions_are_403_to_the_handler_and_every_action_to_integrations(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    request, auth = await routed_to_handler(intake_client, session, setup)
    base = f"/v1/requests/{request.id}"
    for action, body in (
        ("reassign", {"department_code": "HB"}),
        ("joint", {"department_codes": ["HB"]}),
        ("classify", {"category": "env.noise"}),
    ):
        answer = await intake_client.post(f"{base}/{action}", json=body, headers=auth)
        assert answer.status_code == 403, (action, answer.text)
    for action, body in (("accept", {}), ("reassign", {"department_code": "HB"}), ("note", {"text": "x"})):
        answer = await intake_client.post(f"{base}/{action}", json=body, headers=setup["key"])
        assert answer.status_code in (403, 404), (action, answer.text)
        assert request.tracking_no not in answer.text
    stored = await session.get(Request, request.id, populate_existing=True)
    assert (stored.status, stored.version, stored.lead_department_id) == ("assigned", request.version, None)


async def test_integration_only_and_right_gated_functions(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    request = await routed(intake_client, session, setup)
    staff_feedback = await intake_client.post(
        f"/v1/requests/{request.id}/feedback",
        json={"resolved": True, "satisfaction": "satisfied"},
        headers=bearer(setup["dispatcher"]),
    )
    assert staff_feedback.status_code == 403
    _, create_only = await make_api_key(session, rights=("requests:create",), channels=("app",))
    await session.commit()
    headers = {"X-API-Key": create_only}
    for method, path, body in (
        ("get", "/v1/requests", None),
        ("post", f"/v1/requests/{request.id}/feedback", {"resolved": True, "satisfaction": "satisfied"}),
        ("post", "/v1/webhooks", {"url": "https://hooks.example.cn/x", "event_types": ["alert.raised"]}),
        ("post", "/v1/requests", at_grid(0, channel="hotline")),
        ("get", "/v1/alerts", None),
    ):
        answer = await intake_client.request(method, path, json=body, headers=headers)
        assert answer.status_code == 403, (path, answer.text)


async def test_scoring_runs_and_appeal_decisions_need_their_roles(
    session: AsyncSession, scoring_client: Any, setup: dict[str, Any]
) -> None:
    handler = setup["handlers"][GRIDS[0]][0]
    clerk = await make_staff(session, "clerk", "clerk", setup["units"]["3302"])
    await session.commit()
    for staff in (handler, clerk, setup["dispatcher"]):
        auth = bearer(staff)
        run = await scoring_client.post("/v1/scores/runs", json={"period": "2026-10"}, headers=auth)
        assert run.status_code == 403, run.text
        verify = await scoring_client.post("/v1/scores/runs/1/verify", headers=auth)
        assert verify.status_code == 403
        decide = await scoring_client.post(
            "/v1/scores/appeals/1/decision", json={"decision": "approved", "version": 1}, headers=auth
        )
        assert decide.status_code == 403
    run = await scoring_client.post("/v1/scores/runs", json={"period": "2026-10"}, headers=setup["key"])
    assert run.status_code == 403
