"""Rules of the organisation and configuration domain. Takes a session, never commits."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import service as audit
from services.models import Category, Department, Member, OrgUnit, StaffAccount, Team
from services.models.org import LEVELS
from services.org import repository as repo
from services.org.errors import (
    CategoryNotFound,
    DepartmentNotFound,
    DuplicateCode,
    InUse,
    MemberNotFound,
    OrgUnitNotFound,
    TeamNotFound,
)
from services.org.geometry import check_polygon
from services.org.schemas import (
    CategoryCreate,
    CategoryUpdate,
    DepartmentCreate,
    DepartmentUpdate,
    GridImport,
    GridImportResult,
    MemberCreate,
    MemberUpdate,
    OrgUnitCreate,
    OrgUnitUpdate,
    TeamCreate,
    TeamUpdate,
    category_parent,
)
from shared.auth import Principal, require_city_admin
from shared.errors import AppError, InvalidInput, check_version, field_error
from shared.pagination import decode_cursor, next_cursor
from shared.views import Rows, RowWith

IMPORT_ERRORS_SHOWN = 50
RowT = TypeVar("RowT")


def child_level(level: str) -> str | None:
    index = LEVELS.index(level)
    return LEVELS[index + 1] if index + 1 < len(LEVELS) else None


# ---- org units -------------------------------------------------------------------------------


async def get_unit(session: AsyncSession, principal: Principal, code: str) -> OrgUnit:
    unit = await repo.unit_by_code(session, code)
    if unit is None or not principal.covers(unit.path):
        raise OrgUnitNotFound(f"No org unit with code {code!r}")
    return unit


async def in_scope(
    session: AsyncSession,
    principal: Principal,
    row: RowT | None,
    unit_id: Callable[[RowT], int],
    missing: AppError,
) -> tuple[RowT, OrgUnit]:
    """`row` with the org unit it belongs to (`unit_id(row)`); `missing` (a 404) when there is no row or the
    unit lies outside the principal's scope, so that out of scope looks like absent."""
    if row is not None:
        unit = (await repo.units_by_ids(session, {unit_id(row)}))[unit_id(row)]
        if principal.covers(unit.path):
            return row, unit
    raise missing


@dataclass(frozen=True, slots=True)
class UnitView(RowWith[OrgUnit]):
    """An org unit with its parent's code, and its polygon only when asked for (`OrgUnitOut`)."""

    parent_code: str | None
    geometry: dict[str, Any] | None


async def unit_view(session: AsyncSession, unit: OrgUnit, *, with_geometry: bool = True) -> UnitView:
    parent_code = None
    if unit.parent_id is not None:
        parent_code = (await repo.codes_of_units(session, {unit.parent_id}))[unit.parent_id]
    return UnitView(unit, parent_code, unit.geometry if with_geometry else None)


async def list_units(
    session: AsyncSession,
    principal: Principal,
    *,
    level: str | None,
    parent_code: str | None,
    q: str | None,
    cursor: str | None,
    limit: int,
    with_geometry: bool,
) -> Rows[UnitView]:
    parent_id = None
    if parent_code is not None:
        parent_id = (await get_unit(session, principal, parent_code)).id
    stmt = repo.list_units_query(principal.scope_path, level, parent_id, q, decode_cursor(cursor), limit)
    units = list(await session.scalars(stmt))
    parents = await repo.codes_of_units(session, {u.parent_id for u in units if u.parent_id is not None})
    items = [
        UnitView(u, parents.get(u.parent_id) if u.parent_id else None, u.geometry if with_geometry else None)
        for u in units
    ]
    return Rows(items, next_cursor([u.id for u in units], limit))


