"""Hand-computed scores on a small fixture: every expected number is worked out in the comments.

The small city (tests.factories.make_handling_setup): city 3302; district 330203 with streets 330203001
(grid A = 330203001001001) and 330203002 (grid B = 330203002001001); district 330205 with street 330205001
(grid C = 330205001001001); a team with two handlers per grid; the city department HB. Period 2026-10,
as_of 2026-11-20. Deadlines: respond within 2 h, resolve within 7 days of receipt.

    R1  team A, a1: accepted in 1 h (on time), resolved day 2 (on time); evaluation 1: resolved, satisfied
    R2  team A, a1: accepted in 3 h (late), resolved day 8 (late); evaluation 1: not resolved, dissatisfied
        (reopened); evaluation 2: resolved, basically satisfied
    R3  team A, a2: accepted in 1 h, resolved day 2; closed day 9 as no evaluation
    R4  team A, a2: never accepted (assigned), unresolved: late response, overdue resolution
    R5  team B, b1: on time; evaluation: resolved, basically satisfied
    R6  department HB, hb: on time; evaluation: resolved, satisfied            (category `env`)
    R7  waiting for dispatch, located in grid A: the district's dispatch centre holds it when respond_by passes
    R8  dispatched to team C (c1), returned by c1 after 30 min; then team B, b1: on time; evaluation: resolved,
        satisfied
    R9  duplicate of R1: not counted
    R10 team B, b1: on time; evaluated only after as_of (not counted as evaluated)
    R11 received in November: not in the October cohort
"""

import pytest

from services.scoring.stats import z_for
from tests.factories import make_staff
from tests.services.scoring.helpers import AS_OF, OCT, A, B, C, D, compute_and_store, stored
from tests.services.scoring.helpers import build_small_fixture as build


def rate(figures, name):
    return figures["rates"][name]


async def test_three_rates_of_a_grid_are_computed_by_hand(session):
    _, admin, _ = await build(session)
    run = await compute_and_store(session, admin)
    assert run.status == "done"
    # Cohort: R1–R8 and R10 (R9 is a duplicate, R11 is November's) = 9.
    assert run.cohort_size == 9
    grid_a = await stored(session, run, "grid", A)
    assert grid_a["counts"] == {
        "response_due": 4,  # R1, R2, R3, R4
        "responded_on_time": 2,  # R1, R3
        "evaluated": 2,  # R1 (evaluation 1), R2 (its latest, evaluation 2); R3 closed without evaluation
        "resolved": 2,
        "satisfied": 1,  # R1
        "basically_satisfied": 1,  # R2's latest
        "dissatisfied": 0,
        "first_evaluations": 2,  # R1, R2
        "reopened": 1,  # R2's first evaluation was negative
        "no_evaluation": 1,  # R3
        "resolution_due": 4,  # R1, R2, R3 resolved; R4 past resolve_by, unresolved
        "resolved_on_time": 2,  # R1, R3
        "dispatched": 4,
        "returned": 0,
    }
    assert rate(grid_a, "response_rate")["value"] == 0.5  # 2 / 4
    assert rate(grid_a, "resolution_rate")["value"] == 1.0  # 2 / 2
    assert rate(grid_a, "satisfaction_rate")["value"] == pytest.approx(0.9)  # (1.0 + 0.8) / 2
    assert rate(grid_a, "satisfaction_rate")["successes"] == pytest.approx(1.8)
    assert rate(grid_a, "on_time_resolution_rate")["value"] == 0.5  # 2 / 4
    assert rate(grid_a, "reopen_rate")["value"] == 0.5  # 1 / 2
    assert rate(grid_a, "no_evaluation_share")["value"] == pytest.approx(1 / 3)  # 1 / (2 + 1)
    assert rate(grid_a, "return_rate")["value"] == 0.0  # 0 / 4
    # Raw three-rate score: 100 × (0.2·0.5 + 0.4·1.0 + 0.4·0.9) = 100 × 0.86 = 86.
    assert grid_a["three_rate_score"]["raw"] == pytest.approx(86.0)


