"""Messages to citizens end to end: intake, the routing worker (burst mode) and the messages sweep against a
real HTTP SMS gateway fake (tests/services/messages/gateway_fake.py): receipt, resolution with the feedback
invitation, an SMS reply that reopens, reopening; errors and timeouts lose nothing and send nothing twice;
anonymous requesters are never messaged; the per-phone limit; the phone decrypted only in the sender."""

import asyncio
import inspect
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from routing_worker.jobs.message_jobs import send_citizen_messages
from services.messages.sender import SendStats, send_due
from services.models import Request
from services.models.messages import CitizenMessage, FeedbackInvitation
from shared.crypto import FieldCipher
from shared.db import unit_of_work
from tests.factories import at_grid
from tests.kit import accept_and_resolve, create_request, drain, handler_of, routed_to_handler
from tests.services.messages.gateway_fake import HANG, Behaviour, SmsGatewayFake, signed_reply, use_gateway
from tests.settings import set_setting

# Callers are named relative to the checkout, wherever it is cloned.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PHONE = "13800001234"


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmsGatewayFake]:
    with SmsGatewayFake() as fake:
        use_gateway(monkeypatch, fake)
        yield fake


async def sweep(now: datetime | None = None) -> SendStats:
    return await send_due(unit_of_work, now=now)


async def messages_of(session: Any, request_id: int | None = None) -> list[CitizenMessage]:
    stmt = select(CitizenMessage).order_by(CitizenMessage.id).execution_options(populate_existing=True)
    if request_id is not None:
        stmt = stmt.where(CitizenMessage.request_id == request_id)
    return list(await session.scalars(stmt))


async def test_a_citizen_is_told_by_sms_and_answers_by_sms(session, intake_client, setup, gateway):
    """Receipt with the tracking number, resolution with the link and reply code, the reply `3` reopens
    the request through the feedback rule, and the reopening is told too."""
    request, handler = await routed_to_handler(intake_client, session, setup)  # the routing worker, burst mode
    assert [(m.event, m.medium, m.state) for m in await messages_of(session)] == [("received", "sms", "pending")]

    stats = await send_citizen_messages({})  # the worker's cron job
    assert stats["sent"] == 1
    [receipt] = gateway.texts_to(PHONE)
    assert request.tracking_no in receipt
    assert all(c.signed and c.body["sign_name"] == "民情" for c in gateway.calls)

    await accept_and_resolve(intake_client, request, handler, reply="已协调施工方停止夜间施工")
    await sweep()
    resolution = gateway.texts_to(PHONE)[1]
    code = re.search(r"请回复(\d{4})加数字", resolution)
    token = re.search(r"/v1/track/invitations/([A-Za-z0-9_-]{16})", resolution)
    assert code and token and "已协调施工方停止夜间施工" in resolution

    raw, headers = signed_reply({"message_id": "gw-1", "from": PHONE, "text": "3"})
    answer = await intake_client.post("/v1/messages/sms/replies", content=raw, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "outcome": "recorded",
        "answer": "dissatisfied",
        "status": "assigned",
        "reopened": True,
        "repeat": False,
    }
    reopened = await session.get(Request, request.id, populate_existing=True)
    assert reopened is not None and reopened.status == "assigned" and reopened.reopen_count == 1
    await sweep()
    texts = gateway.texts_to(PHONE)
    assert len(texts) == 3 and "已重新交办" in texts[2]
    for line in texts:
        print("SMS to 138****1234:", line)
    print("reply 3 ->", answer.json())


async def test_gateway_errors_and_timeouts_lose_nothing_and_send_nothing_twice(
    session, intake_client, setup, gateway, monkeypatch
):
    use_gateway(monkeypatch, gateway, timeout=0.3)
    phones = [f"1390000{n:04d}" for n in range(6)]
    for n, phone in enumerate(phones):
        await create_request(
            intake_client, setup["key"], at_grid(n % 3, citizen={"phone": phone}, description=f"路灯{n}")
        )
    await drain()
    # A hang (longer than the timeout: the gateway takes it anyway, late), a 503 that is no JSON, throttling,
    # a balance running out, a 500 with a code; then everything goes through.
    gateway.script = [
        HANG,
        Behaviour(503, None),
        Behaviour(200, "isv.BUSINESS_LIMIT_CONTROL"),
        Behaviour(200, "INSUFFICIENT_BALANCE"),
        Behaviour(500, "SYSTEM_ERROR"),
        HANG,
    ]
    now = datetime.now(UTC)
    first = await sweep(now)
    assert first.sent + first.retried == 6 and first.retried >= 4
    for hour in range(1, 6):
        await sweep(now + timedelta(hours=hour))
    messages = await messages_of(session)
    assert [m.state for m in messages] == ["sent"] * 6
    assert sorted(c.body["to"] for c in gateway.delivered.values()) == sorted(phones)  # each phone exactly once
    assert len(gateway.calls) > 6  # the retries happened …
    assert {c.headers["idempotency-key"] for c in gateway.calls} == {f"msg_{m.id}" for m in messages}  # … same ids
    retried = [m for m in messages if m.attempts > 1]
    assert retried and all(m.provider_message_id == f"fake-msg_{m.id}" for m in messages)


async def test_a_number_the_provider_refuses_fails_visibly_and_can_be_retried(session, intake_client, setup, gateway):
    gateway.default = Behaviour(200, "isv.MOBILE_NUMBER_ILLEGAL")
    await create_request(intake_client, setup["key"])
    await drain()
    await sweep()
    [message] = await messages_of(session)
    assert (message.state, message.last_code, message.attempts) == ("failed", "isv.MOBILE_NUMBER_ILLEGAL", 1)
    assert gateway.delivered == {}


