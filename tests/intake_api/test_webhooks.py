"""Integrations manage their own webhook subscriptions at /v1/webhooks."""

import pytest
from sqlalchemy import func, select

from services.models import WebhookDelivery, WebhookSubscription
from services.webhooks.service import MAX_SUBSCRIPTIONS_PER_KEY, emit
from tests.factories import bearer, make_api_key, make_small_city, make_staff
from tests.settings import set_setting

MANAGE = ("requests:create", "webhooks:manage")
HOOK = {"url": "https://hooks.example.cn/minqing/events", "event_types": ["request.status_changed"]}


async def integration(session, rights=MANAGE) -> dict[str, str]:
    _, key = await make_api_key(session, rights=rights)
    await session.commit()
    return {"X-API-Key": key}


async def test_create_list_delete(session, intake_client):
    headers = await integration(session)
    r = await intake_client.post(
        "/v1/webhooks",
        json={**HOOK, "event_types": ["alert.raised", "request.status_changed", "alert.raised"]},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["url"] == HOOK["url"]
    assert created["event_types"] == ["alert.raised", "request.status_changed"]
    assert created["active"] is True
    assert len(created["secret"]) >= 40
    stored = await session.get(WebhookSubscription, created["id"])
    assert stored.secret == created["secret"]

    r = await intake_client.get("/v1/webhooks", headers=headers)
    assert r.status_code == 200
    [listed] = r.json()
    assert listed["id"] == created["id"]
    assert "secret" not in listed, "the secret is shown once, at creation"

    r = await intake_client.delete(f"/v1/webhooks/{created['id']}", headers=headers)
    assert r.status_code == 204 and r.content == b""
    assert (await intake_client.get("/v1/webhooks", headers=headers)).json() == []
    assert (await intake_client.delete(f"/v1/webhooks/{created['id']}", headers=headers)).status_code == 404


async def test_only_keys_with_the_right_manage_webhooks(session, intake_client):
    units = await make_small_city(session)
    admin = await make_staff(session, "admin", "admin", units["3302"])
    plain = await integration(session, rights=("requests:create",))
    for headers in (plain, bearer(admin)):
        for method, path in (("post", "/v1/webhooks"), ("get", "/v1/webhooks"), ("get", "/v1/webhooks/1/deliveries")):
            r = await intake_client.request(method, path, json=HOOK if method == "post" else None, headers=headers)
            assert r.status_code == 403, (method, path, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
    assert (await intake_client.get("/v1/webhooks")).status_code == 401


async def test_another_keys_subscription_is_not_found(session, intake_client):
    mine = await integration(session)
    theirs = await integration(session)
    r = await intake_client.post("/v1/webhooks", json=HOOK, headers=theirs)
    their_id = r.json()["id"]
    assert (await intake_client.get("/v1/webhooks", headers=mine)).json() == []
    assert (await intake_client.delete(f"/v1/webhooks/{their_id}", headers=mine)).status_code == 404
    assert (await intake_client.get(f"/v1/webhooks/{their_id}/deliveries", headers=mine)).status_code == 404
    assert await session.get(WebhookSubscription, their_id) is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.cn/x",
        "https://user:pw@hooks.example.cn/x",
        "https://hooks.example.cn:70000/x",
        "https://10.0.0.5/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/x",
        "not a url",
        "",
        "https://hooks.example.cn/" + "a" * 2000,
    ],
)
async def test_bad_urls_are_422_naming_url(session, intake_client, url):
    headers = await integration(session)
    r = await intake_client.post("/v1/webhooks", json={**HOOK, "url": url}, headers=headers)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["url"]
    assert await session.scalar(select(func.count()).select_from(WebhookSubscription)) == 0


