"""Joint handling (民情会办): one lead unit and co-units (协办), departments or grid teams, each with a
task of its own (assigned → accepted → replied, or waived by a dispatcher) and its own reply deadline.

Co-units' members see the request and its trail; the lead resolves only when every co-unit has replied
or been waived. A return (the lead gives the request back) ends the joint set: the open tasks are
cancelled and whoever handles the request next starts again (a joint rule or a dispatcher names co-units).
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.handling import auth
from services.handling.errors import CoTaskNotFound, CoTasksOpen
from services.handling.schemas import CoTaskAcceptIn, CoTaskReplyIn, CoTaskWaiveIn, JointIn
from services.handling.workflow import next_co_task_status, next_status
from services.intake import service as intake
from services.intake.errors import RequestNotFound
from services.lifecycle.changes import record_change
from services.models import CoTask, Department, Member, OrgUnit, Request, Team
from services.models.handling import LIVE_CO_TASK_STATUSES, OPEN_CO_TASK_STATUSES
from services.org import repository as org_repo
from services.routing.co_tasks import co_task_deadline
from services.sla import service as sla
from shared.auth import Principal, actor_of
from shared.errors import InvalidInput, StaleVersion, field_error
from shared.schemas import local_iso

MAX_CO_UNITS_AT_ONCE = 10


async def live_co_tasks(session: AsyncSession, request_id: int) -> list[CoTask]:
    return list(
        await session.scalars(
            select(CoTask)
            .where(CoTask.request_id == request_id, CoTask.status.in_(LIVE_CO_TASK_STATUSES))
            .order_by(CoTask.id)
        )
    )


async def joint(session: AsyncSession, principal: Principal, request: Request, data: JointIn) -> None:
    """A dispatcher adds co-units, departments (by code or id) and grid teams; the lead stays responsible.
    A unit already in the joint set, or the lead itself, is left as it is."""
    next_status("joint", request.status)
    if data.unit_count == 0:
        raise InvalidInput(
            "Name at least one co-unit",
            errors=[field_error("department_codes", "give department_codes, department_ids or team_ids")],
        )
    if data.unit_count > MAX_CO_UNITS_AT_ONCE:
        raise InvalidInput(
            "Too many co-units at once",
            errors=[field_error("team_ids", f"at most {MAX_CO_UNITS_AT_ONCE} co-units in one call")],
        )
    departments = await _departments(session, request, data)
    teams = await _teams(session, principal, data.team_ids)
    now = datetime.now(UTC)
    if data.respond_by is not None and data.respond_by <= now:
        raise InvalidInput("The reply deadline has passed", errors=[field_error("respond_by", "in the past")])
    respond_by = data.respond_by or co_task_deadline(await sla.calendar(session), now, request.resolve_by)
    live = await live_co_tasks(session, request.id)
    have_departments = {t.department_id for t in live if t.department_id is not None}
    have_teams = {t.team_id for t in live if t.team_id is not None}
    actor = actor_of(principal)
    added: list[CoTask] = []
    for department in departments:
        if department.id in have_departments or department.id == request.lead_department_id:
            continue
        have_departments.add(department.id)
        added.append(
            CoTask(request_id=request.id, department_id=department.id, respond_by=respond_by, created_by=actor)
        )
    for team in teams:
        if team.id in have_teams or team.id == request.lead_team_id:
            continue
        have_teams.add(team.id)
        added.append(CoTask(request_id=request.id, team_id=team.id, respond_by=respond_by, created_by=actor))
    session.add_all(added)
    await session.flush()
    request.co_department_ids = [
        *request.co_department_ids,
        *(
            t.department_id
            for t in added
            if t.department_id is not None and t.department_id not in request.co_department_ids
        ),
    ]
    await record_change(
        session,
        request,
        "joint",
        actor,
        note=data.note,
        data={
            "co_department_ids": request.co_department_ids,
            "co_tasks": [_unit_of(t) | {"id": t.id, "respond_by": local_iso(t.respond_by)} for t in added],
        },
    )


def _unit_of(task: CoTask) -> dict[str, Any]:
    return {"team_id": task.team_id} if task.team_id is not None else {"department_id": task.department_id}


async def _departments(session: AsyncSession, request: Request, data: JointIn) -> list[Department]:
    """The departments named by code and by id, each active and serving the request's area; 422 naming the
    first one that is not."""
    by_code = await org_repo.departments_by_codes(session, data.department_codes)
    by_id = {
        d.id: d
        for d in (
            await session.scalars(select(Department).where(Department.id.in_(data.department_ids)))
            if data.department_ids
            else []
        )
    }
    named: list[tuple[list[str | int], Department | None]] = [
        (["department_codes", i], by_code.get(code)) for i, code in enumerate(data.department_codes)
    ]
    named += [(["department_ids", i], by_id.get(d)) for i, d in enumerate(data.department_ids)]
    scopes = {
        u.id: u.path
        for u in await session.scalars(
            select(OrgUnit).where(OrgUnit.id.in_({d.scope_unit_id for _, d in named if d is not None}))
        )
    }
    found: list[Department] = []
    for loc, department in named:
        if department is None or not department.active:
            raise InvalidInput("No such department", errors=[field_error(loc, "unknown department")])
        if not request.unit_path.startswith(scopes.get(department.scope_unit_id, "\x00")):
            raise InvalidInput(
                "The department does not serve the request's area",
                errors=[field_error(loc, "outside the department's area")],
            )
        found.append(department)
    return found


async def _teams(session: AsyncSession, principal: Principal, team_ids: list[int]) -> list[Team]:
    """The grid teams named, each in the dispatcher's scope; 422 naming the first one that is not."""
    if not team_ids:
        return []
    rows = await session.execute(
        select(Team, OrgUnit.path).join(OrgUnit, OrgUnit.id == Team.grid_unit_id).where(Team.id.in_(team_ids))
    )
    teams = {team.id: (team, path) for team, path in rows.all()}
    found: list[Team] = []
    for index, team_id in enumerate(team_ids):
        hit = teams.get(team_id)
        if hit is None or not principal.covers(hit[1]):
            raise InvalidInput("No such team in your scope", errors=[field_error(["team_ids", index], "unknown team")])
        found.append(hit[0])
    return found


