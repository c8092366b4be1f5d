"""Consistency on generated data: the SQL aggregation agrees with a plain, request-by-request reading of the
rules (docs/scoring.md); every unit's counts are the sum of its sources (children plus what is attached to
it, so a district with no departments or dispatch centre of its own sums its streets); the run verifies."""

import random
from collections import Counter, defaultdict
from datetime import timedelta

from sqlalchemy import select

from services.models import Assignment, Feedback, Request, ScoreAppeal
from services.scoring import repository, service
from services.scoring.repository import read_snapshot
from services.scoring.tally import FIELDS
from tests.factories import make_assignment, make_handling_setup, make_staff
from tests.services.scoring.helpers import (
    AS_OF,
    OCT,
    add_feedback,
    add_request,
    compute_and_store,
    principal_of,
    stored,
)

D = timedelta(days=1)
H = timedelta(hours=1)
GRIDS = ("330203001001001", "330203002001001", "330205001001001")


async def generate(session, rng: random.Random, count: int):
    s = await make_handling_setup(session)
    units, teams, handlers, hb = s["units"], s["teams"], s["handlers"], s["hb"]
    supervisor = await make_staff(session, "sup_gen", "supervisor", units["3302"])
    previous: list[Request] = []
    for _ in range(count):
        grid = rng.choice(GRIDS)
        received = OCT + timedelta(days=rng.uniform(-15, 25))  # some fall in September or November
        kind = rng.choices(["team", "department", "dispatch", "returned"], [70, 15, 8, 7])[0]
        team = teams[grid] if kind in ("team", "returned") else None
        department_id = hb.id if kind == "department" else None
        handler = rng.choice(handlers[grid]) if team else (s["hb_staff"] if department_id else None)
        if handler is not None and rng.random() < 0.1:
            handler = None  # still in the team's or department's queue
        accepted = resolved = closed = None
        close_reason = None
        if kind != "dispatch" and handler is not None:
            accepted = rng.choice([None, 0.5 * H, 1.5 * H, 3 * H, 20 * H])
        if accepted is not None and rng.random() < 0.8:
            resolved = accepted + rng.choice([D, 3 * D, 9 * D])
        duplicate_of = rng.choice(previous) if previous and rng.random() < 0.03 else None
        request = await add_request(
            session,
            unit=units[grid],
            team=team,
            department_id=department_id,
            handler=handler,
            received_at=received,
            accepted_after=accepted,
            resolved_after=resolved,
            dispatch=kind == "dispatch",
            duplicate_of=duplicate_of,
            status="duplicate" if duplicate_of else None,
        )
        previous.append(request)
        if kind == "returned":
            # First to another grid's team, returned after 40 minutes; then to this one.
            other = rng.choice([g for g in GRIDS if g != grid])
            first = await session.scalar(select(Assignment).where(Assignment.request_id == request.id))
            assert first is not None and team is not None
            first.team_id, first.handler_id = teams[other].id, handlers[other][0].id
            first.active, first.ended_at, first.end_reason = False, received + 40 * timedelta(minutes=1), "returned"
            await make_assignment(
                session, request, routing_no=2, team_id=team.id, handler_id=handler.id if handler else None,
                created_at=received + 41 * timedelta(minutes=1),
            )  # fmt: skip
            request.routing_no, request.return_count = 2, 1
        if resolved is not None:
            roll = rng.random()
            if roll < 0.7:
                at = received + resolved + rng.choice([H, 2 * D, 40 * D])  # 40 days: after as_of for some
                yes = rng.random() < 0.8
                satisfaction = rng.choice(["satisfied", "basically_satisfied", "dissatisfied"])
                await add_feedback(session, request, resolution_no=1, resolved=yes, satisfaction=satisfaction, at=at)
                if not yes or satisfaction == "dissatisfied":
                    request.reopen_count = 1
                    if rng.random() < 0.6:
                        request.resolution_no = 2
                        await add_feedback(
                            session, request, resolution_no=2, resolved=rng.random() < 0.7,
                            satisfaction=rng.choice(["satisfied", "dissatisfied"]), at=at + 3 * D,
                        )  # fmt: skip
                        closed, close_reason = at + 3 * D, "satisfied"
                    elif rng.random() < 0.5:
                        closed, close_reason = at + 8 * D, "no_evaluation"
                else:
                    closed, close_reason = at, "satisfied"
            elif roll < 0.9:
                closed, close_reason = received + resolved + 7 * D, "no_evaluation"
        if duplicate_of is not None:
            closed, close_reason = None, None
        request.closed_at, request.close_reason = closed, close_reason
        if rng.random() < 0.06 and (team or department_id):
            session.add(
                ScoreAppeal(
                    request_id=request.id, team_id=team.id if team else None, department_id=department_id,
                    unit_path=units[grid].path, reason="unreasonable_demand", explanation="生成的申诉",
                    status="approved", filed_by_id=supervisor.id, decided_by_id=supervisor.id,
                    decided_at=rng.choice([OCT, AS_OF + D]),
                )
            )  # fmt: skip
    await session.flush()
    admin = await make_staff(session, "admin_gen", "admin", units["3302"])
    await session.commit()
    return s, principal_of(admin, units["3302"])


