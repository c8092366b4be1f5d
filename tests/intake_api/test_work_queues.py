"""The handler's and dispatcher's work queues: `assigned_to=me`, `queue=my_units`, sorting by due date,
counts per status, and the citizen's comment shown to staff after a reopen."""

from datetime import UTC, datetime, timedelta

from tests.factories import at_grid, bearer, make_request
from tests.kit import accept_and_resolve, problem, routed_to_handler

GRID0 = "330203001001001"


async def test_assigned_to_me_lists_only_my_requests(session, intake_client, setup):
    mine, auth = await routed_to_handler(intake_client, session, setup, at_grid(0))
    other_body = at_grid(2, description="小区路灯不亮", citizen={"name": "李四", "phone": "13900005678"})
    other, _ = await routed_to_handler(intake_client, session, setup, other_body)
    r = await intake_client.get("/v1/requests", params={"assigned_to": "me"}, headers=auth)
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["items"]] == [mine.id]
    assert other.handler_id not in (None, mine.handler_id)


async def test_my_units_is_the_unclaimed_queue_of_my_team(session, intake_client, setup):
    team = setup["teams"][GRID0]
    first, second = setup["handlers"][GRID0]
    grid = setup["units"][GRID0]
    queued = await make_request(session, unit=grid, status="assigned", lead_team_id=team.id)
    await make_request(session, unit=grid, status="assigned", lead_team_id=team.id, handler_id=second.id)
    await make_request(session, unit=grid, status="resolved", lead_team_id=team.id)  # waits on the citizen
    other_team = setup["teams"]["330205001001001"]
    await make_request(session, unit=setup["units"]["330205001001001"], status="assigned", lead_team_id=other_team.id)
    await session.commit()

    r = await intake_client.get("/v1/requests", params={"queue": "my_units"}, headers=bearer(first))
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["items"]] == [queued.id]

    # Claiming it takes it out of the queue and into "mine".
    claimed = await intake_client.post(f"/v1/requests/{queued.id}/accept", json={}, headers=bearer(first))
    assert claimed.status_code == 200, claimed.text
    assert (await intake_client.get("/v1/requests", params={"queue": "my_units"}, headers=bearer(first))).json()[
        "items"
    ] == []
    mine = await intake_client.get("/v1/requests", params={"assigned_to": "me"}, headers=bearer(first))
    assert [i["id"] for i in mine.json()["items"]] == [queued.id]


async def test_sort_by_due_puts_the_nearest_deadline_first_and_pages(session, intake_client, setup):
    grid = setup["units"][GRID0]
    now = datetime.now(UTC)
    # Response deadlines apply until accepted, then resolution deadlines.
    late = await make_request(session, unit=grid, status="assigned", respond_by=now + timedelta(hours=9))
    soon = await make_request(session, unit=grid, status="assigned", respond_by=now + timedelta(hours=1))
    accepted = await make_request(
        session,
        unit=grid,
        status="accepted",
        respond_by=now - timedelta(hours=5),
        resolve_by=now + timedelta(hours=3),
    )
    overdue = await make_request(session, unit=grid, status="assigned", respond_by=now - timedelta(hours=2))
    await session.commit()
    headers = bearer(setup["dispatcher"])

    seen: list[int] = []
    cursor = None
    for _ in range(3):
        params = {"sort": "due", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await intake_client.get("/v1/requests", params=params, headers=headers)
        assert page.status_code == 200, page.text
        seen += [i["id"] for i in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [overdue.id, soon.id, accepted.id, late.id]

    oldest = await intake_client.get("/v1/requests", params={"sort": "received"}, headers=headers)
    assert [i["id"] for i in oldest.json()["items"]] == sorted(seen)
    newest = await intake_client.get("/v1/requests", headers=headers)
    assert [i["id"] for i in newest.json()["items"]] == sorted(seen, reverse=True)

    bad = problem(
        await intake_client.get("/v1/requests", params={"sort": "due", "cursor": "nope"}, headers=headers), 422
    )
    assert bad["errors"][0]["loc"] == ["query", "cursor"]


async def test_counts_per_status_and_sla_state_follow_the_filters(session, intake_client, setup):
    grid = setup["units"][GRID0]
    for status, sla_state in (("assigned", "ok"), ("assigned", "warning"), ("accepted", "overdue"), ("closed", "ok")):
        await make_request(session, unit=grid, status=status, sla_state=sla_state)
    await make_request(session, unit=setup["units"]["330205001001001"], status="assigned")
    await session.commit()

    city = await intake_client.get("/v1/requests/counts", headers=bearer(setup["dispatcher"]))
    assert city.status_code == 200, city.text
    assert city.json() == {
        "total": 5,
        "by_status": {"assigned": 3, "accepted": 1, "closed": 1},
        "by_sla_state": {"ok": 3, "warning": 1, "overdue": 1},
    }
    district = await intake_client.get(
        "/v1/requests/counts", params={"status": "assigned"}, headers=bearer(setup["district_dispatcher"])
    )
    assert district.json() == {"total": 1, "by_status": {"assigned": 1}, "by_sla_state": {"ok": 1}}


async def test_queues_are_for_staff(intake_client, setup):
    answer = problem(await intake_client.get("/v1/requests", params={"assigned_to": "me"}, headers=setup["key"]), 422)
    assert answer["errors"][0]["loc"] == ["query", "assigned_to"]


async def test_the_citizens_comment_reaches_the_handler_after_a_reopen(session, intake_client, setup):
    request, auth = await routed_to_handler(intake_client, session, setup, at_grid(0))
    await accept_and_resolve(intake_client, request, auth)
    r = await intake_client.post(
        f"/v1/requests/{request.id}/feedback",
        json={"resolved": False, "satisfaction": "dissatisfied", "comment": "噪声夜里还在"},
        headers=setup["key"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["reopened"] is True

    seen = (await intake_client.get(f"/v1/requests/{request.id}", headers=auth)).json()
    assert seen["status"] == "assigned"
    assert [(f["resolution_no"], f["satisfaction"], f["comment"]) for f in seen["feedback"]] == [
        (1, "dissatisfied", "噪声夜里还在")
    ]
    listed = (await intake_client.get("/v1/requests", params={"assigned_to": "me"}, headers=auth)).json()
    assert listed["items"][0]["feedback"][0]["comment"] == "噪声夜里还在"
    # The integration reads its request without the evaluations.
    assert (await intake_client.get(f"/v1/requests/{request.id}", headers=setup["key"])).json()["feedback"] == []
