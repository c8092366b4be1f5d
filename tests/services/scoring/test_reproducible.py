"""Every stored result names its scheme version and as_of; recomputing with them gives the same values,
whatever arrived after as_of."""

from datetime import timedelta

from sqlalchemy import select

from services.models import ScoreAppeal, ScoreResult
from services.scoring import repository, service
from services.scoring.repository import read_snapshot
from services.scoring.schemas import SchemeCreate
from services.scoring.scheme import SchemeDocument
from tests.factories import make_staff
from tests.services.scoring.helpers import OCT, A, D, add_feedback, add_request, build_small_fixture, compute_and_store

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