async def check_co_tasks_done(session: AsyncSession, request: Request) -> None:
    """The lead resolves only when every co-unit has replied or been waived: 409 naming the open tasks."""
    open_tasks = (
        await session.execute(
            select(CoTask, Team.name, Department.name)
            .outerjoin(Team, Team.id == CoTask.team_id)
            .outerjoin(Department, Department.id == CoTask.department_id)
            .where(CoTask.request_id == request.id, CoTask.status.in_(OPEN_CO_TASK_STATUSES))
            .order_by(CoTask.id)
        )
    ).all()
    if not open_tasks:
        return
    names = [team_name or department_name or "" for _, team_name, department_name in open_tasks]
    raise CoTasksOpen(
        f"Co-units have not replied yet: {', '.join(names)}; they reply, or a dispatcher waives their part",
        errors=[
            field_error(["co_tasks", task.id], f"{name}: {task.status}, not replied", "co_task_open")
            for (task, _, _), name in zip(open_tasks, names, strict=True)
        ],
    )


async def cancel_co_tasks(session: AsyncSession, request: Request) -> list[int]:
    """End the live co-tasks of the request (its joint set ends): the ids cancelled."""
    stmt = select(CoTask).where(CoTask.request_id == request.id, CoTask.status.in_(LIVE_CO_TASK_STATUSES))
    tasks = list(await session.scalars(stmt.with_for_update()))
    now = datetime.now(UTC)
    cancelled = []
    for task in tasks:
        task.status = "cancelled"
        task.cancelled_at = now
        task.version += 1
        cancelled.append(task.id)
    return cancelled


async def cancel_co_task_of_lead(session: AsyncSession, request: Request) -> int | None:
    """When the request's new lead was one of its co-units, that unit's task ends (a unit cannot help itself)."""
    if request.lead_team_id is None and request.lead_department_id is None:
        return None
    unit = (
        CoTask.team_id == request.lead_team_id
        if request.lead_team_id is not None
        else CoTask.department_id == request.lead_department_id
    )
    task = await session.scalar(
        select(CoTask)
        .where(CoTask.request_id == request.id, CoTask.status.in_(LIVE_CO_TASK_STATUSES), unit)
        .with_for_update()
    )
    if task is None:
        return None
    task.status = "cancelled"
    task.cancelled_at = datetime.now(UTC)
    task.version += 1
    if task.department_id is not None:
        request.co_department_ids = [d for d in request.co_department_ids if d != task.department_id]
    return task.id


