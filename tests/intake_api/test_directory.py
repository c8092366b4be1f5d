"""The staff directory: teams and departments in scope, members with staff ids, duty and open load."""

from tests.factories import bearer, make_handling_setup, make_request, make_staff
from tests.kit import problem


async def _setup(session):
    setup = await make_handling_setup(session)
    await session.commit()
    return setup


async def test_teams_in_scope_list_members_with_staff_ids_duty_and_open_load(session, intake_client):
    setup = await _setup(session)
    grid = setup["units"]["330203001001001"]
    team = setup["teams"]["330203001001001"]
    first, second = setup["handlers"]["330203001001001"]
    # Two requests held by the first handler, one in the team queue, one resolved (not held).
    for status, handler in (("accepted", first.id), ("assigned", first.id), ("assigned", None), ("resolved", first.id)):
        await make_request(session, unit=grid, status=status, lead_team_id=team.id, handler_id=handler)
    await session.commit()

    r = await intake_client.get("/v1/directory/teams", headers=bearer(setup["dispatcher"]))
    assert r.status_code == 200, r.text
    teams = {t["id"]: t for t in r.json()["items"]}
    assert set(teams) == {t.id for t in setup["teams"].values()}
    entry = teams[team.id]
    assert entry["grid_code"] == "330203001001001"
    assert entry["open_load"] == 3 and entry["queued"] == 1 and entry["on_duty_count"] == 2
    loads = {m["staff_id"]: m["open_load"] for m in entry["members"]}
    assert loads == {first.id: 2, second.id: 0}
    assert all(m["on_duty"] for m in entry["members"])


async def test_a_district_dispatcher_sees_only_its_teams_and_the_departments_serving_it(session, intake_client):
    setup = await _setup(session)
    district = await make_staff(session, "d_330203", "dispatcher", setup["units"]["330203"])
    await session.commit()

    teams = (await intake_client.get("/v1/directory/teams", headers=bearer(district))).json()["items"]
    assert {t["grid_code"] for t in teams} == {"330203001001001", "330203002001001"}
    # The city's environment bureau serves the district too.
    departments = (await intake_client.get("/v1/directory/departments", headers=bearer(district))).json()["items"]
    assert [(d["id"], d["code"]) for d in departments] == [(setup["hb"].id, "HB")]
    assert [m["staff_id"] for m in departments[0]["members"]] == [setup["hb_staff"].id]

    outside = await intake_client.get(
        "/v1/directory/teams", params={"org_unit_code": "330205"}, headers=bearer(district)
    )
    problem(outside, 404)


async def test_teams_filter_by_unit_and_name_and_page(session, intake_client):
    setup = await _setup(session)
    headers = bearer(setup["dispatcher"])
    under = await intake_client.get("/v1/directory/teams", params={"org_unit_code": "330205"}, headers=headers)
    assert [t["grid_code"] for t in under.json()["items"]] == ["330205001001001"]
    named = await intake_client.get("/v1/directory/teams", params={"q": "330203002"}, headers=headers)
    assert [t["grid_code"] for t in named.json()["items"]] == ["330203002001001"]

    first = (await intake_client.get("/v1/directory/teams", params={"limit": 2}, headers=headers)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = await intake_client.get(
        "/v1/directory/teams", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
    )
    ids = [t["id"] for t in first["items"]] + [t["id"] for t in rest.json()["items"]]
    assert sorted(ids) == sorted(t.id for t in setup["teams"].values())


async def test_the_directory_is_for_staff_only(session, intake_client):
    setup = await _setup(session)
    problem(await intake_client.get("/v1/directory/teams"), 401)
    problem(await intake_client.get("/v1/directory/departments", headers=setup["key"]), 403)
    bad = problem(
        await intake_client.get("/v1/directory/teams", params={"limit": 0}, headers=bearer(setup["dispatcher"])), 422
    )
    assert bad["errors"][0]["loc"] == ["query", "limit"]


async def test_a_department_request_counts_in_its_load_and_queue(session, intake_client):
    setup = await _setup(session)
    await make_request(
        session, unit=setup["units"]["330203001001001"], status="accepted", lead_department_id=setup["hb"].id
    )
    await session.commit()
    departments = (await intake_client.get("/v1/directory/departments", headers=bearer(setup["dispatcher"]))).json()[
        "items"
    ]
    assert departments[0]["open_load"] == 1 and departments[0]["queued"] == 1
