"""Duplicate review by staff through the API: unlinking a wrongly merged request routes it as a new one,
linking by hand follows the original (its root), both with a reason in both trails; and the no-coordinates
rule needs similar text, so two different matters in one grid stay apart."""

from services.models import Request
from tests.factories import at_grid, bearer, request_body
from tests.kit import create_request, drain, handler_of, problem, routed_request

GRID0 = "330203001001001"


async def _fresh(session, request_id: int) -> Request:
    return await session.get(Request, request_id, populate_existing=True)


async def _kinds(client, request_id: int, auth) -> list[tuple[str, dict[str, object]]]:
    events = (await client.get(f"/v1/requests/{request_id}/events", headers=auth)).json()["items"]
    return [(e["kind"], e["data"]) for e in events]


async def _original_and_duplicate(client, session, setup) -> tuple[Request, Request]:
    original = await routed_request(client, session, setup, at_grid(0))
    body = at_grid(0, description="工地晚上一直施工很吵", citizen={"phone": "13900005678"})
    body["location"]["lat"] += 0.0002  # about 22 m away: a duplicate by place
    created = await create_request(client, setup["key"], body)
    assert created["duplicate_of"]["id"] == original.id
    await drain()
    return original, await _fresh(session, created["id"])


async def test_unlinking_a_duplicate_routes_it_as_a_new_request(session, intake_client, setup):
    original, duplicate = await _original_and_duplicate(intake_client, session, setup)
    assert (duplicate.status, duplicate.handler_id) == ("duplicate", original.handler_id)
    dispatcher = bearer(setup["dispatcher"])
    base = f"/v1/requests/{duplicate.id}"
    other = next(s for s in setup["handlers"]["330203002001001"])
    problem(await intake_client.post(f"{base}/unlink-duplicate", json={"reason": "x"}, headers=bearer(other)), 404)
    problem(await intake_client.post(f"{base}/unlink-duplicate", json={}, headers=dispatcher), 422)
    problem(
        await intake_client.post(
            f"{base}/unlink-duplicate",
            json={"reason": "x"},
            headers={**dispatcher, "If-Match": str(duplicate.version - 1)},
        ),
        409,
    )
    r = await intake_client.post(
        f"{base}/unlink-duplicate", json={"reason": "两处不同工地，并非同一问题"}, headers=dispatcher
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["duplicate_of"]) == ("received", None)
    await drain()
    duplicate = await _fresh(session, duplicate.id)
    assert duplicate.status == "assigned" and duplicate.duplicate_of_id is None and duplicate.routing_no == 2
    assert ("duplicate_unlinked", {"original": original.id, "version": duplicate.version - 1}) in await _kinds(
        intake_client, duplicate.id, dispatcher
    )
    on_original = [d for k, d in await _kinds(intake_client, original.id, dispatcher) if k == "duplicate_unlinked"]
    assert on_original[0]["duplicate"] == duplicate.id
    # It is no duplicate any more: unlinking again is an illegal transition.
    problem(await intake_client.post(f"{base}/unlink-duplicate", json={"reason": "x"}, headers=dispatcher), 409)


async def test_the_originals_handler_may_unlink(session, intake_client, setup):
    original, duplicate = await _original_and_duplicate(intake_client, session, setup)
    handler = handler_of(setup, original)
    colleague = next(s for s in setup["handlers"][GRID0] if s.id != handler.id)
    base = f"/v1/requests/{duplicate.id}"
    problem(await intake_client.post(f"{base}/unlink-duplicate", json={"reason": "x"}, headers=bearer(colleague)), 403)
    r = await intake_client.post(f"{base}/unlink-duplicate", json={"reason": "并非同一事项"}, headers=bearer(handler))
    assert r.status_code == 200, r.text


async def test_staff_link_two_requests_by_hand_to_the_root_original(session, intake_client, setup):
    original, duplicate = await _original_and_duplicate(intake_client, session, setup)
    third = await routed_request(
        intake_client,
        session,
        setup,
        at_grid(1, description="同一工地噪声，邻居也在投诉", citizen={"phone": "13700001111"}),
    )
    dispatcher = bearer(setup["dispatcher"])
    base = f"/v1/requests/{third.id}"
    problem(
        await intake_client.post(
            f"{base}/link-duplicate", json={"original_id": third.id, "reason": "x"}, headers=dispatcher
        ),
        422,
    )
    problem(
        await intake_client.post(
            f"{base}/link-duplicate", json={"original_id": 999999, "reason": "x"}, headers=dispatcher
        ),
        422,
    )
    # Named the duplicate: linked to its root original instead (no chains).
    r = await intake_client.post(
        f"{base}/link-duplicate", json={"original_id": duplicate.id, "reason": "同一工地同一问题"}, headers=dispatcher
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["status"], answer["duplicate_of"]) == ("duplicate", original.id)
    assert answer["handling"]["handler_id"] == original.handler_id
    third = await _fresh(session, third.id)
    assert third.lead_team_id == original.lead_team_id
    linked = [d for k, d in await _kinds(intake_client, third.id, dispatcher) if k == "duplicate_linked"]
    assert linked[0]["original"] == original.id and linked[0]["named"] == duplicate.id
    on_original = [d for k, d in await _kinds(intake_client, original.id, dispatcher) if k == "duplicate_linked"]
    assert on_original[0]["duplicate"] == third.id
    # The original cannot become a duplicate of its own duplicate.
    problem(
        await intake_client.post(
            f"/v1/requests/{original.id}/link-duplicate",
            json={"original_id": third.id, "reason": "x"},
            headers=dispatcher,
        ),
        409,
    )
    # A handler links only within what they see: another district's original is unknown to them.
    fourth = await routed_request(intake_client, session, setup, at_grid(2, citizen={"phone": "13700002222"}))
    problem(
        await intake_client.post(
            f"/v1/requests/{fourth.id}/link-duplicate",
            json={"original_id": original.id, "reason": "x"},
            headers=bearer(handler_of(setup, fourth)),
        ),
        422,
    )


async def test_without_coordinates_two_different_matters_in_one_unit_stay_apart(session, intake_client, setup):
    unit = {"org_unit_code": GRID0}
    first = await create_request(
        intake_client, setup["key"], request_body(location=unit, description="工地夜间施工噪声扰民，彻夜不停")
    )
    other = await create_request(
        intake_client,
        setup["key"],
        request_body(location=unit, description="广场舞音响声音太大影响休息", citizen={"phone": "13900001111"}),
    )
    assert other["duplicate_of"] is None and other["status"] == "received"
    same = await create_request(
        intake_client,
        setup["key"],
        request_body(location=unit, description="工地夜间施工噪声扰民，彻夜不停！", citizen={"phone": "13900002222"}),
    )
    assert same["duplicate_of"]["id"] == first["id"]
