"""The staff directory (派单台's address book): grid teams and departments in the caller's scope, their
members with staff ids and duty, and how much open work each one holds. Read-only; any staff role."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.models import Department, Member, OrgUnit, Request, StaffAccount, Team
from services.org.errors import OrgUnitNotFound
from shared.auth import Principal
from shared.pagination import decode_cursor, next_cursor

# Work a unit or person holds: routed and not yet resolved (a resolved request waits on the citizen).
HELD_STATUSES = ("assigned", "accepted", "suspended")


class DirectoryMember(BaseModel):
    """A person in a team or department: who to hand a request to."""

    model_config = ConfigDict(from_attributes=True)

    staff_id: int = Field(
        description="The staff account id (`handler_id` of `POST .../reassign`, `handling.handler_id`)"
    )
    member_id: int = Field(description="The membership's id")
    username: str
    display_name: str
    team_role: str
    on_duty: bool
    open_load: int = Field(description="Requests this person handles that are assigned, accepted or suspended")


class DirectoryTeam(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "name": "第1网格服务团队",
                    "grid_code": "330203001001001",
                    "grid_name": "第1网格",
                    "open_load": 7,
                    "queued": 2,
                    "on_duty_count": 3,
                    "members": [
                        {
                            "staff_id": 41,
                            "member_id": 88,
                            "username": "gw_330203001001001_1",
                            "display_name": "网格员 张敏",
                            "team_role": "grid_worker",
                            "on_duty": True,
                            "open_load": 4,
                        }
                    ],
                }
            ]
        },
    )

    id: int = Field(description="The team's id (`team_id` of `POST .../reassign`, `handling.lead_team_id`)")
    name: str
    grid_code: str
    grid_name: str
    open_load: int = Field(description="Requests the team leads that are assigned, accepted or suspended")
    queued: int = Field(description="Of those, the ones no member has claimed yet (the team queue)")
    on_duty_count: int
    members: list[DirectoryMember]


class DirectoryDepartment(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "code": "330203-hj",
                    "name": "海曙区环境保护局",
                    "scope_code": "330203",
                    "open_load": 15,
                    "queued": 6,
                    "on_duty_count": 2,
                    "members": [],
                }
            ]
        },
    )

    id: int = Field(description="The department's id (`handling.lead_department_id`)")
    code: str = Field(description="The department's code (`department_code` of `POST .../reassign`)")
    name: str
    scope_code: str = Field(description="The org unit the department serves (the city or a district)")
    open_load: int = Field(description="Requests the department leads that are assigned, accepted or suspended")
    queued: int = Field(description="Of those, the ones no member has claimed yet (the department queue)")
    on_duty_count: int
    members: list[DirectoryMember]


@dataclass(slots=True)
class _Load:
    open_load: int = 0
    queued: int = 0


@dataclass(slots=True)
class TeamEntry:
    id: int
    name: str
    grid_code: str
    grid_name: str
    open_load: int
    queued: int
    members: list[DirectoryMember] = field(default_factory=list)

    @property
    def on_duty_count(self) -> int:
        return sum(m.on_duty for m in self.members)


@dataclass(slots=True)
class DepartmentEntry:
    id: int
    code: str
    name: str
    scope_code: str
    open_load: int
    queued: int
    members: list[DirectoryMember] = field(default_factory=list)

    @property
    def on_duty_count(self) -> int:
        return sum(m.on_duty for m in self.members)


def _name_filter(column: InstrumentedAttribute[str], q: str | None) -> ColumnElement[bool]:
    if not q:
        return literal(True)
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return column.ilike(pattern, escape="\\")


async def _unit_loads(
    session: AsyncSession, column: InstrumentedAttribute[int | None], ids: Iterable[int]
) -> dict[int, _Load]:
    ids = list(ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(column, func.count(), func.count().filter(Request.handler_id.is_(None)))
        .where(column.in_(ids), Request.status.in_(HELD_STATUSES))
        .group_by(column)
    )
    return {unit_id: _Load(total, queued) for unit_id, total, queued in rows if unit_id is not None}


async def _members(session: AsyncSession, home: ColumnElement[bool]) -> list[tuple[int, DirectoryMember]]:
    """(team or department id, member) for every member matching `home`, with each person's open load."""
    load = (
        select(Request.handler_id, func.count().label("n"))
        .where(Request.status.in_(HELD_STATUSES), Request.handler_id.is_not(None))
        .group_by(Request.handler_id)
        .subquery()
    )
    rows = await session.execute(
        select(Member, StaffAccount.username, StaffAccount.display_name, func.coalesce(load.c.n, 0))
        .join(StaffAccount, StaffAccount.id == Member.staff_id)
        .outerjoin(load, load.c.handler_id == Member.staff_id)
        .where(home, StaffAccount.active.is_(True))
        .order_by(Member.id)
    )
    found: list[tuple[int, DirectoryMember]] = []
    for member, username, display_name, open_load in rows:
        home_id = member.team_id if member.team_id is not None else member.department_id
        found.append(
            (
                home_id,
                DirectoryMember(
                    staff_id=member.staff_id,
                    member_id=member.id,
                    username=username,
                    display_name=display_name,
                    team_role=member.team_role,
                    on_duty=member.on_duty,
                    open_load=open_load,
                ),
            )
        )
    return found


