"""Deliveries signed the Standard Webhooks way (id, timestamp and body signed) so a receiver can refuse a
replay; the old header still sent; ping and redelivery (issue 17, item 6). A real HTTP receiver."""

import base64
import hashlib
import hmac
import json
import time

from hypothesis import given
from hypothesis import strategies as st

from services.models import WebhookDelivery
from services.webhooks.service import deliver_due, emit
from services.webhooks.signing import sign_standard, standard_secret, verify, verify_standard
from shared.db import unit_of_work
from tests.factories import make_api_key
from tests.services.webhooks.test_delivery import STATUS_CHANGE, client, deliveries, local_allowed, receiver, subscribe

__all__ = ["client", "local_allowed", "receiver"]  # fixtures


def receiver_check(body: bytes, headers: dict[str, str], secret: str, now: float) -> bool:
    """The receiver's check exactly as the OpenAPI `webhooks` section shows it (written out again here)."""
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    if not ts.isdigit() or abs(now - int(ts)) > 300:
        return False
    mac = hmac.new(secret.encode(), f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    return any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split())


async def test_a_delivery_carries_id_timestamp_and_signature_and_a_replay_is_refused(
    session, receiver, local_allowed, client
):
    key, sub = await subscribe(session, receiver.url("/ok"))
    await emit(session, "request.status_changed", STATUS_CHANGE, for_actor=f"key:{key.id}")
    await session.commit()
    before = int(time.time())
    await deliver_due(unit_of_work, client)
    [got] = receiver.requests
    [row] = await deliveries(session)
    headers = dict(got.headers)
    assert headers["webhook-id"] == row.event_id == json.loads(got.body)["id"]
    assert before <= int(headers["webhook-timestamp"]) <= int(time.time())
    assert receiver_check(got.body, headers, sub.secret, time.time())
    assert verify_standard(got.body, sub.secret, headers, time.time())
    # The same bytes replayed ten minutes later, or altered, or under another secret: refused.
    assert not receiver_check(got.body, headers, sub.secret, time.time() + 600)
    assert not verify_standard(got.body, sub.secret, headers, time.time() + 600)
    assert not verify_standard(got.body.replace(b"assigned", b"accepted"), sub.secret, headers, time.time())
    assert not verify_standard(got.body, "another secret", headers, time.time())
    # A timestamp moved forward breaks the signature.
    moved = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 600)}
    assert not verify_standard(got.body, sub.secret, moved, time.time() + 600)
    # The deprecated header is still sent and still holds.
    assert verify(got.body, sub.secret, headers["x-minqing-signature"])


async def test_ping_and_redelivery(session, receiver, local_allowed, client, intake_client):
    _, raw = await make_api_key(session, rights=("requests:create", "webhooks:manage"))
    await session.commit()
    auth = {"X-API-Key": raw}
    created = await intake_client.post(
        "/v1/webhooks", json={"url": receiver.url("/ok"), "event_types": ["request.status_changed"]}, headers=auth
    )
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["standard_secret"] == standard_secret(sub["secret"])
    assert base64.b64decode(sub["standard_secret"].removeprefix("whsec_")).decode() == sub["secret"]

    pinged = await intake_client.post(f"/v1/webhooks/{sub['id']}/ping", headers=auth)
    assert pinged.status_code == 202, pinged.text
    assert pinged.json()["event_type"] == "webhook.ping" and pinged.json()["state"] == "pending"
    await deliver_due(unit_of_work, client)
    [got] = receiver.requests
    body = json.loads(got.body)
    assert (body["type"], body["subscription_id"]) == ("webhook.ping", sub["id"])
    assert verify_standard(got.body, sub["secret"], dict(got.headers), time.time())

    again = await intake_client.post(
        f"/v1/webhooks/{sub['id']}/deliveries/{pinged.json()['id']}/redeliver", headers=auth
    )
    assert again.status_code == 202, again.text
    assert again.json()["id"] != pinged.json()["id"] and again.json()["event_id"] == pinged.json()["event_id"]
    await deliver_due(unit_of_work, client)
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # the receiver can drop the repeat
    assert first.body == second.body
    rows = await deliveries(session)
    assert [r.state for r in rows] == ["delivered", "delivered"]
    assert all(isinstance(r, WebhookDelivery) for r in rows)
    # Another key's subscription, or a delivery of another subscription, is as absent as a missing one.
    _, other = await make_api_key(session, rights=("requests:create", "webhooks:manage"))
    await session.commit()
    assert (await intake_client.post(f"/v1/webhooks/{sub['id']}/ping", headers={"X-API-Key": other})).status_code == 404
    missing = await intake_client.post(f"/v1/webhooks/{sub['id']}/deliveries/999999/redeliver", headers=auth)
    assert missing.status_code == 404


@given(
    message_id=st.text(min_size=1, max_size=40).filter(lambda s: "." not in s),
    timestamp=st.integers(min_value=1_000_000_000, max_value=4_000_000_000),
    body=st.binary(max_size=200),
    secret=st.text(min_size=1, max_size=40),
)
def test_a_signature_verifies_only_within_the_tolerance(message_id, timestamp, body, secret):
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v0,xxx " + sign_standard(message_id, timestamp, body, secret),
    }
    assert verify_standard(body, secret, headers, timestamp + 299)
    assert not verify_standard(body, secret, headers, timestamp + 301)
    assert not verify_standard(body, secret, {**headers, "webhook-id": message_id + "x"}, timestamp)
