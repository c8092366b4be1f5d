"""The messages endpoints: the SMS gateway's signed replies, the feedback link, the administrators' view."""

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from services.messages.sender import send_due
from services.models.messages import CitizenMessage, FeedbackInvitation
from shared.db import unit_of_work
from tests.factories import at_grid, bearer, make_staff
from tests.kit import accept_and_resolve, problem, routed_to_handler
from tests.services.messages.gateway_fake import Behaviour, SmsGatewayFake, signed_reply, use_gateway

PHONE = "13800001234"
REPLIES = "/v1/messages/sms/replies"


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmsGatewayFake]:
    with SmsGatewayFake() as fake:
        use_gateway(monkeypatch, fake)
        yield fake


async def resolved_with_invitation(
    client: Any, session: Any, setup: dict[str, Any], gateway: SmsGatewayFake, body: dict[str, Any] | None = None
) -> tuple[Any, str, str]:
    """A request resolved and its invitation sent: (request, token, reply code)."""
    request, handler = await routed_to_handler(client, session, setup, body)
    await accept_and_resolve(client, request, handler)
    await send_due(unit_of_work)
    text = next(t for t in gateway.texts_to(PHONE) if request.tracking_no in t and "已办结" in t)
    token = re.search(r"invitations/([A-Za-z0-9_-]{16})", text)
    code = re.search(r"请回复(\d{4})加数字", text)
    assert token and code
    return request, token.group(1), code.group(1)


async def reply(client: Any, text: str, message_id: str, phone: str = PHONE) -> Any:
    raw, headers = signed_reply({"message_id": message_id, "from": phone, "text": text})
    return await client.post(REPLIES, content=raw, headers=headers)


async def test_replies_must_be_signed_by_the_gateway_and_fresh(intake_client, gateway):
    body = {"message_id": "gw-1", "from": PHONE, "text": "1"}
    assert problem(await intake_client.post(REPLIES, json=body), 401)
    raw, headers = signed_reply(body, secret="not-the-secret")
    assert problem(await intake_client.post(REPLIES, content=raw, headers=headers), 401)
    raw, headers = signed_reply(body, timestamp=int(time.time()) - 3600)
    assert problem(await intake_client.post(REPLIES, content=raw, headers=headers), 401)
    raw, headers = signed_reply(body)
    tampered = json.dumps({**body, "text": "3"}).encode()
    assert problem(await intake_client.post(REPLIES, content=tampered, headers=headers), 401)


async def test_a_reply_from_an_unreadable_number_names_the_field(intake_client, gateway):
    answer = problem(await reply(intake_client, "1", "gw-1", phone="12"), 422)
    assert [e["field"] for e in answer["errors"]] == ["from"]
    raw, headers = signed_reply({"from": PHONE, "text": "1"})
    assert "message_id" in [
        e["field"] for e in problem(await intake_client.post(REPLIES, content=raw, headers=headers), 422)["errors"]
    ]


async def test_unreadable_and_unexpected_replies_are_acknowledged_and_change_nothing(intake_client, gateway):
    unreadable = await reply(intake_client, "你们什么时候来？", "gw-1")
    assert unreadable.status_code == 200 and unreadable.json()["outcome"] == "unreadable"
    nothing = await reply(intake_client, "1", "gw-2")
    assert nothing.json()["outcome"] == "no_invitation"


async def test_the_same_reply_twice_is_recorded_once(session, intake_client, setup, gateway):
    _request, _token, _code = await resolved_with_invitation(intake_client, session, setup, gateway)
    first = await reply(intake_client, "1", "gw-7")
    again = await reply(intake_client, "1", "gw-7")
    assert first.json() == {**again.json(), "repeat": False}
    assert again.json() == {
        "outcome": "recorded",
        "answer": "satisfied",
        "status": "closed",
        "reopened": False,
        "repeat": True,
    }
    assert (await reply(intake_client, "3", "gw-8")).json()["outcome"] == "no_invitation"  # used up


