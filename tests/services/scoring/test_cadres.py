"""Cadre evaluation (§7.4): leaders' contacts against quotas, grid workers' visits against the scheme's quota,
process and result combined into cadre_score. Hand-computed on the small fixture plus a leader."""

from datetime import timedelta

import pytest

from services.models import Visit
from tests.factories import make_leader_link, make_staff
from tests.services.scoring.helpers import AS_OF, OCT, A, D, build_small_fixture, compute_and_store, stored


async def setup(session):
    s, admin, _ = await build_small_fixture(session)
    units = s["units"]
    leader = await make_staff(session, "leader_330203", "supervisor", units["330203"])
    links = [
        ("区委书记", units["330203001"].id, None, 2),  # street 330203001: 2 contacts a month
        ("区委书记", units["330203002"].id, None, 3),
        ("区委书记", None, s["hb"].id, 1),  # department HB (scope: the city)
        ("区委书记", units["330203002001"].id, None, 0),  # no quota this month: not judged
    ]
    for post, unit_id, department_id, quota in links:
        await make_leader_link(
            session, leader, post=post, org_unit_id=unit_id, department_id=department_id,
            quota_month=quota, quota_quarter=3 * quota, quota_year=12 * quota, created_at=OCT - 30 * D,
        )  # fmt: skip

    def visit(kind, unit, staff, at, households=1, logged=None):
        session.add(
            Visit(
                kind=kind, org_unit_id=unit.id, staff_id=staff.id, visited_at=at, households=households,
                created_at=logged or at,
            )
        )  # fmt: skip

    visit("leader_contact", units[A], leader, OCT)  # in street 330203001's subtree
    visit("leader_contact", units[A], leader, OCT + D)
    visit("leader_contact", units["330203002001"], leader, OCT + 2 * D)  # in street 330203002's subtree
    visit("leader_contact", units["3302"], leader, OCT + 3 * D)  # at HB's scope unit: HB's link
    visit("leader_contact", units[A], leader, OCT - 20 * D)  # September: another period
    visit("leader_contact", units[A], leader, OCT + 4 * D, logged=AS_OF + D)  # logged after as_of
    a1, a2 = s["handlers"][A]
    for day in range(12):
        visit("household", units[A], a1, OCT + day * timedelta(hours=5), households=2)
    for day in range(25):
        visit("household", units[A], a2, OCT + day * timedelta(hours=5))
    await session.commit()
    return s, admin, leader


async def test_leader_contact_compliance_and_coverage(session):
    _, admin, leader = await setup(session)
    run = await compute_and_store(session, admin)
    figures = await stored(session, run, "leader", str(leader.id))
    contacts = figures["contacts"]
    by_unit = {link["unit_code"]: link for link in contacts["links"]}
    # Street 330203001: 2 of 2 (the September visit and the one logged after as_of do not count).
    assert (by_unit["330203001"]["contacts"], by_unit["330203001"]["met"]) == (2, True)
    # Street 330203002: 1 of 3 → compliance 1/3.
    assert by_unit["330203002"]["compliance"] == pytest.approx(1 / 3)
    # HB: 1 contact at its scope unit, quota 1.
    assert by_unit["HB"]["met"] is True and by_unit["HB"]["unit_kind"] == "department"
    # Community 330203002001 has no quota this month: shown, not judged.
    assert by_unit["330203002001"]["met"] is None and by_unit["330203002001"]["contacts"] == 1
    # compliance = mean(1, 1/3, 1) = 7/9; coverage = 2 of 3 links with a quota met.
    assert contacts["contact_compliance"] == pytest.approx(7 / 9)
    assert contacts["coverage"] == pytest.approx(2 / 3)
    assert figures["quantity"]["contacts"] == 4  # October's contacts logged by as_of: 2 + 1 + 1 (HB's)
    # Result: the mean three-rate score of the linked units that have one.
    linked = [
        (await stored(session, run, "street", "330203001"))["three_rate_score"]["value"],
        (await stored(session, run, "street", "330203002"))["three_rate_score"]["value"],
        (await stored(session, run, "department", "HB"))["three_rate_score"]["value"],
        (await stored(session, run, "community", "330203002001"))["three_rate_score"]["value"],
    ]
    result = sum(linked) / len(linked)
    assert figures["result"]["score"] == pytest.approx(result)
    # cadre_score = 0.4 × process (100 × 7/9) + 0.6 × result.
    assert figures["cadre_score"] == pytest.approx(0.4 * 700 / 9 + 0.6 * result)


async def test_grid_workers_visits_against_the_quota(session):
    s, admin, _ = await setup(session)
    run = await compute_and_store(session, admin)
    a1, a2 = s["handlers"][A]
    first = await stored(session, run, "handler", str(a1.id))
    # 12 household visits (24 households) against the scheme's 20 a month → 0.6.
    assert first["quantity"]["visits"] == 12 and first["quantity"]["households"] == 24
    assert first["quantity"]["visit_quota"] == 20
    assert first["process"]["components"]["visit_compliance"] == 0.6
    assert first["team_role"] == "grid_worker"
    assert (await stored(session, run, "handler", str(a2.id)))["process"]["components"]["visit_compliance"] == 1.0
    # process = 100 × (0.6 + shrunk response + shrunk on-time) / 3; result = a1's shrunk three-rate score.
    components = first["process"]["components"]
    process = (
        100 * (components["visit_compliance"] + components["response_rate"] + components["on_time_resolution_rate"]) / 3
    )
    assert first["process"]["score"] == pytest.approx(process)
    assert components["response_rate"] == first["quality"]["response_rate"]["shrunk"]
    assert first["result"]["score"] == pytest.approx(
        100 * (0.2 * first["quality"]["response_rate"]["shrunk"] + 0.4 * first["quality"]["resolution_rate"]["shrunk"]
               + 0.4 * first["quality"]["satisfaction_rate"]["shrunk"])
    )  # fmt: skip
    assert first["cadre_score"] == pytest.approx(0.4 * process + 0.6 * first["result"]["score"])
    # The department's handler has no visit quota: its process renormalises over the two rates.
    hb = await stored(session, run, "handler", str(s["hb_staff"].id))
    assert hb["quantity"]["visit_quota"] is None
    assert hb["process"]["missing_components"] == ["visit_compliance"]