async def test_bad_event_types_and_extra_fields_are_422(session, intake_client):
    headers = await integration(session)
    for body, field in (
        ({**HOOK, "event_types": []}, "event_types"),
        ({**HOOK, "event_types": ["request.created"]}, "event_types.0"),
        ({**HOOK, "secret": "mine"}, "secret"),
    ):
        r = await intake_client.post("/v1/webhooks", json=body, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field


async def test_http_and_private_hosts_when_the_operator_allows_them(session, intake_client, monkeypatch):
    set_setting(monkeypatch, "webhook_allowed_hosts", ["127.0.0.1"])
    set_setting(monkeypatch, "webhook_allow_http", True)
    headers = await integration(session)
    r = await intake_client.post("/v1/webhooks", json={**HOOK, "url": "http://127.0.0.1:9000/hook"}, headers=headers)
    assert r.status_code == 201, r.text
    r = await intake_client.post("/v1/webhooks", json={**HOOK, "url": "http://10.0.0.5/hook"}, headers=headers)
    assert r.status_code == 422


async def test_subscriptions_per_key_are_capped(session, intake_client):
    headers = await integration(session)
    for _ in range(MAX_SUBSCRIPTIONS_PER_KEY):
        assert (await intake_client.post("/v1/webhooks", json=HOOK, headers=headers)).status_code == 201
    r = await intake_client.post("/v1/webhooks", json=HOOK, headers=headers)
    assert r.status_code == 409
    assert str(MAX_SUBSCRIPTIONS_PER_KEY) in r.json()["detail"]


async def test_deliveries_are_listed_newest_first_and_paged(session, intake_client):
    key, raw = await make_api_key(session, rights=MANAGE)
    await session.commit()
    headers = {"X-API-Key": raw}
    sub_id = (await intake_client.post("/v1/webhooks", json=HOOK, headers=headers)).json()["id"]
    for version in range(1, 4):
        fields = {"request_id": 7, "version": version, "from": "received", "to": "assigned"}
        await emit(session, "request.status_changed", fields, for_actor=f"key:{key.id}")
    await session.commit()

    r = await intake_client.get(f"/v1/webhooks/{sub_id}/deliveries", params={"limit": 2}, headers=headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [d["body"]["version"] for d in page["items"]] == [3, 2]
    first = page["items"][0]
    assert first["state"] == "pending" and first["attempts"] == 0 and first["next_attempt_at"] is not None
    assert first["event_type"] == "request.status_changed" and first["event_id"] == first["body"]["id"]
    r = await intake_client.get(
        f"/v1/webhooks/{sub_id}/deliveries", params={"limit": 2, "cursor": page["next_cursor"]}, headers=headers
    )
    assert [d["body"]["version"] for d in r.json()["items"]] == [1]
    assert r.json()["next_cursor"] is None
    r = await intake_client.get(f"/v1/webhooks/{sub_id}/deliveries", params={"state": "delivered"}, headers=headers)
    assert r.json()["items"] == []
    # Deleting the subscription drops what is still owed to it.
    assert (await intake_client.delete(f"/v1/webhooks/{sub_id}", headers=headers)).status_code == 204
    assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


async def test_openapi_documents_the_endpoints(intake_client):
    spec = (await intake_client.get("/openapi.json")).json()
    create = spec["paths"]["/v1/webhooks"]["post"]
    assert {"201", "401", "403", "422"} <= set(create["responses"])
    assert "secret" in spec["components"]["schemas"]["WebhookCreated"]["properties"]
    assert spec["components"]["schemas"]["WebhookCreate"].get("examples")
    assert "delete" in spec["paths"]["/v1/webhooks/{webhook_id}"]
    assert "get" in spec["paths"]["/v1/webhooks/{webhook_id}/deliveries"]


async def test_an_integration_hears_only_of_the_requests_it_submitted(session, intake_client, setup):
    """A status change of a request a window clerk (staff) or another integration took is owed to no
    integration's subscription; the integration's own request is."""
    from tests.factories import at_grid, make_subscription
    from tests.kit import create_request, drain

    api_key, clear = await make_api_key(session, rights=MANAGE, channels=("hotline",))
    subscription = await make_subscription(
        session, "https://hooks.example.cn/minqing/events", key=api_key, event_types=("request.status_changed",)
    )
    clerk = await make_staff(session, "clerk_window", "clerk", setup["units"]["3302"])
    await session.commit()

    await create_request(intake_client, bearer(clerk), at_grid(0, channel="window"))
    await create_request(intake_client, setup["key"], at_grid(2, description="小区路灯不亮"))
    await drain()  # both routed: received -> assigned
    assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0

    own = await create_request(
        intake_client, {"X-API-Key": clear}, at_grid(1, description="井盖缺失", citizen={"anonymous": True})
    )
    await drain()
    owed = (await session.execute(select(WebhookDelivery.subscription_id, WebhookDelivery.body))).all()
    assert [(sub, body["request_id"]) for sub, body in owed] == [(subscription.id, own["id"])]
