"""Every stored result names its scheme version and as_of; recomputing with them gives the same values,
whatever arrived after as_of."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from services.models import ScoreAppeal, ScoreResult
from services.scoring import repository, service
from services.scoring.repository import read_snapshot
from services.scoring.schemas import SchemeCreate
from services.scoring.scheme import SchemeDocument
from tests.factories import make_staff
from tests.services.scoring.helpers import (
    OCT,
    A,
    B,
    D,
    add_feedback,
    add_request,
    build_small_fixture,
    compute_and_store,
)

# Mid-period: some of October is still to come.
MID = OCT + 10 * D


async def rows_of(session, run):
    found = await session.scalars(select(ScoreResult).where(ScoreResult.run_id == run.id))
    return {
        (r.level, r.subject_code): (r.rank, r.three_rate_score, r.satisfaction_index, r.cadre_score, r.figures)
        for r in found
    }


async def test_recomputing_with_the_same_as_of_gives_the_same_values(session):
    s, admin, facts = await build_small_fixture(session)
    first = await compute_and_store(session, admin, as_of=MID)
    # After as_of: a new request, an evaluation of R4's grid, an approved appeal.
    units, teams, handlers = s["units"], s["teams"], s["handlers"]
    late = await add_request(
        session,
        unit=units[A],
        team=teams[A],
        handler=handlers[A][0],
        received_at=MID + D,
        accepted_after=timedelta(hours=1),
    )
    await add_feedback(session, late, resolution_no=1, resolved=True, satisfaction="satisfied", at=MID + 2 * D)
    supervisor = await make_staff(session, "sup_r", "supervisor", units["3302"])
    session.add(
        ScoreAppeal(
            request_id=facts["r4"].id, team_id=teams[A].id, unit_path=units[A].path, reason="not_responsible",
            explanation="后来的申诉", status="approved", filed_by_id=handlers[A][1].id, decided_by_id=supervisor.id,
            decided_at=MID + 3 * D,
        )
    )  # fmt: skip
    await session.commit()

    again = await compute_and_store(session, admin, as_of=MID)
    assert (again.as_of, again.scheme_version) == (first.as_of, first.scheme_version)
    assert await rows_of(session, again) == await rows_of(session, first)
    assert again.summary == first.summary
    async with read_snapshot() as snapshot:
        assert (await service.verify_run(session, snapshot, first.id)).matches
    # A later as_of sees the new data, so some value moves.
    later = await compute_and_store(session, admin, as_of=MID + 5 * D)
    assert await rows_of(session, later) != await rows_of(session, first)


async def test_results_keep_their_scheme_version(session):
    _, admin, _ = await build_small_fixture(session)
    first = await compute_and_store(session, admin)
    heavier = SchemeDocument.model_validate(
        {"three_rate_weights": {"response": 0.1, "resolution": 0.1, "satisfaction": 0.8}}
    )
    await service.create_scheme(session, admin, SchemeCreate(name="满意率优先", document=heavier))
    await session.commit()
    second = await compute_and_store(session, admin)
    assert (first.scheme_version, second.scheme_version) == (1, 2)
    old = await repository.result(session, first.id, ("grid",), A)
    new = await repository.result(session, second.id, ("grid",), A)
    assert old is not None and new is not None
    assert old.three_rate_score != new.three_rate_score
    # The old run still recomputes to its own values under its own version.
    async with read_snapshot() as snapshot:
        assert (await service.verify_run(session, snapshot, first.id)).matches
    # Naming version 1 explicitly reproduces the first run.
    third = await compute_and_store(session, admin, scheme_version=1)
    assert await rows_of(session, third) == await rows_of(session, first)


async def later_work(session, s, facts) -> None:
    """After a run: ordinary work on its requests and its org, each step its own transaction, through the
    services that do it (SPEC §7.5 names a return, reassignment, reopen, resumption and reclassification)."""
    from services.handling import returns
    from services.handling import service as handling
    from services.handling.schemas import ReassignIn, ResumeIn, ReturnIn, SuspendIn
    from services.models import Member, Request, Team
    from tests.services.scoring.helpers import principal_of

    units, teams, handlers = s["units"], s["teams"], s["handlers"]
    dispatcher = principal_of(s["dispatcher"], units["3302"])
    a2 = principal_of(handlers[A][1], units[A])

    async def step(request_id, action) -> None:
        request = await session.get(Request, request_id, populate_existing=True)
        await action(request)
        await session.commit()

    r4 = facts["r4"].id
    # R4 (team A, not yet accepted): returned by its handler, then reassigned by the dispatcher to team B.
    await step(r4, lambda r: returns.return_request(session, a2, r, ReturnIn(reason="not_ours", note="不属本网格")))
    await step(r4, lambda r: handling.reassign(session, dispatcher, r, ReassignIn(team_id=teams[B].id)))
    # R1 (closed, satisfied in October): reclassified and reopened (resolution cleared, a new deadline).
    await step(facts["r1"].id, lambda r: returns.recategorise(session, r, "utilities"))
    r1 = await session.get(Request, facts["r1"].id, populate_existing=True)
    r1.status, r1.resolved_at, r1.closed_at, r1.close_reason = "accepted", None, None, None
    r1.reopen_count, r1.resolve_by = r1.reopen_count + 1, r1.resolve_by + 30 * D
    await session.commit()
    # R10 (resolved in October): suspended and resumed, its deadline moved on.
    r10 = facts["r10"].id
    b1 = principal_of(handlers[B][0], units[B])
    r = await session.get(Request, r10, populate_existing=True)
    r.status = "accepted"
    await session.commit()
    await step(r10, lambda r: handling.suspend(session, b1, r, SuspendIn(reason="等待材料")))
    await step(r10, lambda r: handling.resume(session, b1, r, ResumeIn(note="材料已补齐")))
    # The org: team A renamed, A's first handler moved to team B.
    team_a = await session.get(Team, teams[A].id)
    team_a.name = "改名后的网格队"
    member = (await session.scalars(select(Member).where(Member.staff_id == handlers[A][0].id))).first()
    member.team_id = teams[B].id
    await session.commit()


async def test_later_returns_reopens_reclassifications_and_org_moves_change_no_past_run(session):
    s, admin, facts = await build_small_fixture(session)
    first = await compute_and_store(session, admin)
    await later_work(session, s, facts)
    # The work happened: the request rows now say otherwise than at as_of.
    from services.models import Request, RequestState

    r1 = await session.get(Request, facts["r1"].id, populate_existing=True)
    assert (r1.category_code, r1.resolved_at) == ("utilities", None)
    assert await session.scalar(select(func.count()).select_from(RequestState)) >= 6

    again = await compute_and_store(session, admin)
    assert await rows_of(session, again) == await rows_of(session, first)
    assert again.summary == first.summary
    async with read_snapshot() as snapshot:
        verified = await service.verify_run(session, snapshot, first.id)
    assert verified.matches and verified.facts_kept and verified.requests_moved == [], verified
    # Today's as_of does see the work: R1's category moved it out of team A's noise count.
    today = await compute_and_store(session, admin, as_of=datetime.now(UTC))
    assert await rows_of(session, today) != await rows_of(session, first)


async def test_verify_names_the_request_and_the_figure_that_moved(session):
    from sqlalchemy import update

    from services.models import Feedback

    _, admin, facts = await build_small_fixture(session)
    run = await compute_and_store(session, admin)
    # An evaluation changed in place (no service does this: a repair or tampering by hand).
    await session.execute(
        update(Feedback).where(Feedback.request_id == facts["r1"].id).values(satisfaction="dissatisfied")
    )
    await session.commit()
    async with read_snapshot() as snapshot:
        verified = await service.verify_run(session, snapshot, run.id)
    assert not verified.matches
    grid = [d for d in verified.differences if d.level == "grid" and d.code == A]
    changed = {d.figure: (d.old, d.new) for d in grid}
    assert changed["counts.satisfied"] == (1, 0) and changed["counts.dissatisfied"] == (0, 1), grid
    moved = {(m.request_id, m.fact): (m.old, m.new) for m in verified.requests_moved}
    assert moved[(facts["r1"].id, "satisfied")] == (1, 0)
    assert moved[(facts["r1"].id, "dissatisfied")] == (0, 1)
    assert {m.request_id for m in verified.requests_moved} == {facts["r1"].id}
    assert all(m.tracking_no == facts["r1"].tracking_no for m in verified.requests_moved)