async def list_teams(
    session: AsyncSession,
    principal: Principal,
    *,
    org_unit_code: str | None,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[TeamEntry], str | None]:
    """Grid teams whose grid lies in the caller's subtree (and under `org_unit_code` when given)."""
    prefix = principal.scope_path
    if org_unit_code is not None:
        unit = await session.scalar(select(OrgUnit).where(OrgUnit.code == org_unit_code))
        if unit is None or not principal.covers(unit.path):
            raise OrgUnitNotFound(f"No org unit {org_unit_code} in your scope")
        prefix = unit.path
    after = decode_cursor(cursor)
    query = (
        select(Team.id, Team.name, OrgUnit.code, OrgUnit.name)
        .join(OrgUnit, OrgUnit.id == Team.grid_unit_id)
        .where(OrgUnit.path.startswith(prefix, autoescape=True), _name_filter(Team.name, q))
        .order_by(Team.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(Team.id > after)
    teams = [TeamEntry(tid, name, code, grid_name, 0, 0) for tid, name, code, grid_name in await session.execute(query)]
    by_id = {t.id: t for t in teams}
    for team_id, load in (await _unit_loads(session, Request.lead_team_id, by_id)).items():
        by_id[team_id].open_load, by_id[team_id].queued = load.open_load, load.queued
    if by_id:
        for team_id, member in await _members(session, Member.team_id.in_(list(by_id))):
            by_id[team_id].members.append(member)
    return teams, next_cursor([t.id for t in teams], limit)


async def list_departments(
    session: AsyncSession, principal: Principal, *, q: str | None, cursor: str | None, limit: int
) -> tuple[list[DepartmentEntry], str | None]:
    """Active departments that serve the caller's area: city-wide and district departments above the
    caller's scope (a district dispatcher hands work to city bureaus too) and those inside it."""
    after = decode_cursor(cursor)
    scope = principal.scope_path
    serves_caller = or_(
        OrgUnit.path.startswith(scope, autoescape=True),
        literal(scope).startswith(OrgUnit.path),
    )
    query = (
        select(Department.id, Department.code, Department.name, OrgUnit.code)
        .join(OrgUnit, OrgUnit.id == Department.scope_unit_id)
        .where(Department.active.is_(True), serves_caller, _name_filter(Department.name, q))
        .order_by(Department.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(Department.id > after)
    departments = [
        DepartmentEntry(did, code, name, scope_code, 0, 0)
        for did, code, name, scope_code in await session.execute(query)
    ]
    by_id = {d.id: d for d in departments}
    for department_id, load in (await _unit_loads(session, Request.lead_department_id, by_id)).items():
        by_id[department_id].open_load, by_id[department_id].queued = load.open_load, load.queued
    if by_id:
        for department_id, member in await _members(session, Member.department_id.in_(list(by_id))):
            by_id[department_id].members.append(member)
    return departments, next_cursor([d.id for d in departments], limit)