async def reference_counts(session, period_start, period_end):
    """The rules read request by request, in plain Python: counts per (kind, id) holder and per handler."""
    requests = list(await session.scalars(select(Request)))
    assignments = defaultdict(list)
    for a in await session.scalars(select(Assignment).order_by(Assignment.routing_no)):
        assignments[a.request_id].append(a)
    feedback: dict[int, dict[int, Feedback]] = defaultdict(dict)
    for f in await session.scalars(select(Feedback)):
        if f.created_at <= AS_OF:
            feedback[f.request_id][f.resolution_no] = f
    appealed = defaultdict(set)
    for ap in await session.scalars(select(ScoreAppeal).where(ScoreAppeal.status == "approved")):
        if ap.decided_at <= AS_OF:
            appealed[ap.request_id].add(("team", ap.team_id) if ap.team_id else ("department", ap.department_id))
    units: dict[tuple[str, int], Counter[str]] = defaultdict(Counter)
    people: dict[int, Counter[str]] = defaultdict(Counter)
    cohort = 0

    def count(unit, handler, name, appeals):
        if unit is not None and unit not in appeals:
            units[unit][name] += 1
            if handler is not None:
                people[handler][name] += 1

    for r in requests:
        if not (period_start <= r.received_at < period_end and r.received_at <= AS_OF) or r.duplicate_of_id:
            continue
        cohort += 1
        appeals = appealed[r.id]
        located = ("dispatch", r.org_unit_id)
        lead = (
            ("team", r.lead_team_id)
            if r.lead_team_id
            else ("department", r.lead_department_id)
            if r.lead_department_id
            else None
        )
        accepted = r.accepted_at is not None and r.accepted_at <= AS_OF
        on_time = accepted and r.accepted_at <= r.respond_by
        if accepted or r.respond_by <= AS_OF:
            if on_time:
                holder, handler = lead, r.handler_id
            else:
                made = [a for a in assignments[r.id] if a.created_at <= r.respond_by]
                last = made[-1] if made else None
                if last and last.outcome == "assigned" and (last.ended_at is None or last.ended_at > r.respond_by):
                    holder = ("team", last.team_id) if last.team_id else ("department", last.department_id)
                    handler = last.handler_id
                else:
                    holder, handler = located, None
            count(holder, handler, "response_due", appeals)
            if on_time:
                count(holder, handler, "responded_on_time", appeals)
        evaluations = feedback[r.id]
        latest = evaluations.get(2) or evaluations.get(1)
        if latest is not None:
            fin = ("team", latest.team_id) if latest.team_id else ("department", latest.department_id)
            fin_handler = latest.handler_id
        else:
            fin, fin_handler = (lead or located), r.handler_id
        no_eval = r.close_reason == "no_evaluation" and r.closed_at <= AS_OF
        if latest is not None and not no_eval:
            count(fin, fin_handler, "evaluated", appeals)
            if latest.resolved:
                count(fin, fin_handler, "resolved", appeals)
            count(fin, fin_handler, latest.satisfaction, appeals)
        if 1 in evaluations:
            count(fin, fin_handler, "first_evaluations", appeals)
            if not evaluations[1].resolved or evaluations[1].satisfaction == "dissatisfied":
                count(fin, fin_handler, "reopened", appeals)
        if no_eval:
            count(fin, fin_handler, "no_evaluation", appeals)
        resolved = r.resolved_at is not None and r.resolved_at <= AS_OF
        if resolved or r.resolve_by <= AS_OF:
            count(fin, fin_handler, "resolution_due", appeals)
            if resolved and r.resolved_at <= r.resolve_by:
                count(fin, fin_handler, "resolved_on_time", appeals)
        for a in assignments[r.id]:
            if a.outcome == "assigned" and a.created_at <= AS_OF:
                unit = ("team", a.team_id) if a.team_id else ("department", a.department_id)
                count(unit, a.handler_id, "dispatched", appeals)
                if a.end_reason == "returned" and a.ended_at <= AS_OF:
                    count(unit, a.handler_id, "returned", appeals)
    return cohort, units, people