async def test_the_reply_code_picks_one_of_several_open_invitations(session, intake_client, setup, gateway):
    first, _, first_code = await resolved_with_invitation(intake_client, session, setup, gateway, at_grid(0))
    second, _, second_code = await resolved_with_invitation(
        intake_client, session, setup, gateway, at_grid(1, description="小区路灯不亮")
    )
    assert first_code != second_code
    answer = await reply(intake_client, f"{first_code} 2", "gw-1")
    assert answer.json()["outcome"] == "recorded"
    await session.refresh(first)
    await session.refresh(second)
    assert (first.status, first.close_reason, second.status) == ("closed", "satisfied", "resolved")
    assert (await reply(intake_client, "满意", "gw-2")).json()["status"] == "closed"  # bare: the latest open one
    await session.refresh(second)
    assert second.status == "closed"


async def test_the_feedback_link_shows_the_resolution_and_takes_one_evaluation(session, intake_client, setup, gateway):
    request, token, _code = await resolved_with_invitation(intake_client, session, setup, gateway)
    shown = await intake_client.get(f"/v1/track/invitations/{token}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["open"] is True and shown.json()["tracking_no"] == request.tracking_no
    assert PHONE not in shown.text and "张" not in shown.text
    given = await intake_client.post(
        f"/v1/track/invitations/{token}/feedback", json={"resolved": False, "satisfaction": "dissatisfied"}
    )
    assert given.status_code == 200, given.text
    assert given.json()["status"] == "assigned" and given.json()["reopened"] is True
    again = await intake_client.post(
        f"/v1/track/invitations/{token}/feedback", json={"resolved": True, "satisfaction": "satisfied"}
    )
    problem(again, 409)
    assert (await intake_client.get(f"/v1/track/invitations/{token}")).json()["open"] is False
    problem(await intake_client.get("/v1/track/invitations/AAAAAAAAAAAAAAAA"), 404)
    bad = problem(await intake_client.post(f"/v1/track/invitations/{token}/feedback", json={"resolved": True}), 422)
    assert "satisfaction" in [e["field"] for e in bad["errors"]]


async def test_administrators_see_and_retry_messages_other_staff_may_not(session, intake_client, setup, gateway):
    gateway.default = Behaviour(200, "BLACKLISTED")
    request, handler = await routed_to_handler(intake_client, session, setup)
    await send_due(unit_of_work)
    admin = await make_staff(session, "msg_admin", "admin", setup["units"]["3302"])
    await session.commit()
    listed = await intake_client.get("/v1/admin/messages", params={"request_id": request.id}, headers=bearer(admin))
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["event"], item["state"], item["last_code"], item["next_attempt_at"]) == (
        "received",
        "failed",
        "BLACKLISTED",
        None,
    )
    assert PHONE not in listed.text
    problem(await intake_client.get("/v1/admin/messages", headers=handler), 403)
    problem(await intake_client.get("/v1/admin/messages"), 401)
    retried = await intake_client.post(f"/v1/admin/messages/{item['id']}/retry", headers=bearer(admin))
    assert retried.status_code == 200 and retried.json()["state"] == "pending"
    problem(await intake_client.post(f"/v1/admin/messages/{item['id']}/retry", headers=bearer(admin)), 409)
    problem(await intake_client.post("/v1/admin/messages/999999/retry", headers=bearer(admin)), 404)
    gateway.default = Behaviour()
    await send_due(unit_of_work)
    message = await session.scalar(select(CitizenMessage).execution_options(populate_existing=True))
    assert message is not None and message.state == "sent"
    assert await session.scalar(select(FeedbackInvitation.id)) is None


async def test_openapi_documents_the_endpoints_and_the_citizen_notify_webhook(intake_client):
    spec = (await intake_client.get("/openapi.json")).json()
    post = spec["paths"][REPLIES]["post"]
    assert {"200", "401", "422"} <= set(post["responses"]) and post["security"] == [{"SmsGatewaySignature": []}]
    assert spec["components"]["securitySchemes"]["SmsGatewaySignature"]["type"] == "apiKey"
    assert "citizen.notify" in spec["webhooks"]
    for path in ("/v1/track/invitations/{token}", "/v1/admin/messages"):
        assert spec["paths"][path]["get"]["summary"]
    assert spec["components"]["schemas"]["SmsReplyIn"]["examples"]
