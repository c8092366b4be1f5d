"""Appeals (申诉/核减): a handling unit asks that a request not count in its rates; a supervisor decides.

Who may file: a member of the grid team or department appealing (or an admin), for a request that was
dispatched to that unit. Who decides: a supervisor or admin whose scope covers the unit, not the filer.
An approved appeal removes the request from that unit's figures (and so from its org units' totals)
in every run whose as_of is at or after the decision; it shows in the unit's breakdown. A supervisor may
revoke an approval: runs counting decisions after the revocation count the request again.

Filing, approval, rejection and revocation are events in the request's hash-chained trail (with the
explanation, note or reason as the event's note), and decisions and revocations are in the admin audit too.
An approval or revocation after the period's run was published makes a corrected run that republishes.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import service as audit
from services.lifecycle.events import append_event
from services.models import Assignment, Department, Member, OrgUnit, ScoreAppeal, Team
from services.scoring import repository as repo
from services.scoring import service
from services.scoring.auth import check_may_appeal
from services.scoring.errors import (
    AppealDecided,
    AppealExists,
    AppealNotApproved,
    AppealNotFound,
    HandlingUnitNotFound,
)
from services.scoring.schemas import AppealCreate, AppealDecision, AppealRevoke, HandlingUnitOut
from shared.auth import Principal, actor_of
from shared.errors import Forbidden, InvalidInput, check_version, field_error
from shared.pagination import decode_cursor, next_cursor
from shared.views import Rows, RowWith

SYSTEM_ACTOR = "system:scoring"


async def _unit_of(
    session: AsyncSession, kind: str, code: str
) -> tuple[int | None, int | None, str, HandlingUnitOut] | None:
    """(team id, department id, scope path, description) of a grid team (by grid code) or a department."""
    is_team = kind == "grid_team"
    if is_team:
        query = select(Team.id, Team.name, OrgUnit.path).join(OrgUnit, OrgUnit.id == Team.grid_unit_id)
        query = query.where(OrgUnit.code == code)
    else:
        query = select(Department.id, Department.name, OrgUnit.path)
        query = query.join(OrgUnit, OrgUnit.id == Department.scope_unit_id).where(Department.code == code)
    row = (await session.execute(query)).first()
    if row is None:
        return None
    described = HandlingUnitOut(kind="grid_team" if is_team else "department", code=code, name=row.name)
    team_id, department_id = (row.id, None) if is_team else (None, row.id)
    return team_id, department_id, row.path, described


async def _describe(session: AsyncSession, appeal: ScoreAppeal) -> HandlingUnitOut:
    if appeal.team_id is not None:
        row = (
            await session.execute(
                select(Team.name, OrgUnit.code)
                .join(OrgUnit, OrgUnit.id == Team.grid_unit_id)
                .where(Team.id == appeal.team_id)
            )
        ).one()
        return HandlingUnitOut(kind="grid_team", code=row.code, name=row.name)
    department = await session.get(Department, appeal.department_id)
    assert department is not None
    return HandlingUnitOut(kind="department", code=department.code, name=department.name)


@dataclass(frozen=True, slots=True)
class AppealView(RowWith[ScoreAppeal]):
    """An appeal with the handling unit it is about (`AppealOut`)."""

    unit: HandlingUnitOut

    @property
    def filed_at(self) -> datetime:
        return self.row.created_at


async def file_appeal(session: AsyncSession, principal: Principal, data: AppealCreate) -> AppealView:
    found = await _unit_of(session, data.unit.kind, data.unit.code)
    if found is None or not principal.covers(found[2]):
        raise HandlingUnitNotFound(
            f"No {data.unit.kind.replace('_', ' ')} {data.unit.code!r}",
            errors=[field_error(["unit", "code"], "unknown")],
        )
    team_id, department_id, unit_path, described = found
    home = Member.team_id == team_id if team_id is not None else Member.department_id == department_id
    is_member = await session.scalar(select(Member.id).where(Member.staff_id == principal.id, home)) is not None
    check_may_appeal(principal, is_unit_member=is_member)
    held = Assignment.team_id == team_id if team_id is not None else Assignment.department_id == department_id
    dispatched = await session.scalar(
        select(Assignment.id).where(Assignment.request_id == data.request_id, held).limit(1)
    )
    if dispatched is None:
        raise InvalidInput(
            "That request was never dispatched to this unit",
            errors=[field_error("request_id", "not a request of this unit")],
        )
    existing = await session.scalar(
        select(ScoreAppeal.id).where(
            ScoreAppeal.request_id == data.request_id,
            ScoreAppeal.team_id.is_(None) if team_id is None else ScoreAppeal.team_id == team_id,
            ScoreAppeal.department_id.is_(None)
            if department_id is None
            else ScoreAppeal.department_id == department_id,
        )
    )
    if existing is not None:
        raise AppealExists(f"This unit already appealed request {data.request_id} (appeal {existing})")
    appeal = ScoreAppeal(
        request_id=data.request_id,
        team_id=team_id,
        department_id=department_id,
        unit_path=unit_path,
        reason=data.reason,
        explanation=data.explanation,
        status="pending",
        filed_by_id=principal.id,
    )
    session.add(appeal)
    await session.flush()
    await _trail(session, principal, appeal, "appeal_filed", data.explanation, described)
    await session.refresh(appeal)
    return AppealView(appeal, described)


async def _trail(
    session: AsyncSession,
    principal: Principal,
    appeal: ScoreAppeal,
    kind: str,
    evidence: str | None,
    unit: HandlingUnitOut,
    corrected_runs: list[int] | None = None,
) -> None:
    """The appeal's step in the trail of the request it is about; the evidence text is the event's note."""
    data = {
        "appeal_id": appeal.id,
        "unit": {"kind": unit.kind, "code": unit.code},
        "reason": appeal.reason,
        "status": appeal.status,
        "appeal_version": appeal.version,
    }
    if corrected_runs:
        data["corrected_runs"] = corrected_runs
    await append_event(session, appeal.request_id, kind, actor_of(principal), note=evidence, data=data)


async def _get(session: AsyncSession, principal: Principal, appeal_id: int, *, lock: bool = False) -> ScoreAppeal:
    appeal = await session.get(ScoreAppeal, appeal_id, with_for_update=lock, populate_existing=lock)
    if appeal is None or not principal.covers(appeal.unit_path):
        raise AppealNotFound(f"No appeal {appeal_id}")
    return appeal


async def get_appeal(session: AsyncSession, principal: Principal, appeal_id: int) -> AppealView:
    appeal = await _get(session, principal, appeal_id)
    return AppealView(appeal, await _describe(session, appeal))


async def list_appeals(
    session: AsyncSession, principal: Principal, *, status: str | None, cursor: str | None, limit: int
) -> Rows[AppealView]:
    appeals = await repo.appeals_page(session, principal.scope_path, status, decode_cursor(cursor), limit)
    items = [AppealView(a, await _describe(session, a)) for a in appeals]
    return Rows(items, next_cursor([a.id for a in appeals], limit))


async def decide_appeal(
    session: AsyncSession, principal: Principal, appeal_id: int, data: AppealDecision, if_match: int | None
) -> AppealView:
    """Approve or reject once; the version you read must be current."""
    appeal = await _get(session, principal, appeal_id, lock=True)
    if appeal.filed_by_id == principal.id:
        raise Forbidden("Whoever filed an appeal does not decide it")
    check_version(appeal.version, data.version or if_match)
    if appeal.status != "pending":
        raise AppealDecided(f"Appeal {appeal_id} was already {appeal.status}")
    before = {"status": appeal.status, "version": appeal.version}
    appeal.status = data.decision
    appeal.decision_note = data.note
    appeal.decided_by_id = principal.id
    appeal.decided_at = datetime.now(UTC)
    appeal.version += 1
    await session.flush()
    corrected: list[int] = []
    if appeal.status == "approved":  # a rejection changes no figure: nothing to correct
        corrected = await service.correct_public_runs(session, appeal.request_id, appeal.decided_at, SYSTEM_ACTOR)
    after: dict[str, object] = {"status": appeal.status, "note": appeal.decision_note, "version": appeal.version}
    if corrected:
        after["corrected_runs"] = corrected
    await audit.record(session, principal, "appeal.decided", "score_appeal", appeal.id, before=before, after=after)
    unit = await _describe(session, appeal)
    kind = "appeal_approved" if appeal.status == "approved" else "appeal_rejected"
    evidence = appeal.decision_note or appeal.explanation
    await _trail(session, principal, appeal, kind, evidence, unit, corrected)
    await session.refresh(appeal)
    return AppealView(appeal, unit)


async def revoke_appeal(
    session: AsyncSession, principal: Principal, appeal_id: int, data: AppealRevoke, if_match: int | None
) -> AppealView:
    """Revoke an approved appeal (supervisor or admin in scope): runs counting decisions after now count the
    request for the unit again; a published run of its period is corrected and republished."""
    appeal = await _get(session, principal, appeal_id, lock=True)
    check_version(appeal.version, data.version or if_match)
    if appeal.status != "approved":
        raise AppealNotApproved(f"Appeal {appeal_id} is {appeal.status}; only an approved appeal can be revoked")
    before = {"status": appeal.status, "version": appeal.version}
    appeal.status = "revoked"
    appeal.revoked_at = datetime.now(UTC)
    appeal.revoked_by_id = principal.id
    appeal.revoke_reason = data.reason
    appeal.version += 1
    await session.flush()
    corrected = await service.correct_public_runs(session, appeal.request_id, appeal.revoked_at, SYSTEM_ACTOR)
    after: dict[str, object] = {"status": appeal.status, "reason": appeal.revoke_reason, "version": appeal.version}
    if corrected:
        after["corrected_runs"] = corrected
    await audit.record(session, principal, "appeal.revoked", "score_appeal", appeal.id, before=before, after=after)
    unit = await _describe(session, appeal)
    await _trail(session, principal, appeal, "appeal_revoked", data.reason, unit, corrected)
    await session.refresh(appeal)
    return AppealView(appeal, unit)
