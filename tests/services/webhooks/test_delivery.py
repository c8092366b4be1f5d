"""Emitting events and delivering them to a real HTTP receiver on 127.0.0.1."""

import asyncio
import json
import socket
import ssl
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select, update

from routing_worker.jobs.webhook_jobs import deliver_webhooks
from services.models import ApiKey, WebhookDelivery
from services.webhooks import service
from services.webhooks.service import deliver_due, emit, make_client
from services.webhooks.signing import verify
from shared.db import unit_of_work
from tests.factories import make_api_key, make_subscription
from tests.kit import WebhookReceiver
from tests.settings import set_setting

STATUS_CHANGE = {"request_id": 311, "version": 2, "from": "received", "to": "assigned"}


@pytest.fixture
def receiver(webhook_receiver: WebhookReceiver) -> WebhookReceiver:
    """The suite's webhook receiver: `/ok` 200, `/fail` 500, `/redirect` 302, `/slow` sleeps (tests/kit.py)."""
    return webhook_receiver


@pytest.fixture
def local_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    set_setting(monkeypatch, "webhook_allowed_hosts", ["127.0.0.1", "hooks.example.test"])
    set_setting(monkeypatch, "webhook_allow_http", True)


@pytest.fixture
async def client() -> Any:
    async with make_client() as c:
        yield c


async def subscribe(session, url: str, *, event_types=("request.status_changed", "alert.raised"), key=None):
    if key is None:
        key, _ = await make_api_key(session, rights=("requests:create", "webhooks:manage"))
    sub = await make_subscription(session, url, key=key, event_types=event_types, secret=f"secret-{key.id}")
    return key, sub


async def deliveries(session) -> list[WebhookDelivery]:
    stmt = select(WebhookDelivery).order_by(WebhookDelivery.id).execution_options(populate_existing=True)
    return list(await session.scalars(stmt))


# ---- emit ------------------------------------------------------------------------------------


async def test_request_events_go_to_the_submitting_key_only_and_alerts_to_all(session):
    key_a, sub_a = await subscribe(session, "https://a.example.cn/hook")
    _, sub_b = await subscribe(session, "https://b.example.cn/hook")
    await subscribe(session, "https://c.example.cn/hook", event_types=("alert.raised",), key=key_a)

    assert await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key_a.id}") == 1
    assert await emit(session, "request.status_changed", STATUS_CHANGE, for_actor="staff:5") == 0
    assert await emit(session, "alert.raised", {"alert_id": 9, "community": "330203001001"}, for_actor=None) == 3
    rows = await deliveries(session)
    assert (rows[0].subscription_id, rows[0].event_type) == (sub_a.id, "request.status_changed")
    first = rows[0].body
    assert set(first) == {"id", "type", "occurred_at", "request_id", "version", "from", "to"}
    assert first["type"] == "request.status_changed" and first["from"] == "received" and first["to"] == "assigned"
    assert first["occurred_at"].endswith("+08:00")
    alerts = rows[1:]
    assert len({r.event_id for r in alerts}) == 1, "one event, one id across its subscriptions"
    assert alerts[0].event_id != rows[0].event_id
    assert {r.subscription_id for r in alerts} >= {sub_a.id, sub_b.id}
    assert all(r.state == "pending" and r.attempts == 0 for r in rows)


async def test_inactive_subscriptions_and_revoked_keys_get_nothing(session):
    _, sub = await subscribe(session, "https://a.example.cn/hook")
    sub.active = False
    revoked, _ = await subscribe(session, "https://b.example.cn/hook")
    revoked.revoked_at = datetime.now(UTC)
    await session.flush()
    assert await emit(session, "alert.raised", {"alert_id": 1}, for_actor=None) == 0


