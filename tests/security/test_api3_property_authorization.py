"""API3:2023 Broken Object Property Level Authorization: clients cannot set server-owned fields (mass
assignment is refused with 422 and nothing is stored), and personal data is masked for roles without need."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import ApiKey, Request, RequestEvent, StaffAccount, WebhookSubscription
from tests.factories import at_grid, bearer, make_api_key, make_staff
from tests.kit import accept_and_resolve, count_rows, handler_of, routed_to_handler
from tests.security.helpers import GRIDS, routed

PHONE, NAME = "13800001234", "张三"


def refused(answer: Any, field: str) -> None:
    assert answer.status_code == 422, answer.text
    fields = [e["field"] for e in answer.json()["errors"]]
    assert field in fields, fields


async def test_server_owned_request_fields_cannot_be_set_at_intake(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    handler = setup["handlers"][GRIDS[0]][0]
    extras: dict[str, Any] = {
        "status": "closed",
        "handler_id": handler.id,
        "tracking_no": "261126000000001",
        "id": 1,
        "version": 99,
        "sla_state": "ok",
        "response_score": 100,
        "satisfaction": "satisfied",
        "org_unit_id": setup["units"]["3302"].id,
        "unit_path": "/",
        "lead_team_id": 1,
        "created_by": "staff:1",
        "duplicate_of": 1,
        "received_at": "2020-01-01T00:00:00+08:00",
    }
    for name, value in extras.items():
        refused(await intake_client.post("/v1/requests", json={**at_grid(0), name: value}, headers=setup["key"]), name)
    nested = {
        "location": {"lat": 29.805, "lon": 121.505, "unit_path": "/"},
        "citizen": {"phone": PHONE, "phone_hash": "x", "verified": True},
    }
    for name, value in nested.items():
        answer = await intake_client.post("/v1/requests", json={**at_grid(0), name: value}, headers=setup["key"])
        assert answer.status_code == 422, answer.text
    assert await count_rows(session, Request) == 0


async def test_workflow_and_feedback_bodies_cannot_carry_status_handler_or_scores(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    request, auth = await routed_to_handler(intake_client, session, setup)
    other = next(s for s in setup["handlers"][GRIDS[0]] if s.id != request.handler_id)
    base = f"/v1/requests/{request.id}"
    for action, body, field in (
        ("accept", {"status": "closed"}, "status"),
        ("accept", {"handler_id": other.id}, "handler_id"),
        ("note", {"text": "x", "version": 1}, "version"),
        ("resolve", {"outcome": "resolved", "reply": "x", "tracking_no": "1"}, "tracking_no"),
        ("escalate", {"note": "x", "org_unit_code": "3302"}, "org_unit_code"),
    ):
        refused(await intake_client.post(f"{base}/{action}", json=body, headers=auth), field)
    stored = await session.get(Request, request.id, populate_existing=True)
    assert (stored.status, stored.handler_id, stored.version) == ("assigned", request.handler_id, request.version)
    await accept_and_resolve(intake_client, request, auth, "好")
    for extra in ({"resolution_no": 7}, {"source": "supervisor"}, {"points": 1.0}):
        answer = await intake_client.post(
            f"/v1/track/{request.tracking_no}/feedback",
            json={"phone_last4": "1234", "resolved": True, "satisfaction": "satisfied", **extra},
        )
        assert answer.status_code == 422, answer.text
        answer = await intake_client.post(
            f"{base}/feedback", json={"resolved": True, "satisfaction": "satisfied", **extra}, headers=setup["key"]
        )
        assert answer.status_code == 422, answer.text
    stored = await session.get(Request, request.id, populate_existing=True)
    assert stored.status == "resolved"


async def test_accounts_keys_and_webhooks_refuse_server_owned_fields(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    admin = await make_staff(session, "admin", "admin", setup["units"]["3302"])
    _, manager = await make_api_key(session, rights=("webhooks:manage",))
    target = setup["handlers"][GRIDS[0]][0]
    await session.commit()
    auth = bearer(admin)
    for field, value in (
        ("username", "renamed"),
        ("password_hash", "$argon2id$forged"),
        ("scope_unit_id", setup["units"]["3302"].id),
        ("id", 1),
        ("last_login_at", "2026-01-01T00:00:00Z"),
    ):
        answer = await intake_client.patch(
            f"/v1/admin/staff/{target.id}", json={"version": 1, field: value}, headers=auth
        )
        refused(answer, field)
    stored = await session.get(StaffAccount, target.id, populate_existing=True)
    assert (stored.username, stored.version) == (target.username, 1)
    key_body = {"name": "x", "channels": ["app"], "rights": ["requests:create"]}
    for field, value in (("prefix", "000000000000"), ("secret_hash", "0" * 64), ("revoked_at", None), ("key", "mq_x")):
        refused(await intake_client.post("/v1/admin/api-keys", json={**key_body, field: value}, headers=auth), field)
    assert await count_rows(session, ApiKey) == 2
    hook = {"url": "https://hooks.example.cn/x", "event_types": ["alert.raised"]}
    for field, value in (("secret", "mine"), ("api_key_id", 1), ("active", False), ("id", 5)):
        answer = await intake_client.post("/v1/webhooks", json={**hook, field: value}, headers={"X-API-Key": manager})
        refused(answer, field)
    assert await count_rows(session, WebhookSubscription) == 0


async def test_pii_is_masked_for_every_role_without_need(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    request = await routed(intake_client, session, setup)
    units = setup["units"]
    street = units["330203001"]
    without_need = [
        await make_staff(session, "clerk", "clerk", street),
        await make_staff(session, "supervisor", "supervisor", street),
        await make_staff(session, "auditor", "auditor", units["3302"]),
        await make_staff(session, "admin", "admin", units["3302"]),
        next(s for s in setup["handlers"][GRIDS[0]] if s.id != request.handler_id),
    ]
    await session.commit()
    for staff in without_need:
        auth = bearer(staff)
        for path in (f"/v1/requests/{request.id}", "/v1/requests", f"/v1/requests/{request.id}/events"):
            answer = await intake_client.get(path, headers=auth)
            assert answer.status_code == 200, (staff.role, path)
            assert PHONE not in answer.text and NAME not in answer.text, (staff.role, path)
        citizen = (await intake_client.get(f"/v1/requests/{request.id}", headers=auth)).json()["citizen"]
        assert citizen["masked"] is True and citizen["phone"] == "138****1234"
        revealed = await intake_client.get(f"/v1/requests/{request.id}", params={"reveal_pii": True}, headers=auth)
        assert revealed.status_code == 403, staff.role
    integration = await intake_client.get(f"/v1/requests/{request.id}", headers=setup["key"])
    assert PHONE not in integration.text and NAME not in integration.text
    viewed = select(func.count()).where(RequestEvent.request_id == request.id, RequestEvent.kind == "pii_viewed")
    assert await session.scalar(viewed) == 0
    # The assigned handler and a dispatcher may reveal, and each reading is audited.
    for staff in (handler_of(setup, request), setup["dispatcher"]):
        answer = await intake_client.get(
            f"/v1/requests/{request.id}", params={"reveal_pii": True}, headers=bearer(staff)
        )
        assert answer.json()["citizen"] == {"name": NAME, "phone": PHONE, "anonymous": False, "masked": False}
    assert await session.scalar(viewed) == 2


async def test_an_anonymous_citizen_is_hidden_from_everyone_but_dispatchers(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    body = at_grid(0, citizen={"name": NAME, "phone": PHONE, "anonymous": True})
    request = await routed(intake_client, session, setup, body)
    auth = bearer(handler_of(setup, request))
    answer = await intake_client.get(f"/v1/requests/{request.id}", headers=auth)
    assert answer.json()["citizen"] == {"name": None, "phone": None, "anonymous": True, "masked": True}
    assert (
        await intake_client.get(f"/v1/requests/{request.id}", params={"reveal_pii": True}, headers=auth)
    ).status_code == 403
    dispatcher = await intake_client.get(
        f"/v1/requests/{request.id}", params={"reveal_pii": True}, headers=bearer(setup["dispatcher"])
    )
    assert dispatcher.json()["citizen"]["phone"] == PHONE


async def test_public_and_admin_views_carry_no_secrets_or_personal_data(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    admin = await make_staff(session, "admin", "admin", setup["units"]["3302"])
    await session.commit()
    body = at_grid(0, description="噪声扰民，请回电 13912345678")
    request = await routed(intake_client, session, setup, body)
    for path in (f"/open311/v2/requests/{request.id}.json", "/open311/v2/requests.json", "/open311/v2/requests.xml"):
        answer = await intake_client.get(path)
        assert answer.status_code == 200, answer.text
        for secret in (PHONE, NAME, "13912345678", request.tracking_no):
            assert secret not in answer.text, (path, secret)
    track = await intake_client.get(f"/v1/track/{request.tracking_no}", params={"phone_last4": "1234"})
    assert PHONE not in track.text and NAME not in track.text and "handler" not in track.text
    auth = bearer(admin)
    staff = await intake_client.get("/v1/admin/staff", headers=auth)
    assert "argon2" not in staff.text and "password" not in staff.text
    keys = await intake_client.get("/v1/admin/api-keys", headers=auth)
    assert keys.status_code == 200 and "secret" not in keys.text and setup["key"]["X-API-Key"] not in keys.text
