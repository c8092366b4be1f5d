"""Retention (issue 17): processed outbox entries, finished webhook deliveries, old idempotency keys and
rate-limit counters without a lifetime are pruned; closed requests' citizen data is erased past its age,
the request, its trail and its scores staying valid; each run is logged."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from routing_worker.jobs.retention_jobs import prune_and_erase
from services.lifecycle import retention
from services.lifecycle.events import append_event, verify_chain
from services.models import IdempotencyKey, OutboxEntry, Request, RequestEvent, WebhookDelivery
from services.models.retention import RetentionRun
from shared.db import unit_of_work
from shared.queue import get_queue
from tests.factories import bearer, make_handling_setup, make_request, make_subscription
from tests.settings import set_setting

NOW = datetime.now(UTC)
D = timedelta(days=1)


async def ids_of(session, model):
    return set(await session.scalars(select(model.id).execution_options(populate_existing=True)))


async def closed_request(session, unit, closed_at, **fields):
    request = await make_request(
        session,
        unit=unit,
        status="closed",
        closed_at=closed_at,
        close_reason="satisfied",
        citizen_name_enc=b"\x01name",
        citizen_phone_enc=b"\x01phone",
        citizen_phone_hash="a" * 64,
        **fields,
    )
    await append_event(session, request.id, "received", "system:test", to_status="received", first=True)
    return request


async def test_a_run_prunes_what_is_past_its_age_and_keeps_the_rest(session, monkeypatch):
    s = await make_handling_setup(session)
    grid = s["units"]["330203001001001"]
    old_done = OutboxEntry(topic="route", job_id="route:1", processed_at=NOW - 10 * D)
    recent_done = OutboxEntry(topic="route", job_id="route:2", processed_at=NOW - D)
    old_pending = OutboxEntry(topic="route", job_id="route:3", created_at=NOW - 10 * D)
    session.add_all([old_done, recent_done, old_pending])
    sub = await make_subscription(session, "https://hooks.example.test/x")
    deliveries = {
        name: WebhookDelivery(
            subscription_id=sub.id, event_id=f"evt_{name}", event_type="alert.raised", body={}, state=state,
            created_at=NOW - age,
        )
        for name, state, age in [
            ("old_delivered", "delivered", 40 * D),
            ("old_failed", "failed", 40 * D),
            ("old_pending", "pending", 40 * D),
            ("recent_delivered", "delivered", D),
        ]
    }  # fmt: skip
    session.add_all(deliveries.values())
    session.add_all(
        [
            IdempotencyKey(
                owner="key:1", key="old", body_hash="x", status_code=201, response={}, created_at=NOW - 2 * D
            ),
            IdempotencyKey(owner="key:1", key="new", body_hash="x", status_code=201, response={}, created_at=NOW),
        ]
    )
    long_closed = await closed_request(session, grid, NOW - 4 * 365 * D)
    recently_closed = await closed_request(session, grid, NOW - 30 * D)
    open_old = await make_request(
        session, unit=grid, status="accepted", received_at=NOW - 5 * 365 * D, citizen_name_enc=b"\x01n"
    )
    await session.commit()
    redis = await get_queue()
    await redis.set("minqing:rate:ip:1.2.3.4:60", 5)  # no lifetime: left by a crash
    await redis.set("minqing:rate:ip:5.6.7.8:60", 5, ex=60)
    set_setting(monkeypatch, "retention_batch", 1)  # many small batches: every one its own transaction

    record = await retention.run(unit_of_work, redis, NOW)

    assert record.counts == {
        "outbox": 1,
        "webhook_deliveries": 2,
        "idempotency_keys": 1,
        "pii_erased": 1,
        "rate_limit_keys": 1,
    }
    assert record.settings["pii_days"] == 1095 and record.settings["batch"] == 1
    assert await ids_of(session, OutboxEntry) == {recent_done.id, old_pending.id}
    kept = {deliveries[n].id for n in ("old_pending", "recent_delivered")}
    assert await ids_of(session, WebhookDelivery) == kept
    assert set(await session.scalars(select(IdempotencyKey.key))) == {"new"}
    assert await redis.exists("minqing:rate:ip:1.2.3.4:60") == 0
    assert await redis.exists("minqing:rate:ip:5.6.7.8:60") == 1

    rows = {
        r.id: r
        for r in await session.scalars(
            select(Request)
            .where(Request.id.in_([long_closed.id, recently_closed.id, open_old.id]))
            .execution_options(populate_existing=True)
        )
    }
    erased = rows[long_closed.id]
    assert (erased.citizen_name_enc, erased.citizen_phone_enc, erased.citizen_phone_hash) == (None, None, None)
    assert erased.pii_erased_at is not None
    assert rows[recently_closed.id].citizen_phone_enc == b"\x01phone" and rows[recently_closed.id].pii_erased_at is None
    assert rows[open_old.id].citizen_name_enc == b"\x01n"
    # The trail says so and still holds.
    events = list(
        await session.scalars(
            select(RequestEvent).where(RequestEvent.request_id == erased.id).order_by(RequestEvent.seq)
        )
    )
    assert [e.kind for e in events] == ["received", "pii_erased"] and events[1].actor == "system:retention"
    assert verify_chain(events) is None
    # A second run has nothing left to do; both runs are logged.
    again = await retention.run(unit_of_work, redis, NOW)
    assert set(again.counts.values()) == {0}
    assert await session.scalar(select(func.count()).select_from(RetentionRun)) == 2


async def test_erased_requests_still_read_and_pii_retention_can_be_off(session, monkeypatch, intake_client):
    s = await make_handling_setup(session)
    grid = s["units"]["330203001001001"]
    request = await closed_request(session, grid, NOW - 4 * 365 * D)
    await session.commit()
    set_setting(monkeypatch, "retention_pii_days", 0)
    off = await retention.run(unit_of_work, await get_queue(), NOW)
    assert off.counts["pii_erased"] == 0 and off.settings["pii_days"] is None
    monkeypatch.undo()
    assert (await prune_and_erase({}))["pii_erased"] == 1  # the worker's cron
    answer = await intake_client.get(
        f"/v1/requests/{request.id}", params={"reveal_pii": "true"}, headers=bearer(s["dispatcher"])
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "closed"
    assert all(not value for value in (body.get("citizen") or {}).values() if not isinstance(value, bool)), body