async def test_wilson_interval_and_shrinkage_of_a_grid(session):
    _, admin, _ = await build(session)
    run = await compute_and_store(session, admin)
    response = rate(await stored(session, run, "grid", A), "response_rate")
    # Wilson, 2 of 4, z = 1.95996: centre = (0.5 + z²/8) / (1 + z²/4) = 0.5;
    # half = z / (1 + z²/4) × √(0.25/4 + z²/64) = 1.95996 / 1.96036 × √(0.0625 + 0.060023) = 0.349970.
    z = z_for(0.95)
    half = z / (1 + z * z / 4) * (0.25 / 4 + z * z / 64) ** 0.5
    assert half == pytest.approx(0.34997, abs=1e-5)
    assert response["interval"]["low"] == pytest.approx(0.5 - half)
    assert response["interval"]["high"] == pytest.approx(0.5 + half)
    # Grid level, response: A 2/4, B 3/3 (R5, R8, R10), C none → 2 units with data < 5: the fixed prior of
    # strength 10 at the level mean (2 + 3) / (4 + 3) = 5/7. Shrunk A = (2 + 10·5/7) / (4 + 10) = 64/98.
    assert response["shrunk"] == pytest.approx(64 / 98)
    grid_b = rate(await stored(session, run, "grid", B), "response_rate")
    assert grid_b["shrunk"] == pytest.approx((3 + 50 / 7) / 13)  # between B's 1.0 and the mean 5/7
    assert run.summary is not None
    prior = run.summary["priors"]["grid"]["response_rate"]
    assert prior == {"mean": pytest.approx(5 / 7), "strength": 10.0, "method": "fallback", "units": 2}


async def test_responses_go_to_whoever_held_the_request(session):
    _, admin, _ = await build(session)
    run = await compute_and_store(session, admin)
    # District 330203 = street 330203001 (grid A: 4 due, 2 on time) + street 330203002 (grid B: 3 due, 3 on
    # time) + its dispatch centre (R7: held when respond_by passed, not on time): 8 due, 5 on time.
    district = await stored(session, run, "district", "330203")
    assert (district["counts"]["response_due"], district["counts"]["responded_on_time"]) == (8, 5)
    kinds = {(src["kind"], src["code"]): src["counts"]["response_due"] for src in district["breakdown"]["sources"]}
    assert kinds == {("child_unit", "330203001"): 4, ("child_unit", "330203002"): 3, ("dispatch_centre", "330203"): 1}
    # The return counts against team C (the unit that returned), R8's response for team B (who accepted).
    grid_c = await stored(session, run, "grid", C)
    assert (grid_c["counts"]["dispatched"], grid_c["counts"]["returned"]) == (1, 1)
    assert grid_c["counts"]["response_due"] == 0
    assert rate(grid_c, "return_rate")["value"] == 1.0
    # HB (a city department) counts for itself and, attached there, for the city only.
    hb = await stored(session, run, "department", "HB")
    assert (hb["counts"]["response_due"], hb["counts"]["evaluated"]) == (1, 1)
    city = await stored(session, run, "city", "3302")
    # City: 8 + 0 (district 330205) + 1 (HB) = 9 due, 5 + 1 = 6 on time; evaluated 2 + 2 + 1 = 5 with points
    # 1.8 + 1.8 + 1.0 = 4.6 → 0.92.
    assert (city["counts"]["response_due"], city["counts"]["responded_on_time"]) == (9, 6)
    assert rate(city, "satisfaction_rate")["value"] == pytest.approx(0.92)


async def test_handlers_get_what_they_held(session):
    s, admin, _ = await build(session)
    run = await compute_and_store(session, admin)
    a1, a2 = s["handlers"][A]
    c1 = s["handlers"][C][0]
    first = await stored(session, run, "handler", str(a1.id))
    # a1: R1 (on time) and R2 (late) → 1 of 2; both evaluated; a2: R3 (on time), R4 (late).
    assert first["quality"]["response_rate"]["n"] == 2
    assert first["quality"]["response_rate"]["value"] == 0.5
    assert first["quantity"]["handled"] == 2  # R1, R2 evaluated
    second = await stored(session, run, "handler", str(a2.id))
    assert second["quantity"]["handled"] == 1  # R3 closed as no evaluation
    returner = await stored(session, run, "handler", str(c1.id))
    assert returner["quality"]["return_rate"]["value"] == 1.0


async def test_case_mix_adjustment_removes_the_category_mix(session):
    _, admin, _ = await build(session)
    run = await compute_and_store(session, admin)
    response = rate(await stored(session, run, "grid", A), "response_rate")
    # City-wide response for env.noise: everything but R6 = 8 due (A 4, B 3, dispatch 1), 5 on time → 5/8.
    # City mean: 6/9. Grid A has only env.noise: expected = 5/8; adjusted = 0.5 − 5/8 + 6/9 = 0.541667.
    assert response["expected"] == pytest.approx(5 / 8)
    assert response["adjusted"] == pytest.approx(0.5 - 5 / 8 + 6 / 9)


