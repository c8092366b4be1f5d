"""Escalation up the org tree (逐级督办), one level per step, shared by the SLA clock and the handlers'
`escalate` action.

* Level 1 is the parent of the unit where the request is handled: the grid's community for a grid team
  (the request's `unit_path`), the parent of the department's scope unit for a department (a city
  department's parent is the city itself). Each further step goes one level up, until the city.
* Who is told at each step: the active supervisors scoped at exactly that unit (`supervisor_ids`), and
  for key-group categories (重点人群) the leaders linked to that unit (`leader_ids`, services/routing/leaders.py).
  Supervisors above see it as well, in their inbox (their subtree holds it).
* Each step is an `escalated` event in the trail (level, to_unit_path, to_unit_code, supervisor_ids,
  leader_ids, reason) and a `request.escalated` webhook. A step at the city records the event again
  (the city's supervisors are told again) without raising the level.
* The clock (`services/lifecycle/sweep.py`): turning overdue is one step (`overdue`); a request still
  overdue and open (not suspended) `escalation_delay` after its last step climbs one more (`timed`).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.config import service as config
from services.lifecycle.changes import record_change
from services.lifecycle.notices import emit_request_event
from services.models import Category, Department, Escalation, LeaderLink, OrgUnit, Request, StaffAccount

# The default wait before a still-overdue request climbs the next level: 24 h of clock time (a working day
# or more, whatever the calendar), read only through `escalation_delay`.
DEFAULT_ESCALATION_DELAY = timedelta(hours=24)  # the setting's default, for tests and docs
SUPERVISOR = "supervisor"


async def escalation_delay(session: AsyncSession) -> timedelta:
    """How long after its last step a still-overdue request climbs the next level (the one place that
    reads the rule setting `handling.escalation_delay_hours`)."""
    return timedelta(hours=(await config.current(session)).handling.escalation_delay_hours)


def parent_path(path: str) -> str:
    """The parent unit's path; the city (one code) and the root `/` are their own parents."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[:-1]) + "/" if len(parts) > 1 else path


def is_top(path: str) -> bool:
    """Whether `path` is the city (or the root): nothing above it to escalate to."""
    return len([p for p in path.split("/") if p]) <= 1


@dataclass(frozen=True, slots=True)
class Step:
    """One escalation step as planned: where to, who is told, the level it reaches."""

    level: int
    to_path: str
    to_unit_id: int | None
    to_code: str | None
    to_name: str | None
    moved: bool  # False at the city: told again, same level
    supervisor_ids: list[int] = field(default_factory=list)
    leader_ids: list[int] = field(default_factory=list)

    def unit_ref(self) -> dict[str, str | None]:
        return {"code": self.to_code, "name": self.to_name, "path": self.to_path}


async def handling_path(session: AsyncSession, request: Request) -> str:
    """The scope path of where the request is handled: its department's scope unit, else its own unit."""
    if request.lead_team_id is None and request.lead_department_id is not None:
        path = await session.scalar(
            select(OrgUnit.path)
            .join(Department, Department.scope_unit_id == OrgUnit.id)
            .where(Department.id == request.lead_department_id)
        )
        if path is not None:
            return path
    return request.unit_path


async def _unit_at(session: AsyncSession, path: str) -> OrgUnit | None:
    if path == "/":  # an unlocated request escalates to the top of the tree
        return await session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id).limit(1))
    return await session.scalar(select(OrgUnit).where(OrgUnit.path == path))


async def supervisors_at(session: AsyncSession, unit_id: int) -> list[int]:
    """The active supervisors scoped at exactly this unit."""
    return list(
        await session.scalars(
            select(StaffAccount.id)
            .where(
                StaffAccount.role == SUPERVISOR,
                StaffAccount.active.is_(True),
                StaffAccount.scope_unit_id == unit_id,
            )
            .order_by(StaffAccount.id)
        )
    )


async def _key_group(session: AsyncSession, request: Request) -> bool:
    flag = await session.scalar(select(Category.key_group).where(Category.code == request.category_code))
    return bool(flag)


async def plan(session: AsyncSession, request: Request) -> Step:
    """The next step for `request` (held locked by the caller), without changing anything."""
    current = await session.get(Escalation, request.id, with_for_update=True, populate_existing=True)
    if current is None:
        target, level, moved = parent_path(await handling_path(session, request)), 1, True
    else:
        target = parent_path(current.to_path)
        moved = target != current.to_path
        level = current.level + (1 if moved else 0)
    unit = await _unit_at(session, target)
    supervisors: list[int] = []
    leaders: list[int] = []
    if unit is not None:
        target = unit.path
        supervisors = await supervisors_at(session, unit.id)
        if await _key_group(session, request):
            leaders = sorted(
                set(await session.scalars(select(LeaderLink.leader_id).where(LeaderLink.org_unit_id == unit.id)))
            )
    return Step(
        level=level,
        to_path=target,
        to_unit_id=unit.id if unit else None,
        to_code=unit.code if unit else None,
        to_name=unit.name if unit else None,
        moved=moved,
        supervisor_ids=supervisors,
        leader_ids=leaders,
    )


async def apply(
    session: AsyncSession,
    request: Request,
    step: Step,
    actor: str,
    *,
    reason: str,
    note: str | None = None,
    now: datetime | None = None,
) -> None:
    """Take `step`: store the level, log the `escalated` event, owe the `request.escalated` webhook."""
    now = now or datetime.now(UTC)
    current = await session.get(Escalation, request.id)
    if current is None:
        session.add(
            Escalation(
                request_id=request.id,
                level=step.level,
                to_unit_id=step.to_unit_id,
                to_path=step.to_path,
                escalated_at=now,
                reason=reason,
            )
        )
    else:
        current.level, current.to_unit_id, current.to_path = step.level, step.to_unit_id, step.to_path
        current.escalated_at, current.reason = now, reason
    request.escalated_at = now
    await session.flush()  # the sessions do not autoflush: a later step in this transaction must see the row
    await record_change(
        session,
        request,
        "escalated",
        actor,
        note=note,
        data={
            "level": step.level,
            "reason": reason,
            "to_unit_path": step.to_path,
            "to_unit_code": step.to_code,
            "supervisor_ids": step.supervisor_ids,
            "leader_ids": step.leader_ids,
        },
    )
    await emit_request_event(
        session,
        "request.escalated",
        request,
        level=step.level,
        reason=reason,
        escalated_to=step.unit_ref(),
        supervisor_ids=step.supervisor_ids,
        leader_ids=step.leader_ids,
        note=note,
    )


async def escalate(
    session: AsyncSession,
    request: Request,
    actor: str,
    *,
    reason: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Step:
    """One step up for `request` (the caller holds it locked): plan it and take it."""
    step = await plan(session, request)
    await apply(session, request, step, actor, reason=reason, note=note, now=now)
    return step
