"""Times in the city's time zone: a filter time without an offset is local wall-clock time, and every
answer and event gives times as ISO 8601 with the city's offset."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.factories import at_grid, bearer
from tests.kit import drain

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _naive_local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).replace(tzinfo=None).isoformat(timespec="seconds")


async def test_a_filter_time_without_offset_is_read_in_the_city_time_zone(intake_client, setup):
    created = await intake_client.post("/v1/requests", json=at_grid(0), headers=setup["key"])
    assert created.status_code == 201, created.text
    received = datetime.fromisoformat(created.json()["received_at"])
    auth = bearer(setup["dispatcher"])

    async def listed(**params):
        r = await intake_client.get("/v1/requests", params=params, headers=auth)
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    before, after = received - timedelta(minutes=1), received + timedelta(minutes=1)
    # Read as UTC, the local "a minute before" would be 8 hours later and miss the request.
    assert await listed(received_from=_naive_local(before)) == [created.json()["id"]]
    assert await listed(received_from=_naive_local(after)) == []
    assert await listed(received_to=_naive_local(after)) == [created.json()["id"]]
    assert await listed(received_to=_naive_local(before)) == []
    # An explicit offset is taken as given.
    assert await listed(received_from=before.astimezone(ZoneInfo("UTC")).isoformat()) == [created.json()["id"]]


async def test_an_unrepresentable_filter_time_is_a_422_naming_the_field(intake_client, setup):
    r = await intake_client.get(
        "/v1/requests", params={"received_from": "0001-01-01T00:00:00"}, headers=bearer(setup["dispatcher"])
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "received_from" in r.text


async def test_the_openapi_document_says_how_times_without_offset_are_read(intake_client):
    document = (await intake_client.get("/openapi.json")).json()
    params = {p["name"]: p for p in document["paths"]["/v1/requests"]["get"]["parameters"]}
    for name in ("received_from", "received_to"):
        assert "time zone" in params[name]["description"]


async def test_answers_and_event_data_give_times_with_the_city_offset(session, intake_client, setup):
    created = await intake_client.post("/v1/requests", json=at_grid(0), headers=setup["key"])
    request_id = created.json()["id"]
    assert created.json()["received_at"].endswith("+08:00")
    assert created.json()["due"]["resolve_by"].endswith("+08:00")
    await drain()
    dispatcher = bearer(setup["dispatcher"])
    read = (await intake_client.get(f"/v1/requests/{request_id}", headers=dispatcher)).json()
    handler = next(s for group in setup["handlers"].values() for s in group if s.id == read["handling"]["handler_id"])
    auth = bearer(handler)
    base = f"/v1/requests/{request_id}"
    assert (await intake_client.post(f"{base}/accept", json={}, headers=auth)).status_code == 200
    assert (
        await intake_client.post(f"{base}/suspend", json={"reason": "等待市民补充材料"}, headers=auth)
    ).status_code == 200
    assert (await intake_client.post(f"{base}/resume", json={}, headers=auth)).status_code == 200
    events = (await intake_client.get(f"{base}/events", headers=dispatcher)).json()["items"]
    resumed = next(e for e in events if e["kind"] == "resumed")
    assert resumed["occurred_at"].endswith("+08:00")
    assert resumed["data"]["resolve_by"].endswith("+08:00") and resumed["data"]["resolve_by_before"].endswith("+08:00")
