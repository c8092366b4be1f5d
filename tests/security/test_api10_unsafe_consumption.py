"""API10:2023 Unsafe Consumption of APIs: whatever a webhook receiver answers (a huge or endless body,
no answer in time, a redirect, an error status, garbage, a dropped connection), the sweep finishes
quickly, records a failed attempt (row and log line) and trusts nothing of the answer but its status."""

import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import WebhookDelivery
from services.webhooks import service
from services.webhooks.service import deliver_due, emit, make_client
from shared.db import unit_of_work
from tests.factories import make_api_key, make_subscription
from tests.kit import WebhookReceiver
from tests.settings import set_setting


@pytest.fixture
def receiver(webhook_receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> int:
    """The port of the suite's webhook receiver, whose paths misbehave each in its way (tests/kit.py)."""
    set_setting(monkeypatch, "webhook_allowed_hosts", ["127.0.0.1"])
    set_setting(monkeypatch, "webhook_allow_http", True)
    monkeypatch.setattr(service, "READ_TIMEOUT", 0.5)
    return webhook_receiver.port


async def _deliver_to(session: AsyncSession, port: int, path: str) -> WebhookDelivery:
    await make_subscription(session, f"http://127.0.0.1:{port}{path}")
    await emit(session, "alert.raised", {"alert_id": 1}, for_actor=None)
    await session.commit()
    async with make_client() as client:
        started = time.monotonic()
        stats = await deliver_due(unit_of_work, client)
        elapsed = time.monotonic() - started
    assert stats.claimed == 1
    assert elapsed < 3, f"{path}: the sweep took {elapsed:.1f} s"
    row = await session.scalar(select(WebhookDelivery).execution_options(populate_existing=True))
    assert row is not None
    return row


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/fail", 500, "HTTP 500"),
        ("/gone", 410, "HTTP 410"),
        ("/teapot", 418, "HTTP 418"),
        ("/lie", 503, "HTTP 503"),
        ("/redirect", 302, "redirect"),
        ("/slow", None, "in time"),
        ("/garbage", None, "failed"),
        ("/drop", None, "failed"),
    ],
)
async def test_a_misbehaving_receiver_is_a_failed_attempt_retried_later(
    session: AsyncSession, receiver: int, path: str, status: int | None, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="minqing.webhooks"):
        row = await _deliver_to(session, receiver, path)
    assert (row.state, row.attempts, row.last_status_code) == ("pending", 1, status)
    assert row.delivered_at is None and row.next_attempt_at is not None
    assert error in (row.last_error or ""), row.last_error
    # Nothing of the answer's body is kept or believed.
    assert "RECEIVER-SAYS" not in (row.last_error or "") and "script" not in (row.last_error or "")
    assert len(row.last_error or "") <= service.ERROR_LENGTH
    logged = [r for r in caplog.records if r.getMessage() == "webhook delivery failed"]
    assert [getattr(r, "delivery_id", None) for r in logged] == [row.id]
    assert "RECEIVER-SAYS" not in caplog.text


async def test_an_endless_answer_body_is_not_read(session: AsyncSession, receiver: int) -> None:
    row = await _deliver_to(session, receiver, "/endless")
    assert (row.state, row.last_status_code, row.last_error) == ("delivered", 200, None)


async def test_a_success_answer_carrying_a_body_changes_nothing_but_the_state(
    session: AsyncSession, receiver: int
) -> None:
    row = await _deliver_to(session, receiver, "/ok")
    assert (row.state, row.last_status_code, row.last_error) == ("delivered", 200, None)
    assert "RECEIVER-SAYS" not in str(row.body)


async def test_failed_attempts_are_visible_to_the_integration_without_the_answer(
    session: AsyncSession, intake_client: Any, receiver: int
) -> None:
    _, raw = await make_api_key(session, rights=("webhooks:manage",))
    await session.commit()
    headers = {"X-API-Key": raw}
    hook = await intake_client.post(
        "/v1/webhooks",
        json={"url": f"http://127.0.0.1:{receiver}/lie", "event_types": ["alert.raised"]},
        headers=headers,
    )
    assert hook.status_code == 201, hook.text
    await emit(session, "alert.raised", {"alert_id": 1}, for_actor=None)
    await session.commit()
    async with make_client() as client:
        await deliver_due(unit_of_work, client)
    answer = await intake_client.get(f"/v1/webhooks/{hook.json()['id']}/deliveries", headers=headers)
    [delivery] = answer.json()["items"]
    assert (delivery["state"], delivery["attempts"], delivery["last_error"]) == ("pending", 1, "HTTP 503")
    assert "RECEIVER-SAYS" not in answer.text


async def test_past_the_retry_window_a_failing_receiver_ends_failed(session: AsyncSession, receiver: int) -> None:
    await make_subscription(session, f"http://127.0.0.1:{receiver}/fail")
    await emit(session, "alert.raised", {"alert_id": 1}, for_actor=None)
    await session.execute(update(WebhookDelivery).values(created_at=func.now() - timedelta(hours=25)))
    await session.commit()
    async with make_client() as client:
        stats = await deliver_due(unit_of_work, client)
    assert stats.failed == 1
    row = await session.scalar(select(WebhookDelivery).execution_options(populate_existing=True))
    assert (row.state, row.last_status_code) == ("failed", 500)
