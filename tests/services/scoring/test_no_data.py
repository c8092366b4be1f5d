"""No score without data (SPEC §12): a subject with no data for a rate or a component has no value for it
(null, n = 0, with a reason) and no rank; the prior never stands in. Pure computation on hand-made counts."""

from typing import Any

import pytest

from services.scoring import figures
from services.scoring.compute import DepartmentInfo, Extras, OrgData, StaffInfo, UnitInfo, compute
from services.scoring.periods import parse_period
from services.scoring.scheme import SchemeDocument
from services.scoring.tally import FIELDS, Tally

SCHEME = SchemeDocument()


def counts(**values: int) -> list[int]:
    vector = [0] * len(FIELDS)
    for name, value in values.items():
        vector[FIELDS.index(name)] = value
    return vector


def city_of_districts(district_ids: list[int]) -> OrgData:
    units = {1: UnitInfo(1, "C", "市", "city", None, "/C/")}
    for i in district_ids:
        units[i] = UnitInfo(i, f"D{i:02d}", f"区{i}", "district", 1, f"/C/D{i:02d}/")
    departments = {100 + i: DepartmentInfo(100 + i, f"DEP{i:02d}", f"局{i}", i) for i in district_ids}
    return OrgData(units=units, teams={}, departments=departments, members={})


def department_counts(tally: Tally, dept_id: int, vector: list[int]) -> None:
    tally.department[dept_id] = {"env.noise": vector}


def results(org: OrgData, tally: Tally, extras: Extras | None = None) -> dict[tuple[str, str], Any]:
    computation = compute(tally, org, extras or Extras(), SCHEME, parse_period("2026-10"))
    return {(row.level, row.subject_code): row.figures for row in computation.rows}


def test_a_district_with_no_requests_has_no_score_no_grade_and_no_rank():
    # Six districts; five have requests (enough for a fitted prior), D07 has none at all. Before SPEC §12 its
    # score was the prior's (a district with zero requests was shown as 79.3, 良好).
    org = city_of_districts([2, 3, 4, 5, 6, 7])
    tally = Tally()
    for i, (on_time, satisfied) in zip([2, 3, 4, 5, 6], [(8, 5), (9, 7), (6, 4), (10, 9), (7, 3)], strict=True):
        department_counts(
            tally,
            100 + i,
            counts(
                response_due=10, responded_on_time=on_time, evaluated=10, resolved=satisfied,
                satisfied=satisfied, dissatisfied=10 - satisfied, first_evaluations=10,
            ),
        )  # fmt: skip
    out = results(org, tally)
    empty = out[("district", "D07")]
    assert empty["three_rate_score"]["value"] is None and empty["three_rate_score"]["raw"] is None
    assert empty["satisfaction_index"]["value"] is None
    assert empty["grade"] is None
    assert empty["rank"] is None
    for rate in ("response_rate", "resolution_rate", "satisfaction_rate"):
        value, _, n, low, _, shrunk, _, _ = empty["rates"][rate]
        assert (value, n, low, shrunk) == (None, 0, None, None)  # the prior does not stand in
    ranked = [out[("district", f"D{i:02d}")] for i in range(2, 7)]
    assert sorted(r["rank"] for r in ranked) == [1, 2, 3, 4, 5]
    assert {r["ranked"] for r in ranked} == {5} and empty["ranked"] == 5
    # Read back, every null says why.
    shown = figures.unit(empty, SCHEME)
    assert shown["unranked_reason"] == figures.UNIT_UNRANKED
    assert shown["rates"]["response_rate"]["reason"] == figures.NO_DATA["response_rate"]
    assert shown["three_rate_score"]["missing_components"] == ["response", "resolution", "satisfaction"]
    assert shown["satisfaction_index"]["missing_reasons"]["residents"] == figures.NO_DATA["satisfaction_rate"]
    assert shown["satisfaction_index"]["missing_reasons"]["public_opinion"] == figures.NO_ASSESSMENT
    # The department with no data is null and unranked too; the others with data are ranked.
    assert out[("department", "DEP07")]["three_rate_score"]["value"] is None
    assert out[("department", "DEP07")]["rank"] is None