async def test_emit_refuses_what_callers_get_wrong(session):
    with pytest.raises(ValueError, match="Unknown"):
        await emit(session, "request.created", {}, for_actor=None)
    with pytest.raises(ValueError, match="needs the fields"):
        await emit(session, "request.status_changed", {"request_id": 1}, for_actor="key:1")
    with pytest.raises(ValueError, match="set by emit"):
        await emit(session, "alert.raised", {"id": "mine"}, for_actor=None)


async def test_deliveries_roll_back_with_the_change(session):
    key, _ = await subscribe(session, "https://a.example.cn/hook")
    await session.commit()
    with pytest.raises(RuntimeError):
        async with unit_of_work() as uow:
            await emit(uow, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
            raise RuntimeError("the routing decision failed")
    assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


# ---- delivery --------------------------------------------------------------------------------


async def test_delivery_is_signed_and_marked_delivered(session, receiver, local_allowed, client):
    key, sub = await subscribe(session, receiver.url("/ok"))
    await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
    await session.commit()

    stats = await deliver_due(unit_of_work, client)

    assert (stats.claimed, stats.delivered) == (1, 1)
    [got] = receiver.requests
    [row] = await deliveries(session)
    assert got.path == "/ok"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-minqing-event"] == "request.status_changed"
    assert got.headers["x-minqing-delivery"] == str(row.id)
    assert verify(got.body, sub.secret, got.headers["x-minqing-signature"])
    assert not verify(got.body, "another-secret", got.headers["x-minqing-signature"])
    assert json.loads(got.body) == row.body
    assert got.body.startswith(b'{"id":"' + row.event_id.encode() + b'","type":"request.status_changed"')
    assert b" " not in got.body
    assert (row.state, row.attempts, row.last_status_code, row.last_error) == ("delivered", 1, 200, None)
    assert row.delivered_at is not None
    # Delivered rows are not sent again.
    assert (await deliver_due(unit_of_work, client)).claimed == 0
    assert len(receiver.requests) == 1


async def test_a_failing_receiver_is_retried_later(session, receiver, local_allowed, client):
    key, _ = await subscribe(session, receiver.url("/fail"))
    await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
    await session.commit()
    now = datetime.now(UTC)

    stats = await deliver_due(unit_of_work, client, now=now)

    assert (stats.claimed, stats.retried) == (1, 1)
    [row] = await deliveries(session)
    assert (row.state, row.attempts, row.last_status_code, row.last_error) == ("pending", 1, 500, "HTTP 500")
    assert now + timedelta(seconds=7) <= row.next_attempt_at <= now + timedelta(seconds=10)
    # Not due yet: the next sweep leaves it alone; once due, the second wait is about twice as long.
    assert (await deliver_due(unit_of_work, client, now=now + timedelta(seconds=1))).claimed == 0
    later = now + timedelta(seconds=11)
    await deliver_due(unit_of_work, client, now=later)
    [row] = await deliveries(session)
    assert row.attempts == 2
    assert later + timedelta(seconds=15) <= row.next_attempt_at <= later + timedelta(seconds=20)
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body, "a retry sends the same bytes"


async def test_past_24_hours_a_delivery_fails(session, receiver, local_allowed, client):
    key, _ = await subscribe(session, receiver.url("/fail"))
    await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
    await session.execute(update(WebhookDelivery).values(created_at=func.now() - timedelta(hours=24, minutes=1)))
    await session.commit()

    stats = await deliver_due(unit_of_work, client)

    assert stats.failed == 1
    [row] = await deliveries(session)
    assert (row.state, row.attempts, row.last_status_code) == ("failed", 1, 500)


async def test_the_last_retry_is_at_the_24_hour_mark(session, receiver, local_allowed, client):
    key, _ = await subscribe(session, receiver.url("/fail"))
    await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
    await session.execute(
        update(WebhookDelivery).values(created_at=func.now() - timedelta(hours=23, minutes=59, seconds=55))
    )
    await session.commit()
    await deliver_due(unit_of_work, client)
    [row] = await deliveries(session)
    assert row.state == "pending"
    assert row.next_attempt_at <= row.created_at + timedelta(hours=24)


async def test_a_redirect_is_not_followed(session, receiver, local_allowed, client):
    key, _ = await subscribe(session, receiver.url("/redirect"))
    await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
    await session.commit()

    await deliver_due(unit_of_work, client)

    assert [r.path for r in receiver.requests] == ["/redirect"]
    [row] = await deliveries(session)
    assert (row.state, row.last_status_code) == ("pending", 302)
    assert "redirect" in (row.last_error or "")


async def test_a_private_address_is_refused_without_connecting(session, receiver, monkeypatch, client):
    set_setting(monkeypatch, "webhook_allowed_hosts", [])
    set_setting(monkeypatch, "webhook_allow_http", True)
    key, _ = await subscribe(session, receiver.url("/ok"))
    await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
    await session.commit()

    stats = await deliver_due(unit_of_work, client)

    assert stats.failed == 1
    assert receiver.requests == []
    [row] = await deliveries(session)
    assert row.state == "failed" and row.last_status_code is None
    assert "loopback" in (row.last_error or "")


async def test_a_name_resolving_to_a_private_address_is_refused(session, receiver, monkeypatch, client):
    set_setting(monkeypatch, "webhook_allow_http", True)
    key, _ = await subscribe(session, f"http://rebind.example.cn:{receiver.port}/ok")
    await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
    await session.commit()

    async def resolve(host: str, port: int) -> list[str]:
        return ["8.8.8.8", "127.0.0.1"]  # one public answer does not excuse a private one

    await deliver_due(unit_of_work, client, resolve=resolve)

    assert receiver.requests == []
    [row] = await deliveries(session)
    assert row.state == "failed" and "127.0.0.1" in (row.last_error or "")


async def test_the_send_goes_to_the_checked_address_under_the_urls_host_name(session, receiver, local_allowed, client):
    key, _ = await subscribe(session, f"http://hooks.example.test:{receiver.port}/ok")
    await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
    await session.commit()
    resolved: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    stats = await deliver_due(unit_of_work, client, resolve=resolve)

    assert stats.delivered == 1
    assert resolved == ["hooks.example.test"], "resolved once, then connected to that very address"
    assert receiver.requests[0].headers["host"] == f"hooks.example.test:{receiver.port}"


async def test_a_slow_receiver_times_out_and_is_retried(session, receiver, local_allowed, client, monkeypatch):
    monkeypatch.setattr(service, "READ_TIMEOUT", 0.3)
    key, _ = await subscribe(session, receiver.url("/slow"))
    await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
    await session.commit()

    started = time.monotonic()
    stats = await deliver_due(unit_of_work, client)

    assert time.monotonic() - started < 1.5
    assert stats.retried == 1
    [row] = await deliveries(session)
    assert (row.state, row.attempts, row.last_status_code) == ("pending", 1, None)
    assert "in time" in (row.last_error or "")


async def test_nobody_listening_is_retried(session, local_allowed, client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key, _ = await subscribe(session, f"http://127.0.0.1:{port}/hook")
    await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
    await session.commit()

    await deliver_due(unit_of_work, client)

    [row] = await deliveries(session)
    assert (row.state, row.attempts) == ("pending", 1)
    assert "connection" in (row.last_error or "")


async def test_a_revoked_key_stops_its_pending_deliveries(session, receiver, local_allowed, client):
    key, _ = await subscribe(session, receiver.url("/ok"))
    await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
    await session.execute(update(ApiKey).values(revoked_at=func.now()))
    await session.commit()

    await deliver_due(unit_of_work, client)

    assert receiver.requests == []
    [row] = await deliveries(session)
    assert row.state == "failed" and "revoked" in (row.last_error or "")


async def test_concurrent_sweeps_send_each_delivery_once(session, receiver, local_allowed, client):
    for _ in range(3):
        await subscribe(session, receiver.url("/ok"))
    for _ in range(10):
        await emit(session, "alert.raised", {"alert_id": 1}, for_actor=None)
    await session.commit()

    results = await asyncio.gather(*(deliver_due(unit_of_work, client, limit=7) for _ in range(4)))
    while (more := await deliver_due(unit_of_work, client)).claimed:
        results.append(more)

    assert sum(r.delivered for r in results) == 30, results
    assert sorted(int(r.headers["x-minqing-delivery"]) for r in receiver.requests) == list(range(1, 31))


async def test_a_claim_is_leased_and_a_stale_outcome_is_not_written(session, receiver, local_allowed, client):
    key, _ = await subscribe(session, receiver.url("/ok"))
    await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
    await session.commit()
    now = datetime.now(UTC)
    async with unit_of_work() as uow:
        [claim] = await service._claim(uow, now, 10)
    # While the lease runs, other sweeps do not see it; after it, another sweep takes it over.
    assert (await deliver_due(unit_of_work, client, now=now + timedelta(seconds=30))).claimed == 0
    assert (await deliver_due(unit_of_work, client, now=now + timedelta(minutes=3))).delivered == 1
    async with unit_of_work() as uow:
        stale = await service._record(uow, [(claim, service._retry("late"))], now)
    assert stale.superseded == 1
    [row] = await deliveries(session)
    assert (row.state, row.attempts, row.last_error) == ("delivered", 2, None)


async def test_the_worker_cron_sends_due_deliveries(session, receiver, local_allowed):
    key, _ = await subscribe(session, receiver.url("/ok"))
    await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
    await session.commit()

    result = await deliver_webhooks({})

    assert result["delivered"] == 1
    assert len(receiver.requests) == 1


def test_the_default_client_does_not_follow_redirects_or_use_proxies():
    client = make_client()
    assert client.follow_redirects is False
    assert client.timeout.connect == 5.0 and client.timeout.read == 5.0
    assert isinstance(client, httpx.AsyncClient)


async def test_an_unexpected_error_in_one_send_does_not_lose_the_others(session, receiver, local_allowed, client):
    await subscribe(session, receiver.url("/ok"))
    await subscribe(session, f"http://hooks.example.test:{receiver.port}/ok")
    await emit(session, "alert.raised", {"alert_id": 1}, for_actor=None)
    await session.commit()

    async def resolve(host: str, port: int) -> list[str]:
        if host == "hooks.example.test":
            raise RuntimeError("resolver bug")
        return ["127.0.0.1"]

    stats = await deliver_due(unit_of_work, client, resolve=resolve)

    assert (stats.delivered, stats.retried) == (1, 1)
    states = {(r.state, r.last_error) for r in await deliveries(session)}
    assert states == {("delivered", None), ("pending", "internal error while sending: RuntimeError")}


def _self_signed(tmp_path, host: str) -> tuple[str, str]:
    """A certificate for `host` and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@pytest.mark.parametrize(("cert_host", "delivered"), [("hooks.example.test", True), ("other.example.test", False)])
async def test_https_to_a_pinned_address_still_verifies_the_host_name(
    session, local_allowed, tmp_path, cert_host, delivered
):
    cert, key = _self_signed(tmp_path, cert_host)
    with WebhookReceiver(certfile=cert, keyfile=key) as receiver:
        port = receiver.port
        sub_key, _ = await subscribe(session, f"https://hooks.example.test:{port}/ok")
        await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{sub_key.id}")
        await session.commit()

        async def resolve(host: str, port: int) -> list[str]:
            return ["127.0.0.1"]

        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=cert)) as tls_client:
            stats = await deliver_due(unit_of_work, tls_client, resolve=resolve)

    assert stats.delivered == (1 if delivered else 0)
    assert len(receiver.requests) == (1 if delivered else 0)
    if delivered:
        assert receiver.requests[0].headers["host"] == f"hooks.example.test:{port}"
    else:
        [row] = await deliveries(session)
        assert row.state == "pending" and "connection" in (row.last_error or "")