# ---- a co-unit's part --------------------------------------------------------------------------


async def _is_member(session: AsyncSession, staff_id: int, task: CoTask) -> bool:
    unit = Member.team_id == task.team_id if task.team_id is not None else Member.department_id == task.department_id
    return await session.scalar(select(Member.id).where(Member.staff_id == staff_id, unit).limit(1)) is not None


async def load_co_task(
    session: AsyncSession, principal: Principal, request_id: int, task_id: int, action: str, if_match: int | None
) -> tuple[Request, CoTask]:
    """Lock the request and its co-task, and check the caller may take `action` (accept, reply, waive) on it."""
    request = await session.get(Request, request_id, with_for_update=True, populate_existing=True)
    if request is None or not principal.is_staff:
        raise RequestNotFound(f"No request {request_id}")
    task = await session.get(CoTask, task_id, with_for_update=True, populate_existing=True)
    visible = await intake.can_see(session, principal, request)
    if task is None or task.request_id != request.id:
        if not visible:
            raise RequestNotFound(f"No request {request_id}")
        raise CoTaskNotFound(f"Request {request_id} has no co-unit task {task_id}")
    is_member = await _is_member(session, principal.id, task)
    auth.check_may_work_co_task(principal, request, action, is_member=is_member, can_see=visible)
    if if_match is not None and if_match != request.version:
        raise StaleVersion(f"The request changed (version {request.version}, you sent {if_match}); read it again")
    next_status("waive_co_task" if action == "waive" else "co_task", request.status)
    return request, task


async def _unit_name(session: AsyncSession, task: CoTask) -> str:
    if task.team_id is not None:
        return str(await session.scalar(select(Team.name).where(Team.id == task.team_id)) or "")
    return str(await session.scalar(select(Department.name).where(Department.id == task.department_id)) or "")


async def accept_co_task(
    session: AsyncSession, principal: Principal, request: Request, task: CoTask, data: CoTaskAcceptIn
) -> None:
    task.status = next_co_task_status("accept", task.status)
    task.accepted_at = datetime.now(UTC)
    task.accepted_by = principal.id
    task.version += 1
    await record_change(
        session,
        request,
        "co_task_accepted",
        actor_of(principal),
        note=data.note,
        data={"co_task_id": task.id, **_unit_of(task), "co_unit_name": await _unit_name(session, task)},
    )


async def reply_co_task(
    session: AsyncSession, principal: Principal, request: Request, task: CoTask, data: CoTaskReplyIn
) -> None:
    """The co-unit's reply on its part; a public one shows in the citizen's tracking under the unit's name."""
    task.status = next_co_task_status("reply", task.status)
    now = datetime.now(UTC)
    task.reply, task.reply_public = data.reply, data.public
    task.replied_at, task.replied_by = now, principal.id
    if task.accepted_at is None:
        task.accepted_at, task.accepted_by = now, principal.id
    task.version += 1
    await record_change(
        session,
        request,
        "co_task_replied",
        actor_of(principal),
        note=data.reply,
        public=data.public,
        data={
            "co_task_id": task.id,
            **_unit_of(task),
            "co_unit_name": await _unit_name(session, task),
            "on_time": now <= task.respond_by,
        },
    )


async def waive_co_task(
    session: AsyncSession, principal: Principal, request: Request, task: CoTask, data: CoTaskWaiveIn
) -> None:
    """A dispatcher excuses the co-unit; the lead no longer waits for its reply."""
    task.status = next_co_task_status("waive", task.status)
    actor = actor_of(principal)
    task.waived_at, task.waived_by, task.waive_reason = datetime.now(UTC), actor, data.reason
    task.version += 1
    await record_change(
        session,
        request,
        "co_task_waived",
        actor,
        note=data.reason,
        data={"co_task_id": task.id, **_unit_of(task), "co_unit_name": await _unit_name(session, task)},
    )
