"""API4:2023 Unrestricted Resource Consumption: bodies, fields, lists and pages are bounded, and citizen
endpoints and integrations are rate-limited, all with clear 4xx answers."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import Request
from shared.settings import get_settings
from tests.factories import at_grid, bearer, make_staff
from tests.kit import PROBLEM, create_request
from tests.settings import set_setting


async def test_a_body_over_the_limit_is_413_before_it_is_read(
    session: AsyncSession, intake_client: Any, scoring_client: Any, setup: dict[str, Any]
) -> None:
    limit = get_settings().max_body_bytes
    padding = "噪" * (limit // 3 + 1)
    big = at_grid(0, description=padding)
    answer = await intake_client.post("/v1/requests", json=big, headers=setup["key"])
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == PROBLEM

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit counts what arrives
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    streamed = await intake_client.post(
        "/v1/requests", content=chunks(), headers={**setup["key"], "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    scoring = await scoring_client.post("/v1/scores/runs", content=b"{" + b" " * limit + b"}")
    assert scoring.status_code == 413
    # Only the grid import has the larger limit.
    grid_import = await intake_client.post("/v1/admin/grids/import", content=b" " * (limit + 1))
    assert grid_import.status_code == 401
    assert await session.scalar(select(func.count()).select_from(Request)) == 0


async def test_field_lengths_and_list_sizes_are_bounded(intake_client: Any, setup: dict[str, Any]) -> None:
    too_big: dict[str, dict[str, Any]] = {
        "description": at_grid(0, description="噪" * 4001),
        "media_urls": at_grid(0, media_urls=[f"https://img.example.cn/{n}.jpg" for n in range(11)]),
        "attributes": at_grid(0, attributes={f"a{n}": "x" for n in range(51)}),
        "external_id": at_grid(0, external_id="x" * 101),
        "citizen.name": at_grid(0, citizen={"name": "张" * 51}),
        "location.address": {**at_grid(0), "location": {"address": "路" * 501}},
        "media_urls.0": at_grid(0, media_urls=["https://img.example.cn/" + "a" * 2000]),
    }
    for field, body in too_big.items():
        answer = await intake_client.post("/v1/requests", json=body, headers=setup["key"])
        assert answer.status_code == 422, (field, answer.text)
        assert field in [e["field"] for e in answer.json()["errors"]], field
        assert len(answer.content) < 5000, "the refused value is not echoed back"


async def test_open311_forms_with_too_many_fields_are_400(intake_client: Any, setup: dict[str, Any]) -> None:
    form = "&".join(f"attribute[a{n}]=x" for n in range(600))
    answer = await intake_client.post(
        "/open311/v2/requests.json",
        content=f"api_key={setup['key']['X-API-Key']}&service_code=env.noise&{form}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 400, answer.text


async def test_page_sizes_are_capped(
    session: AsyncSession, intake_client: Any, scoring_client: Any, setup: dict[str, Any]
) -> None:
    admin = await make_staff(session, "admin", "admin", setup["units"]["3302"])
    await session.commit()
    auth = bearer(admin)
    cap = get_settings().max_page_size
    for client, path in (
        (intake_client, "/v1/requests"),
        (intake_client, "/v1/admin/staff"),
        (intake_client, "/v1/admin/teams"),
        (intake_client, "/v1/admin/org-units"),
        (intake_client, "/v1/alerts"),
        (scoring_client, "/v1/scores/runs"),
        (scoring_client, "/v1/scores/appeals"),
        (scoring_client, "/v1/admin/scoring-schemes"),
    ):
        for limit in (cap + 1, 0, -1, 10**12):
            answer = await client.get(path, params={"limit": limit}, headers=auth)
            assert answer.status_code == 422, (path, limit, answer.text)
            assert answer.json()["errors"][0]["field"] == "query.limit"
        assert (await client.get(path, params={"limit": cap}, headers=auth)).status_code == 200, path
    answer = await intake_client.get("/v1/requests", params={"cursor": "x" * 201}, headers=auth)
    assert answer.status_code == 422


async def test_citizen_tracking_and_feedback_share_a_per_address_rate_limit(
    intake_client: Any, setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_setting(monkeypatch, "citizen_rate_per_minute", 5)
    created = await create_request(intake_client, setup["key"])
    number = created["tracking_no"]
    for _ in range(3):
        assert (await intake_client.get(f"/v1/track/{number}", params={"phone_last4": "1234"})).status_code == 200
    for _ in range(2):
        answer = await intake_client.post(
            f"/v1/track/{number}/feedback", json={"phone_last4": "1234", "resolved": True, "satisfaction": "satisfied"}
        )
        assert answer.status_code == 409  # not resolved yet: counted all the same
    for answer in (
        await intake_client.get(f"/v1/track/{number}", params={"phone_last4": "1234"}),
        await intake_client.post(
            f"/v1/track/{number}/feedback", json={"phone_last4": "1234", "resolved": True, "satisfaction": "satisfied"}
        ),
    ):
        assert answer.status_code == 429
        assert answer.headers["content-type"] == PROBLEM
        assert 0 < int(answer.headers["retry-after"]) <= 60


async def test_an_integration_key_is_rate_limited(
    intake_client: Any, setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_setting(monkeypatch, "api_key_rate_per_minute", 3)
    statuses = [(await intake_client.get("/v1/categories", headers=setup["key"])).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