async def test_the_gateway_is_retried_until_the_retry_period_ends_then_failed(session, intake_client, setup, gateway):
    gateway.default = Behaviour(503, None)
    await create_request(intake_client, setup["key"])
    await drain()
    now = datetime.now(UTC)
    await sweep(now)
    [message] = await messages_of(session)
    assert message.state == "pending" and message.next_attempt_at > now
    await sweep(now + timedelta(hours=25))
    [message] = await messages_of(session)
    assert (message.state, message.attempts, message.last_error) == ("failed", 2, "HTTP 503 without a code")


async def test_anonymous_requesters_and_requests_without_a_phone_are_never_messaged(
    session, intake_client, setup, gateway
):
    anonymous = await create_request(
        intake_client, setup["key"], at_grid(0, citizen={"phone": PHONE, "anonymous": True})
    )
    await create_request(intake_client, setup["key"], at_grid(1, citizen={"name": "李四"}))
    await drain()
    request = await session.get(Request, anonymous["id"])
    assert request is not None
    await accept_and_resolve(intake_client, request, _bearer(setup, request))
    await sweep()
    assert await messages_of(session) == []
    assert gateway.calls == []
    assert await session.scalar(select(FeedbackInvitation.id)) is None


def _bearer(setup: dict[str, Any], request: Request) -> dict[str, str]:
    from tests.factories import bearer

    return bearer(handler_of(setup, request))


async def test_a_phone_gets_at_most_the_limit_in_the_window_and_the_rest_later(
    session, intake_client, setup, gateway, monkeypatch
):
    set_setting(monkeypatch, "sms_per_phone_limit", 2)
    set_setting(monkeypatch, "sms_per_phone_window_seconds", 3600)
    for n in range(5):
        await create_request(intake_client, setup["key"], at_grid(n % 3, description=f"第{n}件：井盖缺失"))
    await drain()
    now = datetime.now(UTC)
    # Two sweeps at once (two workers): the limit still holds.
    stats = await asyncio.gather(sweep(now), sweep(now))
    assert sum(s.sent for s in stats) == 2
    assert len(gateway.delivered) == 2
    await sweep(now + timedelta(minutes=30))
    assert len(gateway.delivered) == 2
    waiting = [m for m in await messages_of(session) if m.state == "pending"]
    assert len(waiting) == 3 and all(m.last_error and "per-phone limit" in m.last_error for m in waiting)
    assert all(m.attempts == 0 for m in waiting)  # waiting is not a failed attempt
    await sweep(now + timedelta(minutes=61))
    assert len(gateway.delivered) == 4
    await sweep(now + timedelta(minutes=122))
    assert len(gateway.delivered) == 5
    assert [m.state for m in await messages_of(session)] == ["sent"] * 5


async def test_the_phone_is_decrypted_only_inside_the_sender(session, intake_client, setup, gateway, monkeypatch):
    """Queueing (the routing worker, the resolution) and the message rows never touch the number in clear;
    the sender decrypts it for the one gateway call. (The API's own answers decrypt it to mask it.)"""
    callers: list[tuple[str, str]] = []
    original = FieldCipher.decrypt

    def spy(self: FieldCipher, blob: bytes, *, context: bytes = b"") -> str:
        clear = original(self, blob, context=context)
        if clear == PHONE:
            frame = inspect.stack()[1]
            callers.append((os.path.relpath(frame.filename, REPO_ROOT), frame.function))
        return clear

    monkeypatch.setattr(FieldCipher, "decrypt", spy)
    request, handler = await routed_to_handler(intake_client, session, setup)
    await accept_and_resolve(intake_client, request, handler)
    assert {caller for caller in callers} <= {("services/intake/service.py", "_citizen_out")}, callers  # masked answers
    callers.clear()
    await sweep()
    assert callers == [("services/messages/sender.py", "_send_sms")] * 2
    stored = await session.execute(
        text(
            "SELECT string_agg(t::text, ' ') FROM (SELECT row_to_json(m)::text t FROM citizen_messages m"
            " UNION ALL SELECT row_to_json(i)::text FROM feedback_invitations i"
            " UNION ALL SELECT row_to_json(d)::text FROM webhook_deliveries d) x"
        )
    )
    assert PHONE not in (stored.scalar() or "")


async def test_an_integration_that_subscribes_to_citizen_notify_tells_the_citizen_itself(
    session, intake_client, setup, gateway
):
    from services.models import ApiKey, WebhookDelivery
    from tests.factories import make_subscription

    key = await session.scalar(select(ApiKey))
    subscription = await make_subscription(
        session, "https://hotline.example.cn/minqing/notify", key=key, event_types=("citizen.notify",)
    )
    await session.commit()
    request, handler = await routed_to_handler(intake_client, session, setup)
    await accept_and_resolve(intake_client, request, handler, reply="路灯已修复")
    stats = await sweep()
    assert stats.notified == 2 and gateway.calls == []  # no SMS from us
    bodies = [
        d.body
        for d in await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == subscription.id)
            .order_by(WebhookDelivery.id)
        )
    ]
    assert [b["event"] for b in bodies] == ["received", "resolved"]
    assert bodies[1]["text"].startswith(f"您的诉求（编号{request.tracking_no}）已办结（已解决）：路灯已修复")
    assert bodies[1]["feedback"]["url"] == f"/v1/track/{request.tracking_no}/feedback"
    assert PHONE not in str(bodies)
