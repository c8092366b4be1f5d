"""SPEC §7.5 over HTTP: a run, then ordinary work on its requests through the intake API (a return, a
reassignment, a classification, a reopening by a dissatisfied evaluation), then a second run at the same
as_of gives the same results, and verifying the first run matches."""

from datetime import timedelta

from sqlalchemy import select

from services.models import ApiKey, ScoreResult
from tests.factories import bearer
from tests.scoring_service.test_publication import run
from tests.services.scoring.helpers import B, add_request, small_fixture_with_people

H, D = timedelta(hours=1), timedelta(days=1)


async def results_of(session, run_id):
    rows = await session.scalars(select(ScoreResult).where(ScoreResult.run_id == run_id))
    return {(r.level, r.subject_code): (r.rank, r.three_rate_score, r.satisfaction_index, r.figures) for r in rows}


async def test_a_rerun_after_returns_reassignments_classifications_and_reopenings_is_the_same(
    session, intake_client, scoring_client
):
    s, people, facts = await small_fixture_with_people(session, "supervisor", "auditor")
    units, teams, handlers = s["units"], s["teams"], s["handlers"]
    key = await session.scalar(select(ApiKey))
    # Resolved in October, evaluated only after the run: the hotline's follow-up call finds it unresolved.
    late = await add_request(
        session, unit=units[B], team=teams[B], handler=handlers[B][1], accepted_after=H, resolved_after=2 * D
    )
    late.created_by = f"key:{key.id}"
    # Not yet classified in October, waiting for a dispatcher.
    waiting = await add_request(session, unit=units[B], category="unknown", dispatch=True)
    await session.commit()
    first = await run(scoring_client, people["supervisor"])
    assert first["status"] == "done"

    async def act(path, who, body, headers=None):
        answer = await intake_client.post(path, json=body, headers=headers or bearer(who))
        assert answer.status_code == 200, answer.text
        return answer.json()

    r4 = facts["r4"].id
    returned = await act(
        f"/v1/requests/{r4}/return", handlers["330203001001001"][1], {"reason": "not_ours", "note": "不属本网格"}
    )
    assert returned["handling"]["lead_team_id"] != teams["330203001001001"].id, returned
    await act(f"/v1/requests/{r4}/reassign", s["dispatcher"], {"team_id": teams[B].id})
    await act(f"/v1/requests/{waiting.id}/classify", s["dispatcher"], {"category": "utilities"})
    evaluation = await act(
        f"/v1/requests/{late.id}/feedback", None, {"resolved": False, "satisfaction": "dissatisfied"}, s["key"]
    )
    assert evaluation["reopened"] is True

    second = await run(scoring_client, people["supervisor"])
    assert second["as_of"] == first["as_of"] and second["id"] != first["id"]
    assert await results_of(session, second["id"]) == await results_of(session, first["id"])
    verified = await scoring_client.post(f"/v1/scores/runs/{first['id']}/verify", headers=bearer(people["auditor"]))
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["matches"] is True and body["differences"] == [] and body["requests_moved"] == [], body
    # The work did happen: scored as of now, the reopened request counts as evaluated and dissatisfied.
    today = await scoring_client.post(
        "/v1/scores/runs", json={"period": "2026-10"}, headers=bearer(people["supervisor"])
    )
    assert today.status_code == 201, today.text
    assert await results_of(session, today.json()["id"]) != await results_of(session, first["id"])