def _bounds(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    """A polygon's bounding box, or 422 saying what is wrong with the polygon."""
    try:
        return check_polygon(geometry).bounds
    except ValueError as exc:
        raise InvalidInput(str(exc), errors=[field_error("geometry", str(exc))]) from exc


async def create_unit(session: AsyncSession, principal: Principal, data: OrgUnitCreate) -> OrgUnit:
    if await repo.unit_by_code(session, data.code) is not None:
        raise DuplicateCode(
            f"An org unit with code {data.code!r} exists", errors=[field_error("code", "duplicate code")]
        )
    if data.parent_code is None:
        if data.level != "city" or principal.scope_path != "/":
            raise InvalidInput(
                "Only a city may have no parent", errors=[field_error("parent_code", "required below city level")]
            )
        if await session.scalar(select(OrgUnit.id).where(OrgUnit.parent_id.is_(None)).limit(1)) is not None:
            raise DuplicateCode("The city already exists", errors=[field_error("level", "one city per deployment")])
        path = f"/{data.code}/"
        parent_id = None
    else:
        parent = await get_unit(session, principal, data.parent_code)
        if child_level(parent.level) != data.level:
            raise InvalidInput(
                f"A {parent.level} takes children of level {child_level(parent.level)}",
                errors=[field_error("level", f"must be {child_level(parent.level)} under a {parent.level}")],
            )
        path = f"{parent.path}{data.code}/"
        parent_id = parent.id
    bounds: tuple[float | None, ...] = (None, None, None, None)
    geometry = data.geometry.model_dump() if data.geometry else None
    if data.level == "grid" and geometry is None:
        raise InvalidInput("A grid needs its polygon", errors=[field_error("geometry", "required for grids")])
    if geometry is not None:
        bounds = _bounds(geometry)
    unit = OrgUnit(
        code=data.code,
        name=data.name,
        name_en=data.name_en,
        level=data.level,
        parent_id=parent_id,
        path=path,
        geometry=geometry,
        min_lon=bounds[0],
        min_lat=bounds[1],
        max_lon=bounds[2],
        max_lat=bounds[3],
    )
    session.add(unit)
    await session.flush()
    repo.forget_cached()
    return unit


async def update_unit(
    session: AsyncSession, principal: Principal, code: str, data: OrgUnitUpdate, if_match: int | None
) -> OrgUnit:
    unit = await get_unit(session, principal, code)
    check_version(unit.version, data.version or if_match)
    if data.name is not None:
        unit.name = data.name
    if "name_en" in data.model_fields_set:
        unit.name_en = data.name_en
    if data.geometry is not None:
        geometry = data.geometry.model_dump()
        unit.min_lon, unit.min_lat, unit.max_lon, unit.max_lat = _bounds(geometry)
        unit.geometry = geometry
        repo.forget_cached()
    unit.version += 1
    await session.flush()
    await session.refresh(unit)
    return unit


async def delete_unit(session: AsyncSession, principal: Principal, code: str) -> None:
    unit = await get_unit(session, principal, code)
    if await repo.unit_is_referenced(session, unit.id):
        raise InUse(f"Org unit {code!r} still has children, teams, departments, rules or staff")
    await session.delete(unit)
    await session.flush()
    repo.forget_cached()


async def import_grids(session: AsyncSession, principal: Principal, data: GridImport) -> GridImportResult:
    """Create or replace grids from a FeatureCollection: all of it, or (on any error) none of it."""
    features = data.features
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        code = feature.properties.code
        if code in seen:
            errors.append(
                field_error(
                    ["features", index, "properties", "code"], f"feature {code!r}: duplicate of feature {seen[code]}"
                )
            )
        seen.setdefault(code, index)
    parents = await repo.units_by_codes(session, sorted({f.properties.parent_code for f in features}))
    existing = await repo.units_by_codes(session, list(seen))
    rows: list[dict[str, Any]] = []
    for index, feature in enumerate(features):
        props = feature.properties
        parent = parents.get(props.parent_code)
        if parent is None or not principal.covers(parent.path):
            errors.append(
                field_error(
                    ["features", index, "properties", "parent_code"],
                    f"feature {props.code!r}: unknown parent {props.parent_code!r}",
                )
            )
            continue
        if parent.level != "community":
            errors.append(
                field_error(
                    ["features", index, "properties", "parent_code"],
                    f"feature {props.code!r}: parent {props.parent_code!r} is a {parent.level}, not a community",
                )
            )
            continue
        current = existing.get(props.code)
        if current is not None and (current.level != "grid" or current.parent_id != parent.id):
            errors.append(
                field_error(
                    ["features", index, "properties", "code"],
                    f"feature {props.code!r}: code already used by another org unit",
                )
            )
            continue
        geometry = feature.geometry.model_dump()
        try:
            bounds = check_polygon(geometry).bounds
        except ValueError as exc:
            errors.append(field_error(["features", index, "geometry"], f"feature {props.code!r}: {exc}"))
            continue
        rows.append(
            {
                "code": props.code,
                "name": props.name,
                "name_en": props.name_en,
                "level": "grid",
                "parent_id": parent.id,
                "path": f"{parent.path}{props.code}/",
                "geometry": geometry,
                "min_lon": bounds[0],
                "min_lat": bounds[1],
                "max_lon": bounds[2],
                "max_lat": bounds[3],
            }
        )
    if errors:
        shown = errors[:IMPORT_ERRORS_SHOWN]
        more = f" ({len(errors) - len(shown)} more not shown)" if len(errors) > len(shown) else ""
        raise InvalidInput(
            f"{len(errors)} feature(s) rejected, nothing imported; first: {shown[0]['msg']}{more}", errors=shown
        )
    new_rows = [r for r in rows if r["code"] not in existing]
    changed_rows = [r for r in rows if r["code"] in existing]
    # Core bulk statements: 10,000 ORM objects would cost seconds for nothing.
    if new_rows:
        await session.execute(insert(OrgUnit), new_rows)
    for row in changed_rows:
        await session.execute(
            update(OrgUnit)
            .where(OrgUnit.code == row["code"])
            .values(
                name=row["name"],
                name_en=row["name_en"],
                geometry=row["geometry"],
                min_lon=row["min_lon"],
                min_lat=row["min_lat"],
                max_lon=row["max_lon"],
                max_lat=row["max_lat"],
                version=OrgUnit.version + 1,
            )
        )
    repo.forget_cached()
    return GridImportResult(created=len(new_rows), updated=len(changed_rows))


# ---- departments -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DepartmentView(RowWith[Department]):
    """A department with the code of the unit it serves (`DepartmentOut`)."""

    scope_code: str


async def get_department(session: AsyncSession, principal: Principal, code: str) -> tuple[Department, OrgUnit]:
    department = await repo.department_by_code(session, code)
    missing = DepartmentNotFound(f"No department with code {code!r}")
    return await in_scope(session, principal, department, lambda d: d.scope_unit_id, missing)


async def read_department(session: AsyncSession, principal: Principal, code: str) -> DepartmentView:
    department, scope = await get_department(session, principal, code)
    return DepartmentView(department, scope.code)


async def list_departments(session: AsyncSession, principal: Principal) -> list[DepartmentView]:
    rows = await session.execute(
        select(Department, OrgUnit)
        .join(OrgUnit, OrgUnit.id == Department.scope_unit_id)
        .where(OrgUnit.path.startswith(principal.scope_path, autoescape=True))
        .order_by(Department.code)
    )
    return [DepartmentView(d, u.code) for d, u in rows]


async def create_department(session: AsyncSession, principal: Principal, data: DepartmentCreate) -> DepartmentView:
    scope = await get_unit(session, principal, data.scope_code)
    if scope.level not in ("city", "district"):
        raise InvalidInput(
            "A department serves the city or a district",
            errors=[field_error("scope_code", "must be a city or district")],
        )
    if await repo.department_by_code(session, data.code) is not None:
        raise DuplicateCode(f"A department with code {data.code!r} exists", errors=[field_error("code", "duplicate")])
    department = Department(code=data.code, name=data.name, name_en=data.name_en, scope_unit_id=scope.id)
    session.add(department)
    await session.flush()
    return DepartmentView(department, scope.code)


async def update_department(
    session: AsyncSession, principal: Principal, code: str, data: DepartmentUpdate, if_match: int | None
) -> DepartmentView:
    department, scope = await get_department(session, principal, code)
    check_version(department.version, data.version or if_match)
    for field in ("name", "name_en", "active"):
        if field in data.model_fields_set and (getattr(data, field) is not None or field == "name_en"):
            setattr(department, field, getattr(data, field))
    department.version += 1
    await session.flush()
    return DepartmentView(department, scope.code)


# ---- teams and members -----------------------------------------------------------------------


async def _staff_by_username(session: AsyncSession, principal: Principal, username: str) -> StaffAccount:
    staff = await session.scalar(select(StaffAccount).where(StaffAccount.username == username))
    if staff is not None:
        path = (await repo.paths_of_units(session, {staff.scope_unit_id}))[staff.scope_unit_id]
        if principal.covers(path):
            return staff
    raise InvalidInput(f"No staff account {username!r}", errors=[field_error("username", "unknown staff account")])


@dataclass(frozen=True, slots=True)
class MemberView(RowWith[Member]):
    """A membership with the member's staff account, and its department's code for a department member."""

    staff: StaffAccount
    department_code: str | None = None


@dataclass(frozen=True, slots=True)
class TeamView(RowWith[Team]):
    """A grid team with its grid's code and its members (`TeamOut`)."""

    grid_code: str
    members: list[MemberView]


async def get_team(session: AsyncSession, principal: Principal, team_id: int) -> tuple[Team, OrgUnit]:
    team = await repo.team_by_id(session, team_id)
    return await in_scope(session, principal, team, lambda t: t.grid_unit_id, TeamNotFound(f"No team {team_id}"))


async def read_team(session: AsyncSession, principal: Principal, team_id: int) -> TeamView:
    return await _team_view(session, *await get_team(session, principal, team_id))


async def _team_view(session: AsyncSession, team: Team, grid: OrgUnit) -> TeamView:
    members = await repo.team_members(session, [team.id])
    return TeamView(team, grid.code, [MemberView(m, s) for m, s in members])


async def list_teams(
    session: AsyncSession, principal: Principal, *, under_code: str | None, cursor: str | None, limit: int
) -> Rows[TeamView]:
    scope_path = principal.scope_path
    if under_code is not None:
        scope_path = (await get_unit(session, principal, under_code)).path
    stmt = (
        select(Team, OrgUnit)
        .join(OrgUnit, OrgUnit.id == Team.grid_unit_id)
        .where(OrgUnit.path.startswith(scope_path, autoescape=True))
    )
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(Team.id > after)
    rows = list(await session.execute(stmt.order_by(Team.id).limit(limit)))
    members = await repo.team_members(session, [t.id for t, _ in rows])
    by_team: dict[int, list[MemberView]] = {}
    for m, s in members:
        by_team.setdefault(m.team_id or 0, []).append(MemberView(m, s))
    items = [TeamView(t, g.code, by_team.get(t.id, [])) for t, g in rows]
    return Rows(items, next_cursor([t.id for t, _ in rows], limit))


async def create_team(session: AsyncSession, principal: Principal, data: TeamCreate) -> TeamView:
    grid = await get_unit(session, principal, data.grid_code)
    if grid.level != "grid":
        raise InvalidInput("Teams belong to grids", errors=[field_error("grid_code", "must be a grid")])
    if await session.scalar(select(Team.id).where(Team.grid_unit_id == grid.id)) is not None:
        raise DuplicateCode(f"Grid {grid.code!r} already has a team", errors=[field_error("grid_code", "has a team")])
    team = Team(name=data.name, grid_unit_id=grid.id)
    session.add(team)
    await session.flush()
    return TeamView(team, grid.code, [])


async def update_team(
    session: AsyncSession, principal: Principal, team_id: int, data: TeamUpdate, if_match: int | None
) -> TeamView:
    team, grid = await get_team(session, principal, team_id)
    check_version(team.version, data.version or if_match)
    if data.name is not None:
        team.name = data.name
    team.version += 1
    await session.flush()
    return await _team_view(session, team, grid)


async def add_team_member(session: AsyncSession, principal: Principal, team_id: int, data: MemberCreate) -> MemberView:
    team, _ = await get_team(session, principal, team_id)
    if data.team_role == "department_staff":
        raise InvalidInput(
            "department_staff is a department role", errors=[field_error("team_role", "not a team role")]
        )
    staff = await _staff_by_username(session, principal, data.username)
    return await _add_member(session, staff, data, team_id=team.id)


async def add_department_member(
    session: AsyncSession, principal: Principal, code: str, data: MemberCreate
) -> MemberView:
    department, _ = await get_department(session, principal, code)
    if data.team_role not in ("department_staff", "specialist"):
        raise InvalidInput(
            "Department members are department_staff or specialist",
            errors=[field_error("team_role", "not a department role")],
        )
    staff = await _staff_by_username(session, principal, data.username)
    return await _add_member(session, staff, data, department_id=department.id, department_code=department.code)


async def _add_member(
    session: AsyncSession,
    staff: StaffAccount,
    data: MemberCreate,
    *,
    team_id: int | None = None,
    department_id: int | None = None,
    department_code: str | None = None,
) -> MemberView:
    home = Member.team_id == team_id if team_id is not None else Member.department_id == department_id
    if await session.scalar(select(Member.id).where(Member.staff_id == staff.id, home)) is not None:
        raise DuplicateCode(
            f"{staff.username!r} is already a member", errors=[field_error("username", "already a member")]
        )
    member = Member(
        staff_id=staff.id, team_id=team_id, department_id=department_id, team_role=data.team_role, on_duty=data.on_duty
    )
    session.add(member)
    await session.flush()
    return MemberView(member, staff, department_code)


async def _get_member(
    session: AsyncSession, principal: Principal, member_id: int
) -> tuple[Member, StaffAccount, str | None]:
    found = await repo.member_with_staff(session, member_id)
    if found is not None:
        member, staff = found
        if member.team_id is not None:
            team = await repo.team_by_id(session, member.team_id)
            unit_id = team.grid_unit_id if team else None
            department_code = None
        else:
            department = await session.get(Department, member.department_id)
            unit_id = department.scope_unit_id if department else None
            department_code = department.code if department else None
        if unit_id is not None and principal.covers((await repo.paths_of_units(session, {unit_id}))[unit_id]):
            return member, staff, department_code
    raise MemberNotFound(f"No member {member_id}")


async def update_member(
    session: AsyncSession, principal: Principal, member_id: int, data: MemberUpdate, if_match: int | None
) -> MemberView:
    member, staff, department_code = await _get_member(session, principal, member_id)
    check_version(member.version, data.version or if_match)
    if data.team_role is not None:
        if (data.team_role == "department_staff") != (
            member.department_id is not None
        ) and data.team_role != "specialist":
            raise InvalidInput(
                "That role does not fit this membership", errors=[field_error("team_role", "wrong kind")]
            )
        member.team_role = data.team_role
    if data.on_duty is not None:
        member.on_duty = data.on_duty
    member.version += 1
    await session.flush()
    return MemberView(member, staff, department_code)


async def remove_member(session: AsyncSession, principal: Principal, member_id: int) -> None:
    member, _, _ = await _get_member(session, principal, member_id)
    await session.delete(member)
    await session.flush()


async def list_department_members(session: AsyncSession, principal: Principal, code: str) -> list[MemberView]:
    department, _ = await get_department(session, principal, code)
    return [MemberView(m, s, department.code) for m, s in await repo.department_members(session, department.id)]


# ---- categories ------------------------------------------------------------------------------


async def list_categories(session: AsyncSession, *, include_inactive: bool = False) -> list[Category]:
    stmt = select(Category).order_by(Category.code)
    if not include_inactive:
        stmt = stmt.where(Category.active.is_(True))
    return list(await session.scalars(stmt))


async def get_category(session: AsyncSession, code: str) -> Category:
    category = await repo.category_by_code(session, code)
    if category is None:
        raise CategoryNotFound(f"No category {code!r}")
    return category


CATEGORY_AUDIT_FIELDS = (
    "code",
    "name",
    "name_en",
    "description",
    "default_priority",
    "key_group",
    "active",
    "attributes",
    "version",
)


async def create_category(session: AsyncSession, principal: Principal, data: CategoryCreate) -> Category:
    require_city_admin(principal)
    if await repo.category_by_code(session, data.code) is not None:
        raise DuplicateCode(f"Category {data.code!r} exists", errors=[field_error("code", "duplicate")])
    parent = category_parent(data.code)
    if parent is not None and await repo.category_by_code(session, parent) is None:
        raise InvalidInput(
            f"Create the parent category {parent!r} first", errors=[field_error("code", f"unknown parent {parent!r}")]
        )
    category = Category(
        code=data.code,
        parent_code=parent,
        name=data.name,
        name_en=data.name_en,
        description=data.description,
        default_priority=data.default_priority,
        key_group=data.key_group,
        attributes=[a.model_dump() for a in data.attributes],
    )
    session.add(category)
    await session.flush()
    after = audit.snapshot(category, CATEGORY_AUDIT_FIELDS)
    await audit.record(session, principal, "category.created", "category", category.code, after=after)
    repo.forget_cached()
    return category


async def update_category(
    session: AsyncSession, principal: Principal, code: str, data: CategoryUpdate, if_match: int | None
) -> Category:
    require_city_admin(principal)
    category = await get_category(session, code)
    check_version(category.version, data.version or if_match)
    before = audit.snapshot(category, CATEGORY_AUDIT_FIELDS)
    for field in ("name", "default_priority", "key_group", "active"):
        value = getattr(data, field)
        if value is not None:
            setattr(category, field, value)
    for field in ("name_en", "description"):
        if field in data.model_fields_set:
            setattr(category, field, getattr(data, field))
    if data.attributes is not None:
        category.attributes = [a.model_dump() for a in data.attributes]
    category.version += 1
    await session.flush()
    await session.refresh(category)
    changed = audit.changes(before, audit.snapshot(category, CATEGORY_AUDIT_FIELDS))
    await audit.record(session, principal, "category.updated", "category", category.code, **changed)
    repo.forget_cached()
    return category
