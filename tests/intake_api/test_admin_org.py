"""Admin API for the org-unit tree, departments, teams and members, with scope enforced."""

from tests.factories import bearer, make_city_admin, make_small_city, make_staff, square


async def test_admin_creates_a_community_under_a_street(session, intake_client):
    _, auth = await make_city_admin(session)
    body = {"code": "330203001777", "name": "新河社区", "level": "community", "parent_code": "330203001"}
    r = await intake_client.post("/v1/admin/org-units", json=body, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["path"] == "/3302/330203/330203001/330203001777/"
    assert r.json()["version"] == 1
    r = await intake_client.get("/v1/admin/org-units/330203001777", headers=auth)
    assert r.json()["parent_code"] == "330203001"


async def test_child_level_must_follow_parent_level(session, intake_client):
    _, auth = await make_city_admin(session)
    body = {"code": "X1", "name": "错层", "level": "grid", "parent_code": "330203001", "geometry": square(121.5, 29.8)}
    r = await intake_client.post("/v1/admin/org-units", json=body, headers=auth)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "level"


async def test_grid_without_polygon_is_refused(session, intake_client):
    _, auth = await make_city_admin(session)
    body = {"code": "330203001001009", "name": "第9网格", "level": "grid", "parent_code": "330203001001"}
    r = await intake_client.post("/v1/admin/org-units", json=body, headers=auth)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "geometry"


async def test_self_intersecting_polygon_is_refused_with_reason(session, intake_client):
    _, auth = await make_city_admin(session)
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[121.5, 29.8], [121.6, 29.9], [121.6, 29.8], [121.5, 29.9], [121.5, 29.8]]],
    }
    body = {
        "code": "330203001001009",
        "name": "第9网格",
        "level": "grid",
        "parent_code": "330203001001",
        "geometry": bowtie,
    }
    r = await intake_client.post("/v1/admin/org-units", json=body, headers=auth)
    assert r.status_code == 422
    assert "Self-intersection" in r.json()["detail"]


async def test_unclosed_ring_is_a_validation_error_naming_geometry(session, intake_client):
    _, auth = await make_city_admin(session)
    open_ring = {"type": "Polygon", "coordinates": [[[121.5, 29.8], [121.6, 29.8], [121.6, 29.9], [121.5, 29.9]]]}
    body = {"code": "G9", "name": "第9网格", "level": "grid", "parent_code": "330203001001", "geometry": open_ring}
    r = await intake_client.post("/v1/admin/org-units", json=body, headers=auth)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "geometry"


async def test_duplicate_code_is_a_conflict(session, intake_client):
    _, auth = await make_city_admin(session)
    body = {"code": "330203001", "name": "重复", "level": "street", "parent_code": "330203"}
    r = await intake_client.post("/v1/admin/org-units", json=body, headers=auth)
    assert r.status_code == 409
    assert r.json()["errors"][0]["field"] == "code"