def test_a_missing_rate_leaves_the_score_on_the_rates_with_data():
    # Two districts: D02 responded but nothing was evaluated yet; D03 has everything.
    org = city_of_districts([2, 3])
    tally = Tally()
    department_counts(tally, 102, counts(response_due=4, responded_on_time=3))
    department_counts(tally, 103, counts(response_due=2, responded_on_time=2, evaluated=2, resolved=2, satisfied=2))
    out = results(org, tally)
    d02 = out[("district", "D02")]
    assert d02["rates"]["resolution_rate"][5] is None and d02["rates"]["satisfaction_rate"][5] is None
    # Its score is its (shrunk) response rate alone, never a prior for resolution or satisfaction.
    three = d02["three_rate_score"]
    assert three["missing_components"] == ["resolution", "satisfaction"]
    assert three["value"] == 100 * d02["rates"]["response_rate"][5]
    assert d02["rank"] is not None
    # The satisfaction index has no residents' part without evaluations (and no assessments): null.
    assert d02["satisfaction_index"]["value"] is None


def test_staff_with_nothing_to_rank_are_left_out_of_the_cadre_ranking():
    # Department staff (no visit quota): s1 responded to requests; s2..s4 only had dispatches returned (no
    # response, on-time or three-rate figure), s5 nothing but a dispatch. Only s1 is ranked.
    org = city_of_districts([2])
    org.members = {sid: [(None, 102, "department_staff")] for sid in (11, 12, 13, 14, 15)}
    tally = Tally()
    tally.handler[11] = {"env.noise": counts(response_due=3, responded_on_time=2, resolution_due=2, resolved_on_time=1)}
    for sid in (12, 13, 14):
        tally.handler[sid] = {"env.noise": counts(dispatched=1, returned=1)}
    tally.handler[15] = {"env.noise": counts(dispatched=1)}
    extras = Extras(staff={sid: StaffInfo(sid, f"员工{sid}", "D02", "/C/D02/") for sid in (11, 12, 13, 14, 15)})
    out = results(org, tally, extras)
    assert out[("handler", "11")]["rank"] == 1 and out[("handler", "11")]["ranked"] == 1
    for code in ("12", "13", "14", "15"):
        figures_ = out[("handler", code)]
        assert figures_["cadre_score"] is None and figures_["rank"] is None
        assert figures.cadre(figures_)["unranked_reason"] == figures.CADRE_UNRANKED["handler"]


def test_the_breakdown_says_how_much_of_a_shrunk_rate_is_prior_and_how_much_data():
    prior = {"response_rate": {"mean": 0.8, "strength": 10.0, "method": "fallback", "units": 2}}
    stored = {"rates": {"response_rate": [0.5, 2.0, 4, 0.2, 0.8, (2 + 8) / 14, None, None]}}
    share = figures.shrinkage(stored, prior)["response_rate"]
    # 4 observations against a prior of strength 10: 4/14 of the shrunk value is data, 10/14 the prior.
    assert share["data_weight"] == 4 / 14 and share["prior_weight"] == 1 - 4 / 14
    assert share["data_weight"] * 0.5 + share["prior_weight"] * 0.8 == pytest.approx((2 + 8) / 14)
    empty = figures.shrinkage({"rates": {"response_rate": [None, 0.0, 0, None, None, None, None, None]}}, prior)
    assert empty["response_rate"]["data_weight"] is None and empty["response_rate"]["reason"]


def test_answers_round_as_the_scheme_says_and_storage_stays_exact():
    org = city_of_districts([2, 3])
    tally = Tally()
    department_counts(tally, 102, counts(response_due=3, responded_on_time=1, evaluated=3, resolved=2, satisfied=1))
    department_counts(tally, 103, counts(response_due=7, responded_on_time=5, evaluated=6, resolved=5, satisfied=4))
    stored = results(org, tally)[("district", "D02")]
    assert stored["rates"]["response_rate"][0] == 1 / 3  # exact in storage
    shown = figures.unit_answer(stored, SCHEME)
    assert shown["rates"]["response_rate"]["value"] == 0.3333
    assert shown["three_rate_score"]["value"] == round(stored["three_rate_score"]["value"], 1)
    coarse = SchemeDocument.model_validate({"rounding": {"rate_decimals": 2, "score_decimals": 0}})
    assert figures.unit_answer(stored, coarse)["rates"]["response_rate"]["value"] == 0.33
