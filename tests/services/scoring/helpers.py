"""Requests, assignments, evaluations and visits written straight through the ORM at chosen times,
and a helper that computes and stores a run the way the API does (data must be committed first:
a run reads through its own snapshot session)."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

import services.models.scoring  # noqa: F401 - the scoring tables in the metadata
from services.models import Assignment, Feedback, OrgUnit, Request, ScoreRun, StaffAccount, Team
from services.scoring import figures, repository, service
from services.scoring.repository import read_snapshot
from services.scoring.schemas import RunCreate
from services.scoring.scheme import SchemeDocument
from shared.auth import Principal
from tests.factories import make_assignment, make_feedback, make_handling_setup, make_request, make_staff

# 10 Oct 2026, 10:00 in Ningbo: inside the period 2026-10 = [30 Sep 16:00 UTC, 31 Oct 16:00 UTC).
OCT = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)
AS_OF = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
PERIOD = "2026-10"

H = timedelta(hours=1)
D = timedelta(days=1)
A, B, C = "330203001001001", "330203002001001", "330205001001001"

_tracking = itertools.count(200_000_000_000_001)


def principal_of(staff: StaffAccount, scope: OrgUnit) -> Principal:
    return Principal(
        kind="staff", id=staff.id, name=staff.username, role=staff.role, scope_path=scope.path, scope_code=scope.code
    )


async def add_request(
    session: AsyncSession,
    *,
    unit: OrgUnit,
    team: Team | None = None,
    department_id: int | None = None,
    handler: StaffAccount | None = None,
    category: str = "env.noise",
    received_at: datetime = OCT,
    respond_within: timedelta = timedelta(hours=2),
    resolve_within: timedelta = timedelta(days=7),
    accepted_after: timedelta | None = None,
    resolved_after: timedelta | None = None,
    closed_after: timedelta | None = None,
    close_reason: str | None = None,
    status: str | None = None,
    reopen_count: int = 0,
    duplicate_of: Request | None = None,
    dispatch: bool = False,
) -> Request:
    """One request located at `unit`, led by `team` or a department (or waiting for dispatch), with its
    first assignment made a minute after it was received."""
    if status is None:
        status = (
            "closed"
            if closed_after is not None
            else "resolved"
            if resolved_after is not None
            else "accepted"
            if accepted_after is not None
            else "needs_dispatch"
            if dispatch
            else "assigned"
        )
    request = await make_request(
        session,
        unit=unit,
        tracking_no=str(next(_tracking)),
        category_code=category,
        description="测试诉求",
        status=status,
        received_at=received_at,
        respond_by=received_at + respond_within,
        resolve_by=received_at + resolve_within,
        lead_team_id=team.id if team else None,
        lead_department_id=department_id,
        handler_id=handler.id if handler else None,
        accepted_at=received_at + accepted_after if accepted_after is not None else None,
        resolved_at=received_at + resolved_after if resolved_after is not None else None,
        closed_at=received_at + closed_after if closed_after is not None else None,
        close_reason=close_reason,
        reopen_count=reopen_count,
        resolution_no=1 if resolved_after is not None else 0,
        duplicate_of_id=duplicate_of.id if duplicate_of else None,
        routing_no=1,
    )
    await make_assignment(session, request, outcome="needs_dispatch" if dispatch else "assigned")
    return request


async def add_feedback(
    session: AsyncSession,
    request: Request,
    *,
    resolution_no: int,
    resolved: bool,
    satisfaction: str,
    at: datetime,
    team: Team | None = None,
    department_id: int | None = None,
    handler: StaffAccount | None = None,
) -> Feedback:
    """An evaluation, judging the unit named (default: the request's lead at the time)."""
    judged: dict[str, Any] = {}
    if team is not None:
        judged["team_id"] = team.id
    if department_id is not None:
        judged["department_id"] = department_id
    if handler is not None:
        judged["handler_id"] = handler.id
    return await make_feedback(
        session, request, resolution_no=resolution_no, resolved=resolved, satisfaction=satisfaction, created_at=at,
        **judged,
    )  # fmt: skip


async def compute_and_store(
    session: AsyncSession, principal: Principal, *, period: str = PERIOD, as_of: datetime = AS_OF, **extra: Any
) -> ScoreRun:
    """Create a run and compute it inline, as `POST /v1/scores/runs` does, then commit."""
    run, spec = await service.create_run(
        session, principal, RunCreate(period=period, as_of=as_of, background=False, **extra)
    )
    async with read_snapshot() as snapshot:
        await service.run_inline(session, snapshot, run, spec)
    await session.commit()
    return run


async def stored(session: AsyncSession, run: ScoreRun, level: str, code: str) -> dict[str, Any]:
    """The stored figures of one subject of a run, expanded into the API's shapes."""
    row = await repository.result(session, run.id, (level,), code)
    assert row is not None, f"no {level} {code} in run {run.id}"
    if level in ("handler", "leader"):
        return figures.cadre(row.figures)
    scheme = await repository.scheme(session, run.scheme_version)
    assert scheme is not None
    out = figures.unit(row.figures, SchemeDocument.model_validate(scheme.document))
    out["breakdown"] = {**row.figures["breakdown"], "sources": figures.sources(row.figures)}
    return out


async def build_small_fixture(session: AsyncSession) -> tuple[dict[str, Any], Principal, dict[str, Any]]:
    """The fixture of test_small_city.py (its docstring lists R1–R11), committed; (setup, city admin, requests)."""
    s = await make_handling_setup(session)
    units, teams, handlers = s["units"], s["teams"], s["handlers"]
    a1, a2 = handlers[A]
    b1 = handlers[B][0]
    c1 = handlers[C][0]
    hb = s["hb"]
    r1 = await add_request(
        session, unit=units[A], team=teams[A], handler=a1, accepted_after=H, resolved_after=2 * D, closed_after=3 * D,
        close_reason="satisfied",
    )  # fmt: skip
    await add_feedback(session, r1, resolution_no=1, resolved=True, satisfaction="satisfied", at=OCT + 3 * D)
    r2 = await add_request(
        session, unit=units[A], team=teams[A], handler=a1, accepted_after=3 * H, resolved_after=8 * D,
        closed_after=9 * D, close_reason="satisfied", reopen_count=1,
    )  # fmt: skip
    await add_feedback(session, r2, resolution_no=1, resolved=False, satisfaction="dissatisfied", at=OCT + 4 * D)
    await add_feedback(session, r2, resolution_no=2, resolved=True, satisfaction="basically_satisfied", at=OCT + 9 * D)
    await add_request(
        session, unit=units[A], team=teams[A], handler=a2, accepted_after=H, resolved_after=2 * D, closed_after=9 * D,
        close_reason="no_evaluation",
    )  # fmt: skip
    r4 = await add_request(session, unit=units[A], team=teams[A], handler=a2)
    r5 = await add_request(
        session, unit=units[B], team=teams[B], handler=b1, accepted_after=H, resolved_after=D, closed_after=2 * D,
        close_reason="satisfied",
    )  # fmt: skip
    await add_feedback(session, r5, resolution_no=1, resolved=True, satisfaction="basically_satisfied", at=OCT + 2 * D)
    r6 = await add_request(
        session, unit=units[A], department_id=hb.id, handler=s["hb_staff"], category="env", accepted_after=H,
        resolved_after=D, closed_after=2 * D, close_reason="satisfied",
    )  # fmt: skip
    await add_feedback(session, r6, resolution_no=1, resolved=True, satisfaction="satisfied", at=OCT + 2 * D)
    await add_request(session, unit=units[A], dispatch=True, resolve_within=365 * D)
    # R8: first to team C, returned after 30 min; then routed to team B.
    r8 = await add_request(
        session, unit=units[B], team=teams[B], handler=b1, accepted_after=H, resolved_after=D, closed_after=2 * D,
        close_reason="satisfied",
    )  # fmt: skip
    await session.execute(
        update(Assignment)
        .where(Assignment.request_id == r8.id)
        .values(team_id=teams[C].id, handler_id=c1.id, active=False, ended_at=OCT + 30 * timedelta(minutes=1),
                end_reason="returned")
    )  # fmt: skip
    await make_assignment(
        session, r8, routing_no=2, team_id=teams[B].id, handler_id=b1.id, created_at=OCT + 31 * timedelta(minutes=1)
    )
    r8.return_count, r8.routing_no = 1, 2
    await add_feedback(session, r8, resolution_no=1, resolved=True, satisfaction="satisfied", at=OCT + 2 * D)
    await add_request(
        session, unit=units[A], team=teams[A], handler=a1, accepted_after=H, resolved_after=2 * D, closed_after=3 * D,
        close_reason="with_original", duplicate_of=r1,
    )  # fmt: skip
    r10 = await add_request(session, unit=units[B], team=teams[B], handler=b1, accepted_after=H, resolved_after=D)
    await add_feedback(session, r10, resolution_no=1, resolved=False, satisfaction="dissatisfied", at=AS_OF + D)
    await add_request(
        session, unit=units[B], team=teams[B], handler=b1, received_at=datetime(2026, 11, 3, tzinfo=UTC),
        accepted_after=H,
    )  # fmt: skip
    admin = await make_staff(session, "admin_city", "admin", units["3302"])
    await session.commit()
    return s, principal_of(admin, units["3302"]), {"r1": r1, "r4": r4, "r10": r10}


# The staff the scoring API tests call with: name -> (username, role, scope code).
PEOPLE = {
    "admin": ("admin_x", "admin", "3302"),
    "supervisor": ("sup_city", "supervisor", "3302"),
    "district": ("sup_330205", "supervisor", "330205"),
    "auditor": ("aud_city", "auditor", "3302"),
}


async def small_fixture_with_people(
    session: AsyncSession, *names: str
) -> tuple[dict[str, Any], dict[str, StaffAccount], dict[str, Any]]:
    """The small fixture with the staff of `PEOPLE` named, committed: (setup, people, requests)."""
    s, _, facts = await build_small_fixture(session)
    people = {}
    for name in names:
        username, role, scope = PEOPLE[name]
        people[name] = await make_staff(session, username, role, s["units"][scope])
    await session.commit()
    return s, people, facts