def as_counts(counter):
    return {name: counter.get(name, 0) for name in FIELDS}


async def test_sql_aggregation_matches_the_rules_read_request_by_request(session):
    s, admin = await generate(session, random.Random(7), 260)
    run = await compute_and_store(session, admin)
    period = (run.period_start, run.period_end)
    cohort, units, people = await reference_counts(session, *period)
    assert run.cohort_size == cohort
    for grid in GRIDS:
        team_counts = as_counts(units[("team", s["teams"][grid].id)])
        assert (await stored(session, run, "grid", grid))["counts"] == team_counts, grid
    assert (await stored(session, run, "department", "HB"))["counts"] == as_counts(units[("department", s["hb"].id)])
    for staff in [*(h for hs in s["handlers"].values() for h in hs), s["hb_staff"]]:
        row = await repository.result(session, run.id, ("handler",), str(staff.id))
        if row is not None:
            figures = await stored(session, run, "handler", str(staff.id))
            quality = figures["quality"]
            expected = as_counts(people[staff.id])
            assert quality["response_rate"]["n"] == expected["response_due"]
            assert quality["resolution_rate"]["n"] == expected["evaluated"]
            assert quality["return_rate"]["n"] == expected["dispatched"]
    # The city holds everything: the sum over every holder.
    everything: Counter[str] = Counter()
    for counter in units.values():
        everything.update(counter)
    assert (await stored(session, run, "city", "3302"))["counts"] == as_counts(everything)


async def test_every_unit_is_the_sum_of_its_sources(session):
    s, admin = await generate(session, random.Random(11), 200)
    run = await compute_and_store(session, admin)
    codes = [code for code in s["units"] if len(code) < 15]
    for code in codes:
        level = {4: "city", 6: "district", 9: "street", 12: "community"}[len(code)]
        figures = await stored(session, run, level, code)
        summed: Counter[str] = Counter()
        for source in figures["breakdown"]["sources"]:
            summed.update(source["counts"])
        assert figures["counts"] == as_counts(summed), code
    # District 330205 has no department or dispatch centre of its own here: it is exactly its streets' sum.
    district = await stored(session, run, "district", "330205")
    kinds = {source["kind"] for source in district["breakdown"]["sources"]}
    if kinds == {"child_unit"}:
        street = await stored(session, run, "street", "330205001")
        assert district["counts"] == street["counts"]


async def test_a_stored_run_recomputes_to_the_same_values(session):
    _, admin = await generate(session, random.Random(3), 150)
    run = await compute_and_store(session, admin)
    async with read_snapshot() as snapshot:
        verdict = await service.verify_run(session, snapshot, run.id)
    assert verdict.matches, verdict.differences
    assert verdict.compared > 10
