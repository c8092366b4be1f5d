"""Bulk grid import: 10,000 grids in one call, all or nothing, bad features named."""

from typing import Any

from sqlalchemy import func, select

from services.models import OrgUnit
from tests.factories import bearer, make_city_admin, make_small_city, make_staff, square

COMMUNITIES = ("330203001001", "330203002001", "330205001001")


def feature(code: str, parent: str, lon: float, lat: float, **props) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": f"网格{code}", "parent_code": parent, **props},
        "geometry": square(lon, lat, 0.001),
    }


def collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


async def _setup(session):
    _, auth = await make_city_admin(session)
    return auth


async def _grid_count(session) -> int:
    count = await session.scalar(select(func.count()).select_from(OrgUnit).where(OrgUnit.level == "grid"))
    return int(count)


async def test_ten_thousand_grids_import_in_one_call(session, intake_client):
    auth = await _setup(session)
    features = [
        feature(f"G{i:05d}", COMMUNITIES[i % 3], 121.2 + (i % 100) * 0.001, 29.6 + (i // 100) * 0.001)
        for i in range(10_000)
    ]
    r = await intake_client.post("/v1/admin/grids/import", json=collection(features), headers=auth, timeout=120)
    assert r.status_code == 200, r.text[:500]
    assert r.json() == {"created": 10_000, "updated": 0}
    assert await _grid_count(session) == 10_003
    r = await intake_client.get("/v1/admin/org-units/G04242", headers=auth)
    assert r.json()["parent_code"] == COMMUNITIES[4242 % 3]
    assert r.json()["path"].endswith("/G04242/")


async def test_reimport_replaces_existing_grids(session, intake_client):
    auth = await _setup(session)
    first = [feature("G1", COMMUNITIES[0], 121.3, 29.7)]
    assert (await intake_client.post("/v1/admin/grids/import", json=collection(first), headers=auth)).status_code == 200
    again = [feature("G1", COMMUNITIES[0], 121.4, 29.7, name="改名网格"), feature("G2", COMMUNITIES[0], 121.5, 29.7)]
    r = await intake_client.post("/v1/admin/grids/import", json=collection(again), headers=auth)
    assert r.json() == {"created": 1, "updated": 1}
    r = await intake_client.get("/v1/admin/org-units/G1", headers=auth)
    assert r.json()["name"] == "改名网格"
    assert r.json()["geometry"]["coordinates"][0][0] == [121.4, 29.7]
    assert r.json()["version"] == 2


async def test_bad_geometry_names_the_feature_and_imports_nothing(session, intake_client):
    auth = await _setup(session)
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[121.5, 29.8], [121.6, 29.9], [121.6, 29.8], [121.5, 29.9], [121.5, 29.8]]],
    }
    features = [feature(f"G{i}", COMMUNITIES[0], 121.3 + i * 0.01, 29.7) for i in range(5)]
    features[3]["geometry"] = bowtie
    r = await intake_client.post("/v1/admin/grids/import", json=collection(features), headers=auth)
    assert r.status_code == 422
    error = r.json()["errors"][0]
    assert error["loc"] == ["features", 3, "geometry"]
    assert "'G3'" in error["msg"] and "Self-intersection" in error["msg"]
    assert await _grid_count(session) == 3


async def test_unknown_parent_names_the_feature_and_imports_nothing(session, intake_client):
    auth = await _setup(session)
    features = [feature("G1", COMMUNITIES[0], 121.3, 29.7), feature("G2", "999999", 121.4, 29.7)]
    r = await intake_client.post("/v1/admin/grids/import", json=collection(features), headers=auth)
    assert r.status_code == 422
    error = r.json()["errors"][0]
    assert error["loc"] == ["features", 1, "properties", "parent_code"]
    assert "'G2'" in error["msg"] and "unknown parent" in error["msg"]
    assert await _grid_count(session) == 3


async def test_parent_must_be_a_community(session, intake_client):
    auth = await _setup(session)
    r = await intake_client.post(
        "/v1/admin/grids/import", json=collection([feature("G1", "330203001", 121.3, 29.7)]), headers=auth
    )
    assert r.status_code == 422
    assert "not a community" in r.json()["errors"][0]["msg"]


async def test_duplicate_code_in_the_file_names_both_features(session, intake_client):
    auth = await _setup(session)
    features = [feature("G1", COMMUNITIES[0], 121.3, 29.7), feature("G1", COMMUNITIES[1], 121.4, 29.7)]
    r = await intake_client.post("/v1/admin/grids/import", json=collection(features), headers=auth)
    assert r.status_code == 422
    error = r.json()["errors"][0]
    assert error["loc"] == ["features", 1, "properties", "code"]
    assert "duplicate of feature 0" in error["msg"]
    assert await _grid_count(session) == 3


async def test_code_of_a_non_grid_unit_is_refused(session, intake_client):
    auth = await _setup(session)
    r = await intake_client.post(
        "/v1/admin/grids/import", json=collection([feature("330203", COMMUNITIES[0], 121.3, 29.7)]), headers=auth
    )
    assert r.status_code == 422
    assert "already used" in r.json()["errors"][0]["msg"]


async def test_malformed_feature_is_a_validation_error_with_its_path(session, intake_client):
    auth = await _setup(session)
    bad = feature("G1", COMMUNITIES[0], 121.3, 29.7)
    bad["geometry"]["coordinates"] = [[[121.3, 95.0], [121.4, 29.7], [121.4, 29.8], [121.3, 95.0]]]
    r = await intake_client.post("/v1/admin/grids/import", json=collection([bad]), headers=auth)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"][:4] == ["body", "features", 0, "geometry"]


async def test_street_admin_cannot_import_into_another_street(session, intake_client):
    units = await make_small_city(session)
    street_admin = await make_staff(session, "street_admin", "admin", units["330203001"])
    await session.commit()
    r = await intake_client.post(
        "/v1/admin/grids/import",
        json=collection([feature("G1", "330205001001", 121.3, 29.7)]),
        headers=bearer(street_admin),
    )
    assert r.status_code == 422
    assert "unknown parent" in r.json()["errors"][0]["msg"]


async def test_other_endpoints_keep_a_small_body_limit(session, intake_client):
    auth = await _setup(session)
    big = {"code": "X", "name": "x" * 2_000_000, "level": "street", "parent_code": "330203"}
    r = await intake_client.post("/v1/admin/org-units", json=big, headers=auth)
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