async def test_update_needs_the_current_version(session, intake_client):
    _, auth = await make_city_admin(session)
    url = "/v1/admin/org-units/330203001"
    r = await intake_client.patch(url, json={"name": "南门街道"}, headers=auth)
    assert r.status_code == 428
    r = await intake_client.patch(url, json={"name": "南门街道", "version": 7}, headers=auth)
    assert r.status_code == 409
    r = await intake_client.patch(url, json={"name": "南门街道"}, headers={**auth, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "南门街道"
    assert r.json()["version"] == 2
    r = await intake_client.patch(url, json={"name": "又改", "version": 1}, headers=auth)
    assert r.status_code == 409


async def test_unit_with_children_cannot_be_deleted(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.delete("/v1/admin/org-units/330203001", headers=auth)
    assert r.status_code == 409
    r = await intake_client.delete("/v1/admin/org-units/330203001001001", headers=auth)
    assert r.status_code == 204
    r = await intake_client.get("/v1/admin/org-units/330203001001001", headers=auth)
    assert r.status_code == 404


async def test_listing_pages_with_a_cursor(session, intake_client):
    _, auth = await make_city_admin(session)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        r = await intake_client.get("/v1/admin/org-units", params=params, headers=auth)
        assert r.status_code == 200
        seen += [u["code"] for u in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 12  # 1 city, 2 districts, 3 streets, 3 communities, 3 grids
    r = await intake_client.get("/v1/admin/org-units", params={"cursor": "garbage!"}, headers=auth)
    assert r.status_code == 422


async def test_listing_filters_by_level_and_parent(session, intake_client):
    _, auth = await make_city_admin(session)
    r = await intake_client.get("/v1/admin/org-units", params={"level": "street"}, headers=auth)
    assert {u["code"] for u in r.json()["items"]} == {"330203001", "330203002", "330205001"}
    r = await intake_client.get("/v1/admin/org-units", params={"parent_code": "330203"}, headers=auth)
    assert {u["code"] for u in r.json()["items"]} == {"330203001", "330203002"}


async def test_street_admin_sees_only_its_street(session, intake_client):
    units = await make_small_city(session)
    street_admin = await make_staff(session, "street_admin", "admin", units["330203001"])
    await session.commit()
    auth = bearer(street_admin)
    r = await intake_client.get("/v1/admin/org-units", headers=auth)
    assert {u["code"] for u in r.json()["items"]} == {"330203001", "330203001001", "330203001001001"}
    # Another street's objects answer as if absent, on read and on write.
    assert (await intake_client.get("/v1/admin/org-units/330203002", headers=auth)).status_code == 404
    r = await intake_client.patch("/v1/admin/org-units/330203002", json={"name": "x", "version": 1}, headers=auth)
    assert r.status_code == 404
    body = {"code": "C2", "name": "越权", "level": "community", "parent_code": "330203002"}
    assert (await intake_client.post("/v1/admin/org-units", json=body, headers=auth)).status_code == 404


async def test_staff_of_one_street_cannot_read_another_streets_unit(session, intake_client):
    units = await make_small_city(session)
    handler = await make_staff(session, "handler_a", "handler", units["330203001"])
    await session.commit()
    auth = bearer(handler)
    assert (await intake_client.get("/v1/org-units/330203001001", headers=auth)).status_code == 200
    assert (await intake_client.get("/v1/org-units/330203002001", headers=auth)).status_code == 404
    assert (await intake_client.get("/v1/org-units/330203", headers=auth)).status_code == 404


async def test_departments_teams_and_members(session, intake_client):
    units, auth = await make_city_admin(session)
    await make_staff(session, "gw1", "handler", units["330203001001001"])
    await make_staff(session, "dept1", "handler", units["3302"])
    await session.commit()
    r = await intake_client.post(
        "/v1/admin/departments", json={"code": "HB", "name": "市生态环境局", "scope_code": "3302"}, headers=auth
    )
    assert r.status_code == 201, r.text
    r = await intake_client.post(
        "/v1/admin/departments", json={"code": "X", "name": "街道局", "scope_code": "330203001"}, headers=auth
    )
    assert r.status_code == 422
    r = await intake_client.post(
        "/v1/admin/teams", json={"grid_code": "330203001001001", "name": "第1网格服务团队"}, headers=auth
    )
    assert r.status_code == 201, r.text
    team_id = r.json()["id"]
    r = await intake_client.post("/v1/admin/teams", json={"grid_code": "330203001001001", "name": "重复"}, headers=auth)
    assert r.status_code == 409
    r = await intake_client.post(
        f"/v1/admin/teams/{team_id}/members", json={"username": "gw1", "team_role": "grid_worker"}, headers=auth
    )
    assert r.status_code == 201, r.text
    member = r.json()
    assert member["on_duty"] is True
    r = await intake_client.post(
        f"/v1/admin/teams/{team_id}/members", json={"username": "gw1", "team_role": "volunteer"}, headers=auth
    )
    assert r.status_code == 409
    r = await intake_client.patch(
        f"/v1/admin/members/{member['id']}", json={"on_duty": False, "version": 1}, headers=auth
    )
    assert r.status_code == 200 and r.json()["on_duty"] is False
    r = await intake_client.get(f"/v1/admin/teams/{team_id}", headers=auth)
    assert [m["username"] for m in r.json()["members"]] == ["gw1"]
    r = await intake_client.post(
        "/v1/admin/departments/HB/members", json={"username": "dept1", "team_role": "department_staff"}, headers=auth
    )
    assert r.status_code == 201, r.text
    r = await intake_client.get("/v1/admin/departments/HB/members", headers=auth)
    assert [m["username"] for m in r.json()] == ["dept1"]


async def test_team_of_another_street_is_out_of_scope(session, intake_client):
    units = await make_small_city(session)
    city_admin = await make_staff(session, "city_admin", "admin", units["3302"])
    street_admin = await make_staff(session, "street_admin", "admin", units["330203001"])
    await session.commit()
    r = await intake_client.post(
        "/v1/admin/teams", json={"grid_code": "330205001001001", "name": "江北团队"}, headers=bearer(city_admin)
    )
    team_id = r.json()["id"]
    assert (await intake_client.get(f"/v1/admin/teams/{team_id}", headers=bearer(street_admin))).status_code == 404
    r = await intake_client.get("/v1/admin/teams", headers=bearer(street_admin))
    assert r.json()["items"] == []