async def test_satisfaction_index_renormalises_missing_components(session):
    from services.models import Assessment

    s, admin, _ = await build(session)
    staff = await make_staff(session, "supervisor_x", "supervisor", s["units"]["3302"])
    for assessor, score in (("银行", 90), ("医院", 80)):
        session.add(
            Assessment(
                org_unit_id=s["units"]["330203001"].id,
                period="2026-10",
                source="resident_organisation",
                assessor=assessor,
                score=score,
                created_by_id=staff.id,
                created_at=OCT + 20 * D,
            )
        )
    await session.commit()
    run = await compute_and_store(session, admin)
    index = (await stored(session, run, "street", "330203001"))["satisfaction_index"]
    # Streets' satisfaction: 330203001 1.8/2, 330203002 1.8/2 (R5 0.8 + R8 1.0) → 2 units: fixed prior at 0.9,
    # so the shrunk rate is 0.9 and residents = 90. Resident organisations: (90 + 80) / 2 = 85. No public
    # opinion: weights 0.6 and 0.2 renormalise to 0.75 and 0.25 → 0.75·90 + 0.25·85 = 88.75.
    assert index["components"] == {
        "residents": pytest.approx(90.0),
        "resident_organisations": 85.0,
        "public_opinion": None,
    }
    assert index["missing_components"] == ["public_opinion"]
    assert index["weights_used"] == {"residents": pytest.approx(0.75), "resident_organisations": pytest.approx(0.25)}
    assert index["value"] == pytest.approx(88.75)


async def test_approved_appeal_removes_the_request_from_that_unit(session):
    from services.models import ScoreAppeal

    s, admin, facts = await build(session)
    supervisor = await make_staff(session, "sup_city", "supervisor", s["units"]["3302"])
    session.add(
        ScoreAppeal(
            request_id=facts["r4"].id,
            team_id=s["teams"][A].id,
            unit_path=s["units"][A].path,
            reason="not_responsible",
            explanation="非网格职责",
            status="approved",
            filed_by_id=s["handlers"][A][1].id,
            decided_by_id=supervisor.id,
            decided_at=AS_OF - D,
        )
    )
    await session.commit()
    run = await compute_and_store(session, admin)
    grid_a = await stored(session, run, "grid", A)
    # R4 leaves grid A: response 2 of 3 (R1, R3 of R1–R3), resolution due 3, dispatched 3.
    assert grid_a["counts"]["response_due"] == 3
    assert grid_a["counts"]["resolution_due"] == 3
    assert grid_a["counts"]["dispatched"] == 3
    assert grid_a["breakdown"]["appeals"] == {"approved": 1, "request_ids": [facts["r4"].id]}
    district = await stored(session, run, "district", "330203")
    assert district["breakdown"]["appeals"]["request_ids"] == [facts["r4"].id]
    assert district["counts"]["response_due"] == 7


async def test_ranks_use_shrunk_scores(session):
    _, admin, _ = await build(session)
    run = await compute_and_store(session, admin)
    a = await stored(session, run, "grid", A)
    b = await stored(session, run, "grid", B)
    c = await stored(session, run, "grid", C)
    # Shrunk three-rate scores (grid level: fixed priors at the level means, see above):
    # A: 100 × (0.2·64/98 + 0.4·1.0 + 0.4·0.9) = 89.06; B: 100 × (0.2·(3 + 50/7)/13 + 0.4 + 0.36) = 91.60.
    assert a["three_rate_score"]["value"] == pytest.approx(100 * (0.2 * 64 / 98 + 0.4 + 0.36))
    assert b["three_rate_score"]["value"] == pytest.approx(100 * (0.2 * (3 + 50 / 7) / 13 + 0.4 + 0.36))
    # C only returned a request: no three-rate data, so no score and no rank (the prior never stands in).
    assert (b["rank"], a["rank"], c["rank"]) == (1, 2, None)
    assert a["ranked"] == 2


async def test_a_table_holding_only_the_period_is_bounded_by_its_own_ids(session):
    from services.scoring import repository
    from tests.factories import make_handling_setup
    from tests.services.scoring.helpers import add_request, principal_of

    s = await make_handling_setup(session)
    first = await add_request(session, unit=s["units"][A], team=s["teams"][A], accepted_after=D / 48)
    second = await add_request(session, unit=s["units"][B], team=s["teams"][B], received_at=OCT + D)
    admin = await make_staff(session, "admin_only_oct", "admin", s["units"]["3302"])
    await session.commit()
    run = await compute_and_store(session, principal_of(admin, s["units"]["3302"]))
    assert await repository.cohort_id_bounds(session, run.period_start, run.period_end, AS_OF) == (first.id, second.id)
    grid_a = await stored(session, run, "grid", A)
    # Accepted 30 minutes in (on time): 1 of 1; grid B's request was never accepted: 0 of 1.
    assert (grid_a["counts"]["response_due"], grid_a["counts"]["responded_on_time"]) == (1, 1)
    assert (await stored(session, run, "grid", B))["counts"]["responded_on_time"] == 0
    assert run.cohort_size == 2
