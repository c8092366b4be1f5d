"""Citizen tracking without login: phone digits or token, no PII, one 404 for every miss, rate-limited."""

import pytest

from services.intake.tracking import is_well_formed
from tests.factories import make_api_key, make_catalog, make_small_city, request_body


@pytest.fixture
async def created(session, intake_client):
    await make_small_city(session)
    await make_catalog(session)
    _, key = await make_api_key(session)
    await session.commit()
    r = await intake_client.post("/v1/requests", json=request_body(), headers={"X-API-Key": key})
    return r.json()


async def test_citizen_tracks_with_the_phones_last_four_digits(intake_client, created):
    r = await intake_client.get(f"/v1/track/{created['tracking_no']}", params={"phone_last4": "1234"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "received"
    assert body["category_name"] == "噪声扰民"
    assert body["due"] == created["due"]
    assert "13800001234" not in r.text and "张" not in r.text


async def test_citizen_tracks_with_the_token_and_grouped_number(intake_client, created):
    number = created["tracking_no"]
    grouped = f"{number[:5]} {number[5:10]}-{number[10:]}"
    r = await intake_client.get(f"/v1/track/{grouped}", params={"citizen_token": created["citizen_token"]})
    assert r.status_code == 200


async def test_wrong_digits_unknown_number_and_malformed_number_answer_alike(intake_client, created):
    number = created["tracking_no"]
    other = number[:-2] + ("0" if number[-2] != "0" else "1")
    other += next(d for d in "0123456789" if is_well_formed(other + d))
    answers = [
        await intake_client.get(f"/v1/track/{number}", params={"phone_last4": "0000"}),
        await intake_client.get(f"/v1/track/{other}", params={"phone_last4": "1234"}),
        await intake_client.get("/v1/track/123", params={"phone_last4": "1234"}),
        await intake_client.get(f"/v1/track/{number}"),
        await intake_client.get(f"/v1/track/{number}", params={"citizen_token": "guess"}),
    ]
    assert {a.status_code for a in answers} == {404}
    assert len({a.json()["detail"] for a in answers}) == 1


async def test_tracking_is_rate_limited_per_address(intake_client, created):
    statuses = [
        (await intake_client.get(f"/v1/track/{created['tracking_no']}", params={"phone_last4": "0000"})).status_code
        for _ in range(31)
    ]
    assert statuses[:30] == [404] * 30
    assert statuses[30] == 429
