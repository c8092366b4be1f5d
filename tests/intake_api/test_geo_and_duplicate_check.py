"""The org-unit boundaries as GeoJSON (`GET /v1/geo/units`, public, for the console's maps) and the duplicate
check before submitting (`POST /v1/requests/duplicate-check`, the intake form's warning)."""

from shapely.geometry import shape
from sqlalchemy import func, select

from services.models import Request
from tests.factories import at_grid, bearer, make_staff
from tests.kit import count_rows, create_request, problem


async def test_boundaries_of_every_level_without_login(intake_client, setup):
    grids = await intake_client.get("/v1/geo/units", params={"level": "grid"})
    assert grids.status_code == 200, grids.text
    assert grids.headers["content-type"].startswith("application/geo+json")
    assert grids.headers["cache-control"] == "public, max-age=300"
    body = grids.json()
    assert body["type"] == "FeatureCollection"
    assert sorted(f["id"] for f in body["features"]) == ["330203001001001", "330203002001001", "330205001001001"]
    assert {f["properties"]["parent_code"] for f in body["features"]} == {
        "330203001001",
        "330203002001",
        "330205001001",
    }

    districts = (await intake_client.get("/v1/geo/units", params={"level": "district"})).json()["features"]
    assert [f["properties"]["code"] for f in districts] == ["330203", "330205"]
    # A district is the union of its grids: 海曙 (330203) holds two 0.01° squares side by side with a gap,
    # so its area is theirs together.
    haishu = shape(districts[0]["geometry"])
    assert abs(haishu.area - 2 * 0.01 * 0.01) < 1e-9
    assert districts[0]["properties"] == {
        "code": "330203",
        "name": districts[0]["properties"]["name"],
        "name_en": districts[0]["properties"]["name_en"],
        "level": "district",
        "parent_code": "3302",
    }


async def test_boundaries_under_a_parent_and_errors(intake_client, setup):
    streets = await intake_client.get("/v1/geo/units", params={"level": "street", "parent_code": "330203"})
    assert [f["id"] for f in streets.json()["features"]] == ["330203001", "330203002"]
    # The parent must lie above the level asked for, and exist.
    below = await intake_client.get("/v1/geo/units", params={"level": "street", "parent_code": "330203001"})
    problem(below, 404)
    problem(await intake_client.get("/v1/geo/units", params={"level": "street", "parent_code": "999999"}), 404)
    problem(await intake_client.get("/v1/geo/units", params={"level": "planet"}), 422)


async def test_duplicate_check_finds_what_intake_would_link_and_creates_nothing(intake_client, session, setup):
    first = await create_request(intake_client, setup["key"], at_grid(0, description="工地夜间施工噪声很大"))
    clerk = await make_staff(session, "clerk_dup", "clerk", setup["units"]["3302"])
    await session.commit()
    before = await count_rows(session, Request)
    same_place = at_grid(0, channel="window", description="晚上工地噪声扰民", citizen={"name": "李四"})
    answer = await intake_client.post("/v1/requests/duplicate-check", json=same_place, headers=bearer(clerk))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["duplicate_of"] == {"id": first["id"], "tracking_no": first["tracking_no"]}
    assert [c["tracking_no"] for c in found["candidates"]] == [first["tracking_no"]]
    assert found["candidates"][0]["description"] == "工地夜间施工噪声很大"
    assert found["candidates"][0]["status"] == "received"
    # Nothing was written, and no request id was taken from the sequence.
    assert await count_rows(session, Request) == before
    created = await create_request(intake_client, bearer(clerk), same_place)
    assert created["id"] == first["id"] + 1
    assert created["duplicate_of"] == {"id": first["id"], "tracking_no": first["tracking_no"]}


async def test_duplicate_check_elsewhere_or_another_category_finds_nothing(intake_client, session, setup):
    await create_request(intake_client, setup["key"], at_grid(0))
    clerk = await make_staff(session, "clerk_dup2", "clerk", setup["units"]["3302"])
    await session.commit()
    # Far away, from another caller (the same phone with the same words would be the same-phone rule's match).
    elsewhere = at_grid(2, channel="window", citizen={"name": "李四", "phone": "13900009999"})
    far = await intake_client.post("/v1/requests/duplicate-check", json=elsewhere, headers=bearer(clerk))
    assert far.json() == {"duplicate_of": None, "candidates": []}
    other = at_grid(0, channel="window", category="utilities", description="停水了", citizen={"phone": "13900009999"})
    assert (await intake_client.post("/v1/requests/duplicate-check", json=other, headers=bearer(clerk))).json()[
        "candidates"
    ] == []


async def test_duplicate_check_needs_the_right_to_create_and_shows_only_the_callers_scope(
    intake_client, session, setup
):
    first = await create_request(intake_client, setup["key"], at_grid(0))
    body = at_grid(0, channel="window")
    problem(await intake_client.post("/v1/requests/duplicate-check", json=body), 401)
    auditor = await make_staff(session, "auditor_dup", "auditor", setup["units"]["3302"])
    # A clerk of the other district sees no candidate there (objects outside scope are absent) — and may
    # not name a place outside its scope at all.
    clerk_330205 = await make_staff(session, "clerk_330205", "clerk", setup["units"]["330205"])
    await session.commit()
    problem(await intake_client.post("/v1/requests/duplicate-check", json=body, headers=bearer(auditor)), 403)
    outside = await intake_client.post("/v1/requests/duplicate-check", json=body, headers=bearer(clerk_330205))
    assert outside.status_code == 200, outside.text
    assert outside.json() == {"duplicate_of": None, "candidates": []}
    assert await count_rows(session, Request) == 1
    assert (await session.scalar(select(func.max(Request.id)))) == first["id"]
