"""Appeals (申诉/核减): filed by the handling unit's staff, decided by a supervisor in scope, applied by runs
whose as_of is after the decision."""

from datetime import UTC, datetime

from tests.factories import bearer
from tests.services.scoring.helpers import PERIOD, A, B, small_fixture_with_people


async def setup(session):
    return await small_fixture_with_people(session, "supervisor", "district")


def appeal_body(request_id, grid=A, reason="not_responsible"):
    return {
        "request_id": request_id,
        "unit": {"kind": "grid_team", "code": grid},
        "reason": reason,
        "explanation": "物业合同纠纷，非网格职责。",
    }


async def test_an_approved_appeal_removes_the_request_from_the_unit(session, scoring_client):
    s, people, facts = await setup(session)
    r4 = facts["r4"].id
    a2 = bearer(s["handlers"][A][1])
    filed = await scoring_client.post("/v1/scores/appeals", json=appeal_body(r4), headers=a2)
    assert filed.status_code == 201, filed.text
    appeal = filed.json()
    assert (appeal["status"], appeal["unit"]["code"], appeal["version"]) == ("pending", A, 1)
    again = await scoring_client.post("/v1/scores/appeals", json=appeal_body(r4), headers=a2)
    assert again.status_code == 409
    supervisor = bearer(people["supervisor"])
    listed = await scoring_client.get("/v1/scores/appeals", params={"status": "pending"}, headers=supervisor)
    assert [item["id"] for item in listed.json()["items"]] == [appeal["id"]]
    stale = await scoring_client.post(
        f"/v1/scores/appeals/{appeal['id']}/decision", json={"decision": "approved", "version": 7}, headers=supervisor
    )
    assert stale.status_code == 409
    unversioned = await scoring_client.post(
        f"/v1/scores/appeals/{appeal['id']}/decision", json={"decision": "approved"}, headers=supervisor
    )
    assert unversioned.status_code == 428
    decided = await scoring_client.post(
        f"/v1/scores/appeals/{appeal['id']}/decision",
        json={"decision": "approved", "note": "核实属实"},
        headers={**supervisor, "If-Match": "1"},
    )
    assert decided.status_code == 200, decided.text
    assert (decided.json()["status"], decided.json()["version"]) == ("approved", 2)
    twice = await scoring_client.post(
        f"/v1/scores/appeals/{appeal['id']}/decision", json={"decision": "rejected", "version": 2}, headers=supervisor
    )
    assert twice.status_code == 409

    # A run as of now (after the decision): R4 leaves grid A's figures and shows in its breakdown.
    run = await scoring_client.post(
        "/v1/scores/runs", json={"period": PERIOD, "as_of": datetime.now(UTC).isoformat()}, headers=supervisor
    )
    assert run.status_code == 201, run.text
    detail = await scoring_client.get(f"/v1/scores/units/{A}", params={"period": PERIOD}, headers=supervisor)
    body = detail.json()
    assert body["breakdown"]["appeals"] == {"approved": 1, "request_ids": [r4]}
    assert body["counts"]["response_due"] == 3  # R1, R2, R3 (R4 removed)
    assert body["counts"]["dispatched"] == 3


async def test_who_may_appeal_and_decide(session, scoring_client):
    s, people, facts = await setup(session)
    r4 = facts["r4"].id
    # A handler of grid B may not appeal for grid A's team (outside its scope: 404).
    other = await scoring_client.post("/v1/scores/appeals", json=appeal_body(r4), headers=bearer(s["handlers"][B][0]))
    assert other.status_code == 404
    # Grid A's handler cannot appeal a request never dispatched to grid A (R5 went to team B).
    r5_like = await scoring_client.post(
        "/v1/scores/appeals", json=appeal_body(r4 + 1), headers=bearer(s["handlers"][A][0])
    )
    assert r5_like.status_code == 422
    assert r5_like.json()["errors"][0]["field"] == "request_id"
    # A dispatcher in scope who is not a member of the team may not file for it.
    dispatcher = await scoring_client.post("/v1/scores/appeals", json=appeal_body(r4), headers=bearer(s["dispatcher"]))
    assert dispatcher.status_code == 403
    filed = await scoring_client.post("/v1/scores/appeals", json=appeal_body(r4), headers=bearer(s["handlers"][A][0]))
    appeal_id = filed.json()["id"]
    # A supervisor of another district does not see it; a handler may not decide.
    outside = await scoring_client.post(
        f"/v1/scores/appeals/{appeal_id}/decision",
        json={"decision": "approved", "version": 1},
        headers=bearer(people["district"]),
    )
    assert outside.status_code == 404
    handler = await scoring_client.post(
        f"/v1/scores/appeals/{appeal_id}/decision",
        json={"decision": "approved", "version": 1},
        headers=bearer(s["handlers"][A][1]),
    )
    assert handler.status_code == 403
    bad = await scoring_client.post(
        "/v1/scores/appeals", json={**appeal_body(r4), "reason": "bored"}, headers=bearer(s["handlers"][A][0])
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason"
