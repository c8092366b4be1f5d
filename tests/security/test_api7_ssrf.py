"""API7:2023 Server Side Request Forgery: webhook URLs cannot point into private, loopback, link-local or
metadata addresses (however written), names are checked again at send time, redirects are not
followed, and media URLs are only ever http(s) links (stored, never fetched)."""

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import Request, WebhookDelivery, WebhookSubscription
from services.webhooks.service import deliver_due, emit, make_client
from shared.db import unit_of_work
from tests.factories import at_grid, make_api_key, make_subscription
from tests.kit import Answer, WebhookReceiver
from tests.settings import set_setting

HOOK = {"event_types": ["request.status_changed", "alert.raised"]}
INTERNAL_URLS = [
    "https://127.0.0.1/hook",
    "https://127.1/hook",
    "https://2130706433/hook",  # 127.0.0.1 as one decimal number
    "https://0x7f000001/hook",
    "https://0177.0.0.1/hook",
    "https://0.0.0.0/hook",
    "https://localhost/hook",
    "https://LOCALHOST./hook",
    "https://[::1]/hook",
    "https://[::]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 form of 169.254.169.254
    "https://[2002:a9fe:a9fe::1]/hook",  # 6to4 form of 169.254.169.254
    "https://[fd00::1]/hook",
    "https://[fe80::1]/hook",
    "https://10.0.0.5/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://100.64.0.1/hook",  # carrier-grade NAT
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://100.100.100.200/latest/meta-data/",  # Alibaba Cloud metadata
    "https://224.0.0.1/hook",
    "https://255.255.255.255/hook",
    "https://hooks.example.cn@127.0.0.1/hook",
    "https://user:pw@hooks.example.cn/hook",
    "http://hooks.example.cn/hook",  # plain http is off by default
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "dict://127.0.0.1:6379/info",
    "ftp://hooks.example.cn/hook",
    "javascript:alert(1)",
    "https://hooks.example.cn\\@127.0.0.1/hook",
    "https://hooks.example.cn/\r\nHost: 127.0.0.1",
]


@pytest.fixture
async def manager(session: AsyncSession) -> dict[str, str]:
    _, key = await make_api_key(session, rights=("requests:create", "webhooks:manage"))
    await session.commit()
    return {"X-API-Key": key}


async def test_webhook_urls_into_internal_networks_are_refused(
    session: AsyncSession, intake_client: Any, manager: dict[str, str]
) -> None:
    for url in INTERNAL_URLS:
        answer = await intake_client.post("/v1/webhooks", json={**HOOK, "url": url}, headers=manager)
        assert answer.status_code == 422, (url, answer.text)
        assert [e["field"] for e in answer.json()["errors"]] == ["url"], url
    assert await session.scalar(select(func.count()).select_from(WebhookSubscription)) == 0
    ok = await intake_client.post(
        "/v1/webhooks", json={**HOOK, "url": "https://hooks.example.cn/hook"}, headers=manager
    )
    assert ok.status_code == 201


async def test_the_allow_list_opens_only_the_listed_host(
    intake_client: Any, manager: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_setting(monkeypatch, "webhook_allowed_hosts", ["10.1.2.3"])
    allowed = await intake_client.post("/v1/webhooks", json={**HOOK, "url": "https://10.1.2.3/hook"}, headers=manager)
    assert allowed.status_code == 201
    for url in ("https://10.1.2.4/hook", "https://169.254.169.254/", "http://10.1.2.3/hook"):
        answer = await intake_client.post("/v1/webhooks", json={**HOOK, "url": url}, headers=manager)
        assert answer.status_code == 422, url


async def _subscription(session: AsyncSession, url: str) -> WebhookSubscription:
    sub = await make_subscription(session, url)
    await emit(session, "alert.raised", {"alert_id": 1}, for_actor=None)
    await session.commit()
    return sub


@pytest.mark.parametrize(
    "addresses",
    [["169.254.169.254"], ["10.0.0.5"], ["127.0.0.1"], ["::1"], ["::ffff:10.0.0.5"], ["93.184.216.34", "192.168.0.1"]],
)
async def test_a_public_looking_name_resolving_inside_is_refused_at_send_time(
    session: AsyncSession, addresses: list[str]
) -> None:
    await _subscription(session, "https://hooks.example.cn/hook")
    connected: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        connected.append(host)
        return addresses

    async with make_client() as client:
        stats = await deliver_due(unit_of_work, client, resolve=resolve)
    assert stats.failed == 1
    row = await session.scalar(select(WebhookDelivery).execution_options(populate_existing=True))
    assert row.state == "failed" and row.last_status_code is None
    assert "not allowed" in (row.last_error or "")


@pytest.fixture
def redirector(webhook_receiver: WebhookReceiver) -> WebhookReceiver:
    """The suite's webhook receiver, answering `/hook` with a 307 into the metadata service."""
    webhook_receiver.answers["/hook"] = Answer(307, location="http://169.254.169.254/latest/meta-data/")
    return webhook_receiver


async def test_a_redirect_into_the_metadata_service_is_not_followed(
    session: AsyncSession, redirector: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_setting(monkeypatch, "webhook_allowed_hosts", ["127.0.0.1"])
    set_setting(monkeypatch, "webhook_allow_http", True)
    await _subscription(session, redirector.url("/hook"))
    async with make_client() as client:
        stats = await deliver_due(unit_of_work, client)
    assert stats.retried == 1
    assert [hit.path for hit in redirector.requests] == ["/hook"]
    row = await session.scalar(select(WebhookDelivery).execution_options(populate_existing=True))
    assert (row.state, row.last_status_code) == ("pending", 307)
    assert "redirect" in (row.last_error or "")


MEDIA_URLS = [
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "ftp://example.org/a.jpg",
    "javascript:alert(1)",
    "data:image/png;base64,AAAA",
    "//evil.example/a.jpg",
    "dict://127.0.0.1:11211/stat",
    "https://img.example.cn/a.jpg\r\nX-Injected: 1",
]


async def test_media_urls_must_be_http_links(session: AsyncSession, intake_client: Any, setup: dict[str, Any]) -> None:
    for url in MEDIA_URLS:
        answer = await intake_client.post("/v1/requests", json=at_grid(0, media_urls=[url]), headers=setup["key"])
        assert answer.status_code == 422, (url, answer.text)
        assert answer.json()["errors"][0]["field"] == "media_urls", url
    assert await session.scalar(select(func.count()).select_from(Request)) == 0
    ok = await intake_client.post(
        "/v1/requests", json=at_grid(0, media_urls=["https://img.example.cn/a.jpg"]), headers=setup["key"]
    )
    assert ok.status_code == 201


async def test_open311_media_urls_must_be_http_links(
    session: AsyncSession, intake_client: Any, setup: dict[str, Any]
) -> None:
    base = {
        "api_key": setup["key"]["X-API-Key"],
        "service_code": "env.noise",
        "lat": "29.805",
        "long": "121.505",
        "description": "噪声",
    }
    for url in MEDIA_URLS[:5]:
        answer = await intake_client.post("/open311/v2/requests.json", data={**base, "media_url": url})
        assert answer.status_code == 400, (url, answer.text)
        assert "media_url" in answer.text
    assert await session.scalar(select(func.count()).select_from(Request)) == 0
